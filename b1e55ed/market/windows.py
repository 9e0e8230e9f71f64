"""Windows stacked as rows: one symbol's windows over many consecutive cycles as one 2-D array per column.

A replay hands a plug-in a batch of cycles; stacked, an indicator runs once over the whole batch instead of once
per cycle. Row ``i`` is a copy of window ``i``, so the row functions of ``indicators`` see the same numbers, in
the same order, as the per-window functions do, and give the same bits. Windows of unequal length (early in a
history, where each cycle adds a bar) do not stack: the caller then goes window by window.

Windows of one length over one series (``one_series``: a replay's consecutive cycles) need no stacking at all: a
quantity of one bar (a true range) is computed once for the series, then read for every window. A batch's windows
made together (``batch.Windows``) say where they lie without being looked at one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeVar

import numpy as np
import numpy.typing as npt

from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.market.batch import Windows

_Scalar = TypeVar("_Scalar", bound=np.generic)


def stack(columns: Sequence[npt.NDArray[_Scalar]], last: int | None = None) -> npt.NDArray[_Scalar] | None:
    """Row ``i`` is ``columns[i]``, or its last ``last`` values: one C-contiguous (B, L) copy.

    None when there are no columns, when they differ in length (``last`` None), or when one is shorter than
    ``last``: the windows do not line up, and the caller computes them one by one.
    """
    if not columns:
        return None
    if last is None:
        length = len(columns[0])
        if any(len(column) != length for column in columns):
            return None
        return rows(columns)
    if last < 1 or any(len(column) < last for column in columns):
        return None
    return rows([column[-last:] for column in columns])


def rows(columns: Sequence[npt.NDArray[_Scalar]]) -> npt.NDArray[_Scalar]:
    """Columns of one length as the rows of a C-contiguous copy: ``np.stack``'s answer, made in one
    ``np.concatenate`` (``np.stack`` makes a view of each column first: 12× slower for 512 windows of 500 bars)."""
    stacked: npt.NDArray[_Scalar] = np.concatenate(columns).reshape(len(columns), -1)
    return stacked


class Series(NamedTuple):
    """Windows over one series: its read-only columns, each window's first row in them, and their one length."""

    columns: BarArrays
    starts: npt.NDArray[np.int64]
    length: int


def one_series(windows: Sequence[BarsView]) -> Series | None:
    """The series every window reads, when they all read one with one length; None otherwise."""
    if not windows:
        return None
    if isinstance(windows, Windows):  # a batch's, made together: its rows are numbers already
        lengths = windows.stops - windows.starts
        length = int(lengths[0])
        return Series(windows.columns, windows.starts, length) if bool((lengths == length).all()) else None
    columns, _, _ = windows[0].span
    length = len(windows[0])
    starts = []
    for bars in windows:
        source, start, stop = bars.span
        if source is not columns or stop - start != length:
            return None
        starts.append(start)
    return Series(columns, np.array(starts, dtype=np.int64), length)
