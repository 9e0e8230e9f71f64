"""Indicators for 50 symbols × 10,000 candles: the issue's figure is at most 100 ms, median of runs.

Baseline, measured in the same run: the same Wilder RSI(14) written as a plain Python loop over lists, per symbol,
so the ratio shows what vectorising buys.

``per_cycle/<plug-in>``: a replay's cost per cycle of each producer, strategy and the PCS context on BTC alone
(real Binance candles from ``../shared/data`` when present, else the seeded sim), answering a batch of 512
consecutive cycles at once (``produce_batch``, ``evaluate_batch``, ``pcs_context_batch``), against the baseline of
the same cycles one at a time. The replay's budget is 100 µs per cycle for everything: a few µs per plug-in.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from common import figure, load_average, note

from actors.context import pcs_context, pcs_context_batch
from b1e55ed.cycle import CycleTick, EnrichedCycle
from b1e55ed.default_plugins import DEFAULT_PRODUCERS, DEFAULT_STRATEGIES
from b1e55ed.market import indicators as ind
from b1e55ed.market.bars import BarsView
from b1e55ed.market.funding import FundingHistory, FundingRates
from b1e55ed.market.replay import load_history
from b1e55ed.market.sim import SimMarket
from b1e55ed.market.state import MarketState
from b1e55ed.plugins import BatchProducer, BatchStrategy, PluginSetup, Services
from b1e55ed.registry import PluginSpec

SYMBOLS, BARS, PERIOD = 50, 10_000, 14
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HOUR_MS, BATCH, WINDOW = 3_600_000, 512, 500
BATCHED_PRODUCERS = ("rsi", "momentum", "funding")
BATCHED_STRATEGIES = ("momentum", "ma_crossover", "combined", "rsi_oversold")


def all_indicators(columns: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]) -> None:
    for high, low, close, volume in columns:
        ind.wilder_rsi(close, PERIOD)
        ind.atr_pct(high, low, close, PERIOD)
        ind.sma(close, 20)
        ind.ema(close, 20)
        ind.rate_of_change(close, 480)
        ind.realised_vol(close, 20)
        ind.volume_ratio(volume, 20)
        ind.swing_lows(low)


def python_rsi(closes: list[list[float]]) -> None:
    for close in closes:
        gains = losses = 0.0
        for i in range(1, len(close)):
            change = close[i] - close[i - 1]
            gain, loss = max(change, 0.0), max(-change, 0.0)
            if i <= PERIOD:
                gains, losses = gains + gain / PERIOD, losses + loss / PERIOD
            else:
                gains = (gains * (PERIOD - 1) + gain) / PERIOD
                losses = (losses * (PERIOD - 1) + loss) / PERIOD


def timed(fn: Callable[..., object], *args: object) -> float:
    start = time.perf_counter()
    fn(*args)
    return (time.perf_counter() - start) * 1000


def btc_market() -> tuple[MarketState, FundingRates | None, str]:
    """BTC's real hourly candles (and funding) through 2024, or 10,000 hours of the seeded sim."""
    state = MarketState(HOUR_MS)
    if SHARED_DATA.is_dir():
        state.extend("BTC", load_history(SHARED_DATA / "ohlcv_1h", ["BTC"]).bars["BTC"])
        return state, FundingHistory.load(SHARED_DATA / "funding", ["BTC"]), "real Binance BTC 1h"
    state.extend("BTC", SimMarket(["BTC"], HOUR_MS, seed=1, start_ms=0).bars(BARS)["BTC"])
    return state, None, "seeded sim BTC 1h (no ../shared/data)"


def plugin(specs: Sequence[PluginSpec], name: str, funding: FundingRates | None) -> Any:
    (spec,) = [s for s in specs if s.name == name]
    module = __import__(spec.module, fromlist=[spec.class_name])
    return getattr(module, spec.class_name)(PluginSetup(name, HOUR_MS, spec.params, Services(funding=funding)))


