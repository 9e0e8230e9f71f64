"""Momentum's entries for the sweep, as the strategy decides them (``actors/strategies/momentum.py``).

The strategy trades the momentum producer's directional signals that volume confirms. So the producer itself,
built from the config as the pipeline builds it (offline, as in a replay), reads each bar's window (the last
``window`` bars) once: those signals, their direction and conviction, are the same for every combination. Then a
combination's entries are the signals where the mean volume of the last ``volume_bars`` bars, over the mean of the
``baseline_bars`` before them (both by ``numpy.mean`` over the window's rows, as the strategy's batches compute
them), is at least ``min_volume_ratio``; a silent baseline, or a window too short, confirms nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from b1e55ed.config import Config
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.plugins import BatchProducer, PluginSetup, Producer, Services
from b1e55ed.registry import resolve_plugin

Floats = npt.NDArray[np.float64]
ROWS = 4096


def producer_signals(config: Config, producer: str, symbol: str, bars: BarArrays, timeframe_ms: int) -> Any:
    """Each bar's signal from the producer named ``producer`` in the config, over the window the brain hands it:
    ``±conviction`` (long positive), 0 for neutral or none."""
    spec = next((p for p in config.brain.producers if p.name == producer), None)
    if spec is None:
        raise ValueError(f"the strategy reads producer {producer!r}, which the config does not have")
    plugin: Producer = resolve_plugin(spec, key=f"brain.producers: {producer}")(
        PluginSetup(spec.name, timeframe_ms, dict(spec.params), Services(offline=True))
    )
    window = config.brain.window_bars
    frozen = bars.read_only()
    views = [BarsView(symbol, frozen, max(0, i + 1 - window), i + 1, timeframe_ms) for i in range(len(bars))]
    as_ofs = [int(ts) + timeframe_ms for ts in bars.ts.tolist()]
    if isinstance(plugin, BatchProducer):
        found = plugin.produce_batch(symbol, views, as_ofs)
    else:
        found = [plugin.produce(symbol, view, as_of) for view, as_of in zip(views, as_ofs, strict=True)]
    out = np.zeros(len(bars), np.int8)
    for i, signal in enumerate(found):
        if signal is not None and signal.signal != "neutral":
            out[i] = signal.conviction if signal.signal == "long" else -signal.conviction
    return out


def volume_ratios(volume: Floats, recent: int, baseline: int) -> Floats:
    """At each bar: the mean of the last ``recent`` volumes ÷ the mean of the ``baseline`` before them (NaN before
    there are ``recent + baseline`` bars, or when the baseline is silent)."""
    span = recent + baseline
    out = np.full(len(volume), np.nan)
    if len(volume) < span:
        return out
    rows = sliding_window_view(volume, span)
    for start in range(0, len(rows), ROWS):
        part = rows[start : start + ROWS]
        before = np.mean(part[:, :-recent], axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.mean(part[:, -recent:], axis=-1) / before
        ratios[~(before > 0)] = np.nan
        out[span - 1 + start : span - 1 + start + len(part)] = ratios
    return out


def confirmed(signals: Any, ratios: Floats, minimum: float) -> Any:
    """The signals volume confirms: the producer's where the ratio is at least ``minimum``, else 0."""
    with np.errstate(invalid="ignore"):
        return np.where(ratios >= minimum, signals, 0).astype(np.int8)
