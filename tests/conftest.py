"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
"""Real market data beside the repository (``../shared/data``); a user's clone does not have it."""


@pytest.fixture
def shared_data() -> Path:
    """The ``../shared/data`` folder; the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not available at {SHARED_DATA}")
    return SHARED_DATA
