"""A sweep's chunks as Ray tasks: ``--ray`` starts a local Ray, ``--ray ADDRESS`` joins a cluster
(``ray://host:10001``, or ``auto`` for the cluster this machine is part of).

The candles and the moving averages go into the object store once (``Sweep.shared``); each chunk of combinations is
a task that rebuilds the sweep from them and returns its rows, so the result is the local run's, row for row. Each
task runs numba with one thread: Ray spreads the tasks over the cores. Ray is an optional extra
(``pip install -e '.[cluster]'``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from b1e55ed.sweep.run import CHUNK, Floats, Shared, Span, Sweep


def run_on_ray(
    sweep: Sweep,
    combos: Sequence[Any],
    address: str | None,
    *,
    blocks: int,
    span: Span = None,
    progress: Callable[[int], None] = lambda done: None,
    chunk: int = CHUNK,
) -> Floats:
    """Every combination's rows, as ``Sweep.run`` gives them, computed by Ray tasks of ``chunk`` combinations."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        shared = ray.put(sweep.shared(combos))
        task = ray.remote(_chunk)
        pending = {
            task.remote(shared, list(combos[start : start + chunk]), blocks, span): start
            for start in range(0, len(combos), chunk)
        }
        out: Floats | None = None
        done = 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            start = pending.pop(ready[0])
            rows = ray.get(ready[0])
            if out is None:
                out = np.empty((len(combos), rows.shape[1]))
            out[start : start + len(rows)] = rows
            done += len(rows)
            progress(done)
        return out if out is not None else np.empty((0, 0))
    finally:
        if started:
            ray.shutdown()


def _chunk(shared: Shared, combos: list[Any], blocks: int, span: Span) -> Floats:
    import numba

    numba.set_num_threads(1)
    return Sweep.of(shared).run(combos, blocks=blocks, span=span)
