"""What a plug-in's unit test feeds it: windows of a seeded simulated market, and a cycle built around them.

A producer takes ``(symbol, window, as_of)`` and a strategy an ``EnrichedCycle``; both are pure functions of what
they are given, so a unit test needs no runtime, no event log and no network, only inputs shaped as the pipeline
shapes them::

    windows = sim_windows("BTC", count=300)             # the last 300 windows of 500 hourly bars, oldest first
    signal = producer.produce("BTC", windows[-1], windows[-1].close_ts)
    candidates = strategy.evaluate(enriched_cycle({"BTC": windows[-1]}, signals=[signal]))

The market is ``b1e55ed.market.sim``'s (the one ``--market sim`` trades): the same seed gives the same candles on
every machine. A replay of real history through the whole pipeline is the other half of a plug-in's check:
``python -m b1e55ed backtest`` (see docs/developers.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from b1e55ed.cycle import CycleTick, EnrichedCycle
from b1e55ed.market.bars import BarsView
from b1e55ed.market.sim import SimMarket
from b1e55ed.messages import Signal
from b1e55ed.timeframes import INTERVAL_MS

SIM_START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC


def sim_windows(
    symbol: str = "BTC",
    *,
    count: int = 100,
    window_bars: int = 500,
    timeframe: str = "1h",
    seed: int = 7,
    start_ms: int = SIM_START_MS,
) -> list[BarsView]:
    """``count`` consecutive windows of ``window_bars`` bars (the brain's default window), one per cycle, oldest
    first: window ``i`` ends one bar after window ``i - 1``, as in a replay."""
    if count < 1 or window_bars < 1:
        raise ValueError(f"need count >= 1 and window_bars >= 1, got {count} and {window_bars}")
    timeframe_ms = INTERVAL_MS[timeframe]
    total = window_bars + count - 1
    columns = SimMarket([symbol], timeframe_ms, seed=seed, start_ms=start_ms).bars(total)[symbol].read_only()
    return [BarsView(symbol, columns, stop - window_bars, stop, timeframe_ms) for stop in range(window_bars, total + 1)]


def enriched_cycle(
    market: Mapping[str, BarsView],
    *,
    signals: Sequence[Signal] = (),
    context: Mapping[str, Mapping[str, float]] | None = None,
    cycle: int = 1,
) -> EnrichedCycle:
    """The cycle a strategy receives: the windows by symbol, the producers' ``signals``, and the PCS ``context``
    (default: each symbol's last close as ``price``). It is as of the latest window's close."""
    as_of = max((bars.close_ts for bars in market.values()), default=0)
    tick = CycleTick(cycle=cycle, as_of=as_of, source="simulated", market=market)
    found = context if context is not None else {symbol: {"price": bars.last_close} for symbol, bars in market.items()}
    ordered = tuple(sorted(signals, key=lambda s: (s.producer, s.symbol)))
    return EnrichedCycle(tick=tick, signals=ordered, context=found, producers={})
