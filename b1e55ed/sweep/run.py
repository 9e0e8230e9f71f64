"""A sweep of one strategy over one symbol's history: the shared work once, every combination compiled, in chunks.

Shared work: each indicator once (for MA crossover each moving-average length, ``sma_pair`` and ``window_mean``; for
RSI oversold each RSI period, ``oversold.window_rsi``; for momentum its producer's signals, computed by the
caller); each signal row once, shared by the combinations whose entry params agree (``signal_key``); each stop
and target distance's levels once, rounded in Python exactly as the strategy rounds a trade's (``round(close ×
(1 ∓ pct ÷ 100), 8)``); each combination's sizes by conviction, by the strategy's own rule with no calibration
(karma's sizing is left out: it depends on the signals' history, not on the params). Then the combinations run
``CHUNK`` at a time (``sweep_chunk``, in parallel over numba's threads), so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from b1e55ed.karma.calibration import Calibration
from b1e55ed.market.bars import BarArrays
from b1e55ed.sweep.engine import (
    METRICS,
    TRADE_COLUMNS,
    account,
    crossings,
    daily_returns,
    simulate,
    sma_pair,
    sweep_chunk,
    window_mean,
)
from b1e55ed.sweep.momentum import confirmed, volume_ratios
from b1e55ed.sweep.oversold import oversold_signals, window_rsi
from b1e55ed.venues.paper import PaperConfig

CHUNK = 4096
MA_CROSSOVER = "actors.strategies.ma_crossover:MACrossoverStrategy"
RSI_OVERSOLD = "actors.strategies.rsi_oversold:RSIOversoldStrategy"
MOMENTUM = "actors.strategies.momentum:MomentumStrategy"
MODELS = (MA_CROSSOVER, RSI_OVERSOLD, MOMENTUM)
DAY_MS = 86_400_000
Floats = npt.NDArray[np.float64]


class _Driver(NamedTuple):
    """What the strategy's sizing rule reads of a driver (``actors/strategies/sizing.Driver``): the kernel never
    imports ``actors``; the params' class comes from the config."""

    source: str
    conviction: int
    rule: bool = True


@dataclass(frozen=True)
class Candles:
    """One symbol's bars as the engine reads them: open, high, low, close, volume rows, and each bar's close time."""

    rows: Floats
    close_ts: npt.NDArray[np.int64]

    @classmethod
    def of(cls, bars: BarArrays, timeframe_ms: int) -> Candles:
        rows = np.ascontiguousarray(np.vstack([bars.open, bars.high, bars.low, bars.close, bars.volume]))
        return cls(rows, np.asarray(bars.ts, np.int64) + timeframe_ms)

    @property
    def close(self) -> Floats:
        return np.ascontiguousarray(self.rows[3])

    def day_last(self) -> npt.NDArray[np.int64]:
        """Each UTC day's last bar, from the first bar's day to the last's (a day with no bar keeps the one before),
        the day of a bar being that of its close (``backtest/metrics.daily_equity``)."""
        day_of = (self.close_ts - 1) // DAY_MS
        days = np.arange(day_of[0], day_of[-1] + 1, dtype=np.int64)
        return np.asarray(np.searchsorted(day_of, days, side="right") - 1, np.int64)


def costs(paper: PaperConfig, minimum_notional: float) -> Floats:
    slip = paper.slippage
    return np.array(
        [paper.fees.taker, slip.base_bps, slip.volatility_coef, slip.impact_coef, slip.max_fraction, minimum_notional]
    )


def sizes_of(params: Any, name: str) -> Floats:
    """The strategy's own sizing of its rule at each conviction (index 1 to 10; 0 unused), uncalibrated:
    ``base_size × conviction ÷ reference``, capped."""
    sizes = [0.0] + [params.size([_Driver(name, c)], Calibration()).size for c in range(1, 11)]
    return np.array(sizes)


def levels(close: Floats, pct: float, sign_of_level: int) -> Floats:
    """A level ``pct`` percent away at every bar for a long (row 0) and a short (row 1), as the strategy's
    ``SizingRule.trade`` rounds it; ``sign_of_level`` is −1 for a stop (below a long's entry), +1 for a target."""
    entries = close.tolist()
    return np.array(
        [[round(entry * (1 + sign_of_level * sign * pct / 100), 8) for entry in entries] for sign in (1, -1)]
    )