def per_cycle_us(fn: Callable[[], object], cycles: int, runs: int) -> list[float]:
    fn()  # warm: first-touch memory and caches
    return [timed(fn) * 1000 / cycles for _ in range(runs)]


def plugin_figures(runs: int) -> None:
    state, funding, source = btc_market()
    last = int(state.series("BTC").columns.ts[-1]) + HOUR_MS
    as_ofs = [last - (BATCH - k) * HOUR_MS for k in range(1, BATCH + 1)]  # the last 512 cycles: full windows
    windows: list[BarsView] = [state.view(as_of, WINDOW)["BTC"] for as_of in as_ofs]
    momentum: BatchProducer = plugin(DEFAULT_PRODUCERS, "momentum", funding)
    cycles = [
        EnrichedCycle(
            tick=CycleTick(cycle=k, as_of=as_of, source="replay", market={"BTC": bars}),
            signals=tuple(s for s in [momentum.produce("BTC", bars, as_of)] if s is not None),
            context={},
            producers={},
        )
        for k, (as_of, bars) in enumerate(zip(as_ofs, windows, strict=True), start=1)
    ]
    note(f"per-cycle figures on {source}, {BATCH} cycles to {as_ofs[-1]}")
    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = []
    for name in BATCHED_PRODUCERS:
        if name == "funding" and funding is None:
            continue
        producer: BatchProducer = plugin(DEFAULT_PRODUCERS, name, funding)

        def one_by_one(p: BatchProducer = producer) -> object:
            return [p.produce("BTC", bars, as_of) for bars, as_of in zip(windows, as_ofs, strict=True)]

        def batched(p: BatchProducer = producer) -> object:
            return p.produce_batch("BTC", windows, as_ofs)

        cases.append((f"producer_{name}", batched, one_by_one))
    for name in BATCHED_STRATEGIES:
        strategy: BatchStrategy = plugin(DEFAULT_STRATEGIES, name, None)

        def judged_one_by_one(s: BatchStrategy = strategy) -> object:
            return [s.evaluate(cycle) for cycle in cycles]

        def judged_batched(s: BatchStrategy = strategy) -> object:
            return s.evaluate_batch(cycles)

        cases.append((f"strategy_{name}", judged_batched, judged_one_by_one))
    cases.append(("pcs_context", lambda: pcs_context_batch(windows), lambda: [pcs_context(bars) for bars in windows]))
    for name, batched_fn, one_by_one_fn in cases:
        figure(
            "indicators",
            f"per_cycle/{name}",
            "us",
            per_cycle_us(batched_fn, BATCH, runs),
            per_cycle_us(one_by_one_fn, BATCH, runs),
            f"the same {BATCH} cycles one at a time (produce, evaluate, pcs_context)",
            batch=BATCH,
            window=WINDOW,
            data=source,
            load_avg_1m=load_average(),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    runs = 3 if parser.parse_args().quick else 7
    plugin_figures(runs)
    market = SimMarket([f"S{i:02d}" for i in range(SYMBOLS)], 3_600_000, seed=1, start_ms=0)
    bars = market.bars(BARS)
    columns = [(b.high, b.low, b.close, b.volume) for b in bars.values()]
    closes = [b.close.tolist() for b in bars.values()]
    ours = [timed(all_indicators, columns) for _ in range(runs)]
    baseline = [timed(python_rsi, closes) for _ in range(runs)]
    figure(
        "indicators",
        f"all_indicators/{SYMBOLS}x{BARS}",
        "ms",
        ours,
        baseline,
        "Wilder RSI(14) alone as a plain Python loop over lists, same data",
        target=100.0,
        at_most=True,
        indicators=["rsi", "atr_pct", "sma20", "ema20", "roc480", "realised_vol20", "volume_ratio20", "swing_lows"],
        load_avg_1m=load_average(),
    )


if __name__ == "__main__":
    main()
