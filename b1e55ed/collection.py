"""Python's garbage collector during a run.

A full collection walks every tracked object, and after start-up those are mostly modules, classes and functions
(about 100,000 here, 40 ms a walk) that will never be garbage. Measured on the BTC 2023–2024 replay: 19 full
collections took 1.4 s of a 9.6 s run. So a run freezes what start-up made (``gc.freeze``: never walked again)
and, when history drives it, collects the young generation far less often: a batch of cycles makes many objects
that live until the batch is settled, and each young collection walked them all again (100,000 allocations between
collections instead of 5,000: about a tenth less main-thread CPU on the BTC/ETH/SOL 2023–2024 replay). Both are
undone when the run ends, so a process that runs several (the tests) keeps collecting what one run left behind.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

HISTORY_THRESHOLDS = (100_000, 20, 10)  # CPython's defaults are (700, 10, 10)


@contextmanager
def collecting_for_run(*, driven: bool) -> Iterator[None]:
    previous = gc.get_threshold()
    gc.freeze()
    if driven:
        gc.set_threshold(*HISTORY_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()