class Sweep:
    """The shared work of one symbol's history, and every combination's metrics on demand."""

    def __init__(
        self,
        candles: Candles,
        paper: PaperConfig,
        minimum_notional: float,
        name: str,
        *,
        model: str = MA_CROSSOVER,
        window: int = 500,
        producer: Any = None,
    ) -> None:
        """``model``: the strategy's class (``MODELS``); ``window``: ``brain.window_bars``, the bars the strategy sees
        (RSI oversold reads its RSI over the whole window); ``producer``: for momentum, its producer's signal at each
        bar (``momentum.producer_signals``)."""
        if model not in MODELS:
            raise ValueError(f"no sweep model for {model}; there is one for {', '.join(MODELS)}")
        if model == MOMENTUM and producer is None:
            raise ValueError("momentum's sweep needs its producer's signals")
        self.candles = candles
        self.paper, self.minimum_notional = paper, minimum_notional
        self.costs = costs(paper, minimum_notional)
        self.start_equity = paper.starting_equity
        self.name, self.model, self.window, self.producer = name, model, window, producer
        self._averages: dict[int, tuple[Floats, Floats]] = {}
        self._trends: dict[int, Floats] = {}
        self._rsi: dict[int, Floats] = {}
        self._levels: dict[tuple[float, int], Floats] = {}

    def shared(self, combos: Sequence[Any]) -> Shared:
        """The work every chunk of ``combos`` shares, computed once: what a Ray task receives with the candles."""
        for p in combos:
            if self.model == MA_CROSSOVER:
                self._pair(p.fast)
                self._pair(p.slow)
                if p.trend:
                    self._trend(p.trend)
            elif self.model == RSI_OVERSOLD:
                self._rsi_of(p.rsi_period)
        parts = (self._averages, self._trends, self._rsi, self.producer)
        return Shared(self.candles, self.paper, self.minimum_notional, self.name, self.model, self.window, *parts)

    @classmethod
    def of(cls, shared: Shared) -> Sweep:
        sweep = cls(
            shared.candles,
            shared.paper,
            shared.minimum_notional,
            shared.name,
            model=shared.model,
            window=shared.window,
            producer=shared.producer,
        )
        sweep._averages, sweep._trends, sweep._rsi = dict(shared.averages), dict(shared.trends), dict(shared.rsi)
        return sweep

    def signal_key(self, params: Any) -> tuple[Any, ...]:
        """What a combination's signals depend on: combinations that share it share one row of signals."""
        if self.model == MA_CROSSOVER:
            return (params.fast, params.slow, params.trend, params.directions, params.conviction)
        if self.model == MOMENTUM:
            return (params.volume_bars, params.baseline_bars, params.min_volume_ratio)
        p = params
        return (p.rsi_period, p.oversold, p.swing_bars, p.swing_count, p.support_bars, p.near_pct)

    def signals(self, params: Any) -> npt.NDArray[np.int8]:
        """The decision at each bar's close: its sign the direction, its size the conviction (0: none)."""
        if self.model == RSI_OVERSOLD:
            return oversold_signals(self.candles, self._rsi_of(params.rsi_period), params, self.window)
        if self.model == MOMENTUM:
            if params.volume_bars + params.baseline_bars > self.window:  # the strategy's window is too short
                return np.zeros(len(self.candles.close), np.int8)
            volume = np.ascontiguousarray(self.candles.rows[4])
            ratios = volume_ratios(volume, params.volume_bars, params.baseline_bars)
            return confirmed(self.producer, ratios, params.min_volume_ratio)  # type: ignore[no-any-return]
        close = self.candles.close
        fast, slow = self._pair(params.fast), self._pair(params.slow)
        trend = self._trend(params.trend) if params.trend else np.full(len(close), np.nan)
        start = max(params.slow, params.trend)
        longs, shorts = "long" in params.directions, "short" in params.directions
        return crossings(fast[0], fast[1], slow[0], slow[1], trend, close, start, longs, shorts, params.conviction)  # type: ignore[no-any-return]

    def _rsi_of(self, period: int) -> Floats:
        if period not in self._rsi:
            self._rsi[period] = window_rsi(self.candles.close, period, self.window)
        return self._rsi[period]

    def _pair(self, n: int) -> tuple[Floats, Floats]:
        if n not in self._averages:
            self._averages[n] = sma_pair(self.candles.close, n)
        return self._averages[n]

    def _trend(self, n: int) -> Floats:
        if n not in self._trends:
            self._trends[n] = window_mean(self.candles.close, n)
        return self._trends[n]

    def _level(self, pct: float, sign_of_level: int) -> Floats:
        """A stop (``sign_of_level`` −1) or target (+1) ``pct`` away at every bar, for a long and a short."""
        key = (pct, sign_of_level)
        if key not in self._levels:
            self._levels[key] = levels(self.candles.close, pct, sign_of_level)
        return self._levels[key]

    def trades(self, params: Any, span: Span = None) -> Floats:
        """One combination's trade rows (``engine`` columns), trading only in ``span`` (bars ``[first, last)``; None:
        all) with the moving averages of the whole history: what the parity test compares with a backtest."""
        cut = _cut(span)
        signals = np.ascontiguousarray(self.signals(params)[cut])
        stops, targets = self._level(params.stop_pct, -1)[:, cut], self._level(params.target_pct, 1)[:, cut]
        rows = np.empty((int(np.count_nonzero(signals)) + 1, TRADE_COLUMNS))
        count = simulate(signals, np.ascontiguousarray(stops), np.ascontiguousarray(targets), self._part(span).rows,
                         sizes_of(params, self.name), self.start_equity, self.costs, rows)  # fmt: skip
        return rows[:count]

    def run(
        self,
        combos: Sequence[Any],
        progress: Callable[[int], None] = lambda done: None,
        *,
        blocks: int = 16,
        span: Span = None,
    ) -> Floats:
        """Every combination's ``METRICS`` trading in ``span`` (None: the whole history), then its daily returns' sum
        and sum of squares in each of ``blocks`` consecutive blocks of days (for the probability of overfitting):
        a row each, in order."""
        part = self._part(span)
        day_last = part.day_last()
        bounds = block_bounds(len(day_last), blocks)
        out = np.empty((len(combos), len(METRICS) + 2 * blocks))
        for start in range(0, len(combos), CHUNK):
            chunk = combos[start : start + CHUNK]
            out[start : start + len(chunk)] = self._chunk(chunk, part, day_last, bounds, _cut(span))
            progress(start + len(chunk))
        return out

    def daily_returns(self, params: Any, span: Span = None) -> Floats:
        """One combination's daily returns in ``span``, as the backtest report computes them."""
        trades = self.trades(params, span)
        part = self._part(span)
        day_equity, _ = account(trades, len(trades), part.close, part.day_last(), self.start_equity)
        return daily_returns(day_equity, self.start_equity)  # type: ignore[no-any-return]

    def _part(self, span: Span) -> Candles:
        if span is None:
            return self.candles
        first, last = span
        return Candles(np.ascontiguousarray(self.candles.rows[:, first:last]), self.candles.close_ts[first:last])

    def _chunk(
        self,
        chunk: Sequence[Any],
        part: Candles,
        day_last: npt.NDArray[np.int64],
        bounds: npt.NDArray[np.int64],
        cut: slice,
    ) -> Floats:
        signal_keys: dict[tuple[Any, ...], Any] = {}
        for p in chunk:
            signal_keys.setdefault(self.signal_key(p), p)
        signal_rows = np.ascontiguousarray(np.stack([self.signals(p) for p in signal_keys.values()])[:, cut])
        signal_index = {key: i for i, key in enumerate(signal_keys)}
        level_keys = {(p.stop_pct, p.target_pct): None for p in chunk}
        stop_rows = np.ascontiguousarray(np.stack([self._level(stop, -1)[:, cut] for stop, _ in level_keys]))
        target_rows = np.ascontiguousarray(np.stack([self._level(target, 1)[:, cut] for _, target in level_keys]))
        level_index = {key: i for i, key in enumerate(level_keys)}
        signal_of = np.array([signal_index[self.signal_key(p)] for p in chunk], np.int64)
        levels_of = np.array([level_index[(p.stop_pct, p.target_pct)] for p in chunk], np.int64)
        sizes = np.stack([sizes_of(p, self.name) for p in chunk])
        max_trades = int(np.count_nonzero(signal_rows, axis=1).max()) + 1
        return sweep_chunk(signal_rows, signal_of, stop_rows, target_rows, levels_of, sizes, part.rows,  # type: ignore[no-any-return]
                           day_last, self.start_equity, self.costs, max_trades, bounds)  # fmt: skip


@dataclass(frozen=True)
class Shared:
    """The candles and the moving averages every chunk reads, as one object (Ray's object store holds it once)."""

    candles: Candles
    paper: PaperConfig
    minimum_notional: float
    name: str
    model: str
    window: int
    averages: dict[int, tuple[Floats, Floats]]
    trends: dict[int, Floats]
    rsi: dict[int, Floats]
    producer: Any


Span = tuple[int, int] | None  # bars [first, last) to trade in; None: every bar


def _cut(span: Span) -> slice:
    return slice(None) if span is None else slice(*span)


def block_bounds(days: int, blocks: int) -> npt.NDArray[np.int64]:
    """The first day of each of ``blocks`` consecutive, nearly equal blocks of ``days``, and the end."""
    return np.asarray(np.linspace(0, days, blocks + 1).round(), np.int64)
