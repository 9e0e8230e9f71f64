"""docs/api-reference.md is what ``python -m b1e55ed.apidocs`` makes today: the OpenAPI document's every operation
with the answers of a real server over the seeded simulation's log. A route, parameter or answer that changed
without the file fails here."""

from __future__ import annotations

import difflib

import pytest

from b1e55ed.apidocs.record import build_reference
from tests.integration.loop_helpers import ROOT

# The example of /stream stops reading an endless stream: httpx's and the server's generators are left suspended,
# and trio's finalizer warns about each, as in test_sse.py. The server's own ``_events`` stays checked.
pytestmark = pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <async_generator object (?!_events):pytest.PytestUnraisableExceptionWarning"
)

REFERENCE = ROOT / "docs" / "api-reference.md"


def test_the_api_reference_is_up_to_date() -> None:
    made = build_reference()
    kept = REFERENCE.read_text(encoding="utf-8")
    if made != kept:
        diff = "".join(list(difflib.unified_diff(kept.splitlines(True), made.splitlines(True), "kept", "made"))[:60])
        raise AssertionError(f"{REFERENCE} is out of date: run `python -m b1e55ed.apidocs`\n{diff}")
