"""Row checks before anything reaches disk: a bad row is dropped and counted by reason, the collection goes on.

The reasons match ``b1e55ed.market.replay`` (which checks the same files again when it loads them), so a reject
reads the same wherever it is found. Each row is counted once, under the first check it fails, in the order given.
Time must move forward: a row at or before the previous good row (or the last stored one) is a duplicate or out of
order. Exchanges do not send such rows on purpose; when they do, storing them would break every consumer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

Columns = Mapping[str, npt.NDArray[Any]]
Check = tuple[str, Callable[[Columns], npt.NDArray[np.bool_]]]  # (reason, true on the rows that fail)
EXAMPLES_KEPT: Final = 5


def _not_finite(*names: str) -> Callable[[Columns], npt.NDArray[np.bool_]]:
    return lambda c: ~np.logical_and.reduce([np.isfinite(c[name]) for name in names])


def _non_positive(*names: str) -> Callable[[Columns], npt.NDArray[np.bool_]]:
    return lambda c: np.logical_or.reduce([c[name] <= 0 for name in names])


def _blank(c: Columns) -> npt.NDArray[np.bool_]:
    return np.array([not isinstance(text, str) or not text.strip() for text in c["classification"]], dtype=np.bool_)


PRICES: Final = ("open", "high", "low", "close")
CANDLE_CHECKS: Final[Sequence[Check]] = (
    ("NaN or infinite price", _not_finite(*PRICES)),
    ("non-positive price", _non_positive(*PRICES)),
    ("NaN or negative volume", lambda c: ~(c["volume"] >= 0)),
    ("high below low", lambda c: c["high"] < c["low"]),
    (
        "open or close outside [low, high]",
        lambda c: (c["open"] < c["low"]) | (c["open"] > c["high"]) | (c["close"] < c["low"]) | (c["close"] > c["high"]),
    ),
)
RATE_CHECKS: Final[Sequence[Check]] = (
    ("NaN or infinite rate", _not_finite("rate")),
    # no venue allows 100% per interval: such a row is garbage, not an extreme (as b1e55ed.market.funding reads it)
    ("rate beyond ±100%", lambda c: np.abs(c["rate"]) > 1.0),
)
BASIS_CHECKS: Final[Sequence[Check]] = (
    ("NaN or infinite price", _not_finite("spot", "perp")),
    ("non-positive price", _non_positive("spot", "perp")),
)
METADATA_CHECKS: Final[Sequence[Check]] = (
    ("NaN or infinite value", _not_finite("open_interest", "day_notional_volume", "mark_price", "funding")),
    ("non-positive mark price", _non_positive("mark_price")),
    ("negative open interest or volume", lambda c: (c["open_interest"] < 0) | (c["day_notional_volume"] < 0)),
    ("bad size decimals or leverage", lambda c: (c["sz_decimals"] < 0) | (c["max_leverage"] < 1)),
)
FEAR_GREED_CHECKS: Final[Sequence[Check]] = (
    ("value outside 0..100", lambda c: ~((c["value"] >= 0) & (c["value"] <= 100))),
    ("missing classification", _blank),
)


@dataclass
class Rejects:
    """Rows dropped, per reason, with the first few as examples (``ts`` and reason) for the report."""

    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, reason: str, count: int, example: str | None = None) -> None:
        if count <= 0:
            return
        self.counts[reason] += count
        if example is not None and len(self.examples) < EXAMPLES_KEPT:
            self.examples.append(f"{example}: {reason}")

    def summary(self) -> str:
        """``3 high below low, 1 NaN or infinite price``: the reasons by count, most frequent first."""
        return ", ".join(f"{count} {reason}" for reason, count in self.counts.most_common())


def check_rows(
    frame: pl.DataFrame,
    checks: Sequence[Check],
    rejects: Rejects,
    *,
    after_ts: int | None = None,
    before_ts: int | None = None,
    key: str | None = "ts",
) -> pl.DataFrame:
    """The rows of ``frame`` that pass every check and whose ``key`` rises strictly, above ``after_ts`` and below
    ``before_ts``; the rest are counted in ``rejects``. The frame's own order is kept (it is the order sent).
    ``key=None`` checks the values only (a snapshot has no time order)."""
    if frame.is_empty():
        return frame
    labels = frame[key].to_numpy() if key is not None else np.arange(frame.height)
    bad = np.zeros(frame.height, dtype=np.bool_)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    with np.errstate(invalid="ignore"):  # comparisons with NaN are False, which is what the checks expect
        for reason, fails in checks:
            newly = fails(columns) & ~bad
            _count(rejects, reason, labels, newly, key or "row")
            bad |= newly
    if key is not None:
        _check_order(labels, bad, rejects, after_ts, before_ts)
    return frame if not bad.any() else frame.filter(pl.Series(~bad))


def _check_order(
    keys: npt.NDArray[np.int64],
    bad: npt.NDArray[np.bool_],
    rejects: Rejects,
    after_ts: int | None,
    before_ts: int | None,
) -> None:
    """Marks in ``bad`` (in place) the rows that do not move time forward, counting them."""
    if before_ts is not None:
        late = (keys >= before_ts) & ~bad
        _count(rejects, "timestamp out of order", keys, late)
        bad |= late
    good = np.flatnonzero(~bad)
    ordered = keys[good]
    start = np.iinfo(np.int64).min if after_ts is None else after_ts
    previous = np.maximum.accumulate(np.concatenate(([start], ordered[:-1])))
    _count(rejects, "duplicate timestamp", keys, _mask(len(keys), good[ordered == previous]))
    _count(rejects, "timestamp out of order", keys, _mask(len(keys), good[ordered < previous]))
    bad[good[ordered <= previous]] = True


def _mask(size: int, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    mask = np.zeros(size, dtype=np.bool_)
    mask[rows] = True
    return mask


def _count(
    rejects: Rejects, reason: str, keys: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_], name: str = "ts"
) -> None:
    count = int(mask.sum())
    if count:
        rejects.add(reason, count, f"{name} {keys[np.argmax(mask)]}")
