"""Karma's virtual positions in columns: a book's open positions as numpy arrays, one row each.

A position opens at its cycle's close ``entry``; its stop and target are ``stop_pct`` and ``target_pct`` away,
rounded to 8 decimals as a trade's levels are. ``levels`` computes them for many positions at once and gives the
floats Python's ``round(x, 8)`` gives, bit for bit (``round_like_python``). Symbols and sources are numbers in the
columns (``Names``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Positions:
    """Virtual positions, in opening order."""

    symbol: IntArray  # the book's number for its symbol
    source: IntArray  # and for its source
    long: BoolArray
    conviction: IntArray
    opened: IntArray  # the as-of time of its cycle: bars that close after it are checked
    entry: FloatArray
    stop: FloatArray
    target: FloatArray
    p: list[float | None]  # the calibrated win probability in force when it opened

    def __len__(self) -> int:
        return len(self.opened)

    @staticmethod
    def none() -> Positions:
        """No positions."""
        whole, number = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return Positions(whole, whole, np.zeros(0, dtype=np.bool_), whole, whole, number, number, number, [])

    def take(self, rows: IntArray) -> Positions:
        """The positions at ``rows``, in that order."""
        return Positions(
            self.symbol[rows],
            self.source[rows],
            self.long[rows],
            self.conviction[rows],
            self.opened[rows],
            self.entry[rows],
            self.stop[rows],
            self.target[rows],
            [self.p[row] for row in rows.tolist()],
        )

    @staticmethod
    def join(parts: Sequence[Positions]) -> Positions:
        """The positions of ``parts``, one after the other."""
        return Positions(
            np.concatenate([part.symbol for part in parts]),
            np.concatenate([part.source for part in parts]),
            np.concatenate([part.long for part in parts]),
            np.concatenate([part.conviction for part in parts]),
            np.concatenate([part.opened for part in parts]),
            np.concatenate([part.entry for part in parts]),
            np.concatenate([part.stop for part in parts]),
            np.concatenate([part.target for part in parts]),
            [p for part in parts for p in part.p],
        )


def levels(entry: FloatArray, long: BoolArray, stop_pct: float, target_pct: float) -> tuple[FloatArray, FloatArray]:
    """Each position's stop and target: ``round(entry × (1 − sign × stop_pct / 100), 8)`` and ``round(entry ×
    (1 + sign × target_pct / 100), 8)``, sign +1 for a long and −1 for a short, in the same float operations."""
    sign = np.where(long, 1, -1)
    both = round_like_python(
        np.concatenate([entry * (1 - sign * stop_pct / 100), entry * (1 + sign * target_pct / 100)]), 8
    )
    return both[: len(entry)], both[len(entry) :]


def round_like_python(values: FloatArray, digits: int) -> FloatArray:
    """``round(x, digits)`` for each ``x``: the same floats, bit for bit.

    Python rounds the exact binary value of ``x`` to ``digits`` decimals (half to even) and returns the float
    nearest that decimal. ``rint(x × 10**digits) ÷ 10**digits`` does the same, except that ``x × 10**digits`` is
    itself rounded: when it lies within two units in the last place of a halfway point (or is too large for a
    whole number to be exact), the exact value may lie on the other side. Those few go through ``round`` itself.
    """
    scale = 10.0**digits
    scaled = values * scale
    whole = np.rint(scaled)
    result = whole / scale  # correctly rounded, as Python's conversion of the decimal is
    near_half = np.abs(np.abs(scaled - whole) - 0.5) <= 2 * np.spacing(np.abs(scaled))
    doubtful = np.flatnonzero(near_half | ~(np.abs(scaled) < 2.0**52) | (whole == 0))
    if len(doubtful):
        result[doubtful] = [round(value, digits) for value in values[doubtful].tolist()]
    return result


class Names:
    """Names, numbered in the order first seen; ``ranks``: each number's place among them in name order."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.numbers: dict[str, int] = {}
        self.ranks = np.zeros(0, dtype=np.int64)

    def number(self, names: Sequence[str]) -> IntArray:
        """The number of each of ``names``, numbering those not seen before."""
        if unseen := set(names).difference(self.numbers):
            for name in sorted(unseen):
                self.numbers[name] = len(self.names)
                self.names.append(name)
            self.ranks = np.zeros(len(self.names), dtype=np.int64)
            self.ranks[sorted(range(len(self.names)), key=self.names.__getitem__)] = np.arange(len(self.names))
        return np.fromiter(map(self.numbers.__getitem__, names), dtype=np.int64, count=len(names))
