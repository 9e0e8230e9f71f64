"""What every benchmark shares: one JSON object per line on stdout, human notes on stderr, and the figure format.

A figure is the median of several runs of ours beside the median of a baseline measured in the same run, with
``ratio = ours / baseline``. Scripts import this as ``common`` (they run as ``python bench/<name>.py``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from typing import Any


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def note(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def rounded(values: list[float]) -> list[float]:
    return [round(v, 3) for v in values]


def percentile(values: list[float], p: int) -> float:
    """The ``p``-th percentile (1..99) of ``values``, interpolated as ``statistics.quantiles`` does."""
    return statistics.quantiles(values, n=100)[p - 1]


def ratio(value: float) -> float:
    """Three decimals; three significant digits below 0.01, where a pipeline runs at a thousandth of its baseline."""
    return round(value, 3) if abs(value) >= 0.01 else float(f"{value:.3g}")


def load_average() -> float:
    """The 1-minute load average, beside figures taken on a machine that may be busy with other work."""
    return round(os.getloadavg()[0], 2)


def figure(bench: str, name: str, unit: str, ours: list[float], raw: list[float], baseline: str, **extra: Any) -> None:
    """One JSON line. ``name`` is ``metric/variant``; a ``target`` (``at_most`` for latencies) adds ``meets_target``."""
    metric, variant = name.split("/", 1)
    mine, theirs = statistics.median(ours), statistics.median(raw)
    target, at_most = extra.pop("target", None), extra.pop("at_most", False)
    judged = {} if target is None else {"target": target, "meets_target": mine <= target if at_most else mine >= target}
    emit(bench=bench, metric=metric, variant=variant, unit=unit, median=round(mine, 3), runs=rounded(ours),
         baseline=baseline, baseline_median=round(theirs, 3), baseline_runs=rounded(raw),
         ratio=ratio(mine / theirs), **judged, **extra)  # fmt: skip
