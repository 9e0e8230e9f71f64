"""Indicators for 50 symbols × 10,000 candles: the issue's figure is at most 100 ms, median of runs.

Baseline, measured in the same run: the same Wilder RSI(14) written as a plain Python loop over lists, per symbol,
so the ratio shows what vectorising buys.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from common import figure, load_average

from b1e55ed.market import indicators as ind
from b1e55ed.market.sim import SimMarket

SYMBOLS, BARS, PERIOD = 50, 10_000, 14


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    runs = 3 if parser.parse_args().quick else 7
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
