"""Momentum: the momentum producer's signal, confirmed by volume.

What it uses: the signal of the producer named ``producer`` (default ``momentum``: the close-to-close change over
the last 20 days, long past +5%, short past -5%) for each symbol in the cycle's market, and the symbol's bars for
the volume. A symbol is considered when that signal is directional; it is taken when volume confirms the move:

    volume ratio = mean volume of the last ``volume_bars`` bars ÷ mean volume of the ``baseline_bars`` before them

must be at least ``min_volume_ratio`` (defaults: the last 24 bars against the week before, 1.25×: a day busier
than the week behind it; on BTC 1h in 2023-24 about one hour in four qualifies). The same rule holds for shorts.
A window too short for the ratio, or a silent baseline, is not confirmation. Size from the momentum signal's
conviction (``sizing.py``); stop and target ``stop_pct`` and ``target_pct`` from the entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np
import numpy.typing as npt

from actors.strategies.batch import batch_spans
from actors.strategies.signals import batch_signals
from actors.strategies.sizing import SizingRule, signal_drivers, signal_refs
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Signal, SignalRef
from b1e55ed.plugins import PluginSetup


def volume_ratio(volume: npt.NDArray[np.float64], recent: int, baseline: int) -> float:
    """Mean of the last ``recent`` volumes ÷ mean of the ``baseline`` before them; NaN when unknown."""
    if len(volume) < recent + baseline:
        return math.nan
    before = float(np.mean(volume[-recent - baseline : -recent]))
    return float(np.mean(volume[-recent:])) / before if before > 0 else math.nan


def volume_ratios(volumes: npt.NDArray[np.float64], recent: int) -> npt.NDArray[np.float64]:
    """``volume_ratio(row, recent, baseline)`` for each row of exactly ``recent + baseline`` volumes."""
    before = np.mean(volumes[:, :-recent], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios: npt.NDArray[np.float64] = np.mean(volumes[:, -recent:], axis=-1) / before
    ratios[~(before > 0)] = math.nan
    return ratios


def directional_signals(cycle: EnrichedCycle, producer: str) -> dict[str, Signal]:
    """The named producer's long or short signals in this cycle, by symbol."""
    return {s.symbol: s for s in cycle.signals if s.producer == producer and s.signal != "neutral"}


class MomentumStrategy:
    class Params(SizingRule, frozen=True, kw_only=True):
        producer: str = "momentum"
        volume_bars: Annotated[int, msgspec.Meta(ge=1)] = 24
        baseline_bars: Annotated[int, msgspec.Meta(ge=1)] = 168
        min_volume_ratio: float = 1.25

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = params = setup.params_as(self.Params)
        self.producer, self.min_volume_ratio = params.producer, params.min_volume_ratio
        self.volume_bars, self.baseline_bars = params.volume_bars, params.baseline_bars
        # The words of every decision's reason that do not change from one to the next.
        self._volume_words = f"× (last {self.volume_bars} bars vs the {self.baseline_bars} before)"
        self._unknown_volume = f"volume ratio unknown (needs {self.volume_bars + self.baseline_bars} bars with volume)"
        self._needs = f", needs ≥ {self.min_volume_ratio:g}×"

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        candidates = []
        signals = directional_signals(cycle, self.producer)
        for symbol, bars in sorted(cycle.tick.market.items()):
            signal = signals.get(symbol)
            if signal is not None:
                ratio = volume_ratio(bars.volume, self.volume_bars, self.baseline_bars)
                refs = signal_refs([signal], cycle.calibration)
                candidates.append(self._judge(cycle, signal, refs, bars, ratio, bars.close_ts, None))
        return candidates

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]:
        """``evaluate`` for each cycle, each symbol's volume ratios computed over all its windows at once."""
        candidates: list[list[Candidate]] = [[] for _ in cycles]
        found = batch_signals(cycles)
        signals = found.of_producer(self.producer)
        if not any(signals):
            return list(candidates)
        span = self.volume_bars + self.baseline_bars
        for symbol, spans in batch_spans(cycles).items():
            judged = np.flatnonzero(np.fromiter((symbol in signals[i] for i in spans.cycles), np.bool_, len(spans)))
            if not len(judged):
                continue
            spans = spans.select(judged)
            ratios = np.full(len(spans), math.nan)  # too short: unknown, as ``volume_ratio``
            known = np.flatnonzero(spans.lengths >= span)
            if len(known):
                ratios[known] = volume_ratios(spans.select(known).last("volume", span), self.volume_bars)
            close_ts, prices = spans.ends()
            for index, bars, ratio, closed, price in zip(
                spans.cycles, spans.windows, ratios.tolist(), close_ts, prices, strict=True
            ):
                signal = signals[index][symbol]
                refs = found.refs(index, (signal,))
                candidates[index].append(self._judge(cycles[index], signal, refs, bars, ratio, closed, price))
        return list(candidates)

    def _judge(
        self,
        cycle: EnrichedCycle,
        signal: Signal,
        refs: tuple[SignalRef, ...],
        bars: BarsView,
        ratio: float,
        candle_close: int,
        price: float | None,
    ) -> Candidate:
        """The candidate for ``signal``, whose refs are ``refs``; ``candle_close`` and ``price`` are the window's
        ``close_ts`` and ``last_close`` (None: read it from ``bars``)."""
        symbol = signal.symbol
        known = not math.isnan(ratio)
        volume = f"volume {ratio:.2f}{self._volume_words}" if known else self._unknown_volume
        momentum = f"{self.producer} {signal.signal} {signal.conviction} ({signal.rationale})"
        if not known or ratio < self.min_volume_ratio:
            reason = f"{momentum} not confirmed: {volume}{self._needs}"
            return Candidate(symbol=symbol, taken=False, reason=reason, signals=refs, candle_close=candle_close)
        return self.rule.candidate(
            strategy=self.name,
            symbol=symbol,
            direction="long" if signal.signal == "long" else "short",
            entry=bars.last_close if price is None else price,
            sizing=self.rule.size(signal_drivers([signal]), cycle.calibration),
            setup=f"momentum {signal.signal} confirmed by {volume}",
            rationale=f"{momentum}; {volume} ≥ {self.min_volume_ratio:g}×",
            candle_close=candle_close,
            refs=refs,
        )
