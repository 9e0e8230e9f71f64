"""The files ``new`` writes, as ``str.format`` text: ``{name}``, ``{cls}``, ``{module}``, ``{folder}``, ``{kind}``,
``{section}``, ``{helpers}`` and ``{rules}`` to fill in.

Each kind has a plug-in (a class and its typed ``Params``), its test (built through the real config loader and
registry from the YAML snippet, fed windows of the seeded simulation) and the YAML snippet that registers it. The
snippet is a whole config file by itself (every key it leaves out takes its default), so ``--config`` can name it.
"""

from __future__ import annotations

from typing import Final, Literal

Kind = Literal["producer", "strategy"]

RULES: Final = """\
The rules a plug-in keeps (docs/developers.md explains why): a pure function of its window (the same window gives
the same answer, live and in a replay); no wall-clock time (use ``as_of``); no network; a rationale a person can
read; conviction from 1 (barely) to 10 (certain)."""

PRODUCER: Final = '''\
"""{name}: a signal producer (``python -m b1e55ed new producer {name}``). Change the rule in ``produce``.

The skeleton's rule: the latest close against the mean of the last ``bars`` closes. At least ``threshold_pct``
percent above is long, as far below short, anything between neutral. Conviction is 4 at the threshold, one more
per half threshold past it, capped at 10.

{rules}
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import numpy as np

from b1e55ed.market.bars import BarsView
from b1e55ed.messages import Signal, SignalValue
from b1e55ed.plugins import PluginSetup


class {cls}:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        bars: Annotated[int, msgspec.Meta(ge=2)] = 50
        threshold_pct: Annotated[float, msgspec.Meta(gt=0)] = 3.0

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.params = setup.params_as(self.Params)

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        """The signal for the window's latest close; None ("no data") while the window is too short."""
        count, threshold = self.params.bars, self.params.threshold_pct
        if len(bars) < count:
            return None
        mean = float(np.mean(bars.close[-count:]))
        close = bars.last_close
        distance_pct = round((close / mean - 1.0) * 100.0, 4)
        where = f"{{symbol}} close {{close:,.6g}} is {{distance_pct:+.2f}}% from its {{count}}-bar mean {{mean:,.6g}}"
        direction: SignalValue = "neutral"
        conviction = 1
        if abs(distance_pct) >= threshold:
            direction = "long" if distance_pct > 0 else "short"
            conviction = min(10, 4 + math.floor((abs(distance_pct) - threshold) / threshold * 2 + 1e-9))
        return Signal(
            symbol=symbol,
            signal=direction,
            conviction=conviction,
            rationale=where if direction != "neutral" else f"{{where}}, inside ±{{threshold:g}}%",
            producer=self.name,
            timestamp=as_of // 1000,
            metadata={{"distance_pct": distance_pct}},
        )
'''

STRATEGY: Final = '''\
"""{name}: a strategy (``python -m b1e55ed new strategy {name}``). Change the rule in ``evaluate``.

The skeleton's rule is a breakout: long when the latest close is above the highest high of the ``lookback`` bars
before it, short when below their lowest low, with a fixed ``conviction``. It reads only the candles;
``cycle.signals_for(symbol)`` gives the producers' signals on a symbol, and ``cycle.context[symbol]`` its PCS
context (price, volume_ratio, atr_pct, realised_vol, and the enrichment plug-ins' fields).

``Params`` extends ``SizingRule``: size ``base_size × conviction ÷ reference_conviction`` capped at ``max_size``,
stop and target ``stop_pct`` and ``target_pct`` from the entry. Karma scores the rule's every firing; once it has
calibrated the rule, the measured edge sizes the trade instead of ``conviction`` (``sizes_by_rule``).

{rules}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec

from actors.strategies.sizing import Driver, SizingRule
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.messages import Direction
from b1e55ed.plugins import PluginSetup


class {cls}:
    sizes_by_rule = True  # the rule itself drives the size (``Driver(self.name, ..., rule=True)``)

    class Params(SizingRule, frozen=True, kw_only=True):
        lookback: Annotated[int, msgspec.Meta(ge=2)] = 48
        conviction: Annotated[int, msgspec.Meta(ge=1, le=10)] = 6

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        self.rule = self.params = setup.params_as(self.Params)

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        """A candidate for each symbol where the rule fires; the OMS logs each as a decision, taken or not."""
        lookback = self.params.lookback
        candidates = []
        for symbol, bars in sorted(cycle.tick.market.items()):
            if len(bars) <= lookback:
                continue
            close = bars.last_close
            high = float(bars.high[-lookback - 1 : -1].max())  # the bars before the latest: no peeking ahead
            low = float(bars.low[-lookback - 1 : -1].min())
            direction: Direction
            if close > high:
                direction, setup = "long", f"close {{close:,.6g}} above the {{lookback}}-bar high {{high:,.6g}}"
            elif close < low:
                direction, setup = "short", f"close {{close:,.6g}} below the {{lookback}}-bar low {{low:,.6g}}"
            else:
                continue
            sizing = self.rule.size([Driver(self.name, self.params.conviction, rule=True)], cycle.calibration)
            candidates.append(
                self.rule.candidate(
                    strategy=self.name,
                    symbol=symbol,
                    direction=direction,
                    entry=close,
                    sizing=sizing,
                    setup=f"breakout: {{setup}}",
                    rationale=f"{{symbol}}: {{setup}}",
                    candle_close=bars.close_ts,
                )
            )
        return candidates
'''

