"""Fixtures shared by every test folder."""

from __future__ import annotations

import logging
from collections.abc import Iterator
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


@pytest.fixture(autouse=True)
def root_logger_restored() -> Iterator[None]:
    """``cli.main`` and ``logsetup.configure`` set up logging for a whole process: a test that calls them in-process
    gives pytest its root logger back, so no later line goes to a stream that test's capture has closed."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
