"""Collected series read as of a moment, without looking ahead: what a cycle's context may know at ``as_of``.

``basis_premium(data_dir)`` is a context source (``actors.enricher.ContextSource``: symbol and time in, a number
or None out): the premium of the latest basis row with ``ts <= at_ms`` (rows are stamped at the hour's close, when
both prices are known). None means unknown: no file for the symbol, nothing that early, or a value older than
``max_age_ms`` (the collection stopped; an old premium is not today's). Each symbol's file is read once, on first
use, and looked up by binary search.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import polars as pl

from b1e55ed.market.replay import DataError

from .layout import load_basis

logger = logging.getLogger(__name__)

HOUR_MS: Final = 3_600_000


class AsOf:
    """``source(symbol, at_ms)``: ``column``'s latest value at or before ``at_ms``, or None (see the module)."""

    def __init__(self, load: Callable[[str], pl.DataFrame], column: str, *, max_age_ms: int) -> None:
        self._load = load
        self._column = column
        self.max_age_ms = max_age_ms
        self._series: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None] = {}

    def __call__(self, symbol: str, at_ms: int) -> float | None:
        series = self._series.get(symbol) if symbol in self._series else self._read(symbol)
        if series is None:
            return None
        ts, values = series
        index = int(np.searchsorted(ts, at_ms, side="right")) - 1
        if index < 0 or at_ms - int(ts[index]) > self.max_age_ms:
            return None
        return float(values[index])

    def _read(self, symbol: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
        try:
            frame = self._load(symbol).sort("ts")
        except DataError as exc:
            logger.warning("%s: %s unknown: %s", symbol, self._column, exc)
            self._series[symbol] = None
            return None
        series = (frame["ts"].to_numpy().astype(np.int64), frame[self._column].to_numpy().astype(np.float64))
        self._series[symbol] = series
        return series


def basis_premium(data_dir: str | Path, *, max_age_ms: int = 2 * HOUR_MS) -> AsOf:
    """The perpetual's premium over spot (perp / spot - 1) per symbol, as of a time, from ``basis/<SYMBOL>``."""
    return AsOf(lambda symbol: load_basis(data_dir, symbol), "premium", max_age_ms=max_age_ms)