_TEST_HEAD: Final = '''\
"""Tests for {name} (``python -m b1e55ed new {kind} {name}``).

Run them from the folder that holds ``{folder}/``: ``python -m pytest {folder}/test_{name}.py``.

The plug-in is built as the runtime builds it: from the YAML snippet, through the real config loader (which checks
``Params``) and registry, and fed windows of the seeded simulated market (``b1e55ed.testing``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from b1e55ed.config import ConfigError, load_config
from b1e55ed.plugins import PluginSetup
from b1e55ed.registry import resolve_plugin
from b1e55ed.testing import {helpers}
from b1e55ed.timeframes import INTERVAL_MS

SNIPPET = Path(__file__).with_name("{name}.yaml")


def build(**params: Any) -> Any:
    """The plug-in as the config names it, with ``params`` over the snippet's."""
    config = load_config(SNIPPET, environ={{}}, env_file=None)
    spec = next(spec for spec in config.brain.{section} if spec.name == "{name}")
    cls = resolve_plugin(spec, key="brain.{section}")
    return cls(PluginSetup(spec.name, INTERVAL_MS[config.timeframe], {{**spec.params, **params}}))


def test_a_misspelt_param_is_refused_naming_it() -> None:
    with pytest.raises(ConfigError, match="no_such_param"):
        build(no_such_param=1)
'''

PRODUCER_TEST: Final = (
    _TEST_HEAD
    + """

def test_it_speaks_on_a_simulated_market_with_a_reason_and_a_conviction_from_1_to_10() -> None:
    producer = build()
    signals = [producer.produce("BTC", window, window.close_ts) for window in sim_windows("BTC", count=300)]
    spoken = [signal for signal in signals if signal is not None]
    assert spoken, "no signal in 300 cycles"
    assert any(signal.signal != "neutral" for signal in spoken), "no directional signal in 300 cycles"
    for signal in spoken:
        assert signal.producer == "{name}"
        assert 1 <= signal.conviction <= 10
        assert signal.rationale


def test_it_is_a_pure_function_of_its_window_and_its_time() -> None:
    window = sim_windows("BTC", count=1)[0]
    first = build().produce("BTC", window, window.close_ts)
    assert first == build().produce("BTC", window, window.close_ts)
    assert first is None or first.timestamp == window.close_ts // 1000  # the cycle's time, never the wall clock
"""
)

STRATEGY_TEST: Final = (
    _TEST_HEAD
    + """

def test_it_decides_on_a_simulated_market_with_a_reason_and_sane_exits() -> None:
    strategy = build()
    windows = sim_windows("BTC", count=300)
    candidates = [c for window in windows for c in strategy.evaluate(enriched_cycle({{"BTC": window}}))]
    taken = [c for c in candidates if c.taken]
    assert taken, "no trade in 300 cycles"
    for candidate in candidates:
        assert candidate.reason
    for candidate in taken:
        trade = candidate.trade
        assert trade is not None
        assert trade.strategy == "{name}"
        assert 0 < trade.size <= 0.15
        low, high = sorted((trade.stop, trade.target))
        assert low < trade.entry < high


def test_it_is_a_pure_function_of_its_cycle() -> None:
    cycle = enriched_cycle({{"BTC": sim_windows("BTC", count=1)[0]}})
    assert build().evaluate(cycle) == build().evaluate(cycle)
"""
)

PRODUCER_YAML: Final = """\
# Registers {name}. Paste the entry under brain.producers in your config, or use this file as the config itself
# (every key it leaves out takes its default; the list below then replaces the default producers):
#   python -m b1e55ed --config {folder}/{name}.yaml backtest --strategies confluence --symbols BTC ETH
brain:
  producers:
    - name: {name}
      module: {module}
      class: {cls}
      enabled: true
      params: {{bars: 50, threshold_pct: 3.0}}
"""

STRATEGY_YAML: Final = """\
# Registers {name}. Paste the entry under brain.strategies in your config, or use this file as the config itself
# (every key it leaves out takes its default; the list below then replaces the default strategies):
#   python -m b1e55ed --config {folder}/{name}.yaml backtest --strategies {name} --symbols BTC ETH
brain:
  strategies:
    - name: {name}
      module: {module}
      class: {cls}
      enabled: true
      params: {{lookback: 48, conviction: 6, base_size: 0.05, reference_conviction: 7, max_size: 0.15,
               kelly_fraction: 0, stop_pct: 3, target_pct: 10}}
"""

PLUGIN: Final[dict[Kind, str]] = {"producer": PRODUCER, "strategy": STRATEGY}
TEST: Final[dict[Kind, str]] = {"producer": PRODUCER_TEST, "strategy": STRATEGY_TEST}
SNIPPET: Final[dict[Kind, str]] = {"producer": PRODUCER_YAML, "strategy": STRATEGY_YAML}
SECTION: Final[dict[Kind, str]] = {"producer": "producers", "strategy": "strategies"}
SUFFIX: Final[dict[Kind, str]] = {"producer": "Producer", "strategy": "Strategy"}
HELPERS: Final[dict[Kind, str]] = {"producer": "sim_windows", "strategy": "enriched_cycle, sim_windows"}
