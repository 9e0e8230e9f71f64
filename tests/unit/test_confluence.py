"""The confluence strategy on hand-built cycles, and the strategy stage around it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
import trio
from msgspec.structs import replace

from actors.strategies.actor import strategy_actor
from actors.strategies.confluence import ConfluenceStrategy
from b1e55ed.cycle import Candidate, CycleTick, EnrichedCycle, EnrichedCycles, StrategyReport, StrategyReports
from b1e55ed.karma.calibration import Calibration
from b1e55ed.market.bars import BarArrays
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Signal, SignalRef, SignalValue
from b1e55ed.plugins import PluginSetup, Strategy

HOUR = 3_600_000
T0 = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp() * 1000)
AS_OF = T0 + 10 * HOUR  # the cycle after the tenth bar (opened at T0 + 9h) closed


def market(last_closes: Mapping[str, float], bars: int = 10, lag: Mapping[str, int] | None = None) -> MarketState:
    """Each symbol with ``bars`` hourly bars, the last closing at ``AS_OF`` (or ``lag`` hours earlier)."""
    state = MarketState(HOUR)
    for symbol, last in last_closes.items():
        end = bars - (lag or {}).get(symbol, 0)
        ts = T0 + HOUR * np.arange(end - bars, end)
        close = np.linspace(last * 0.9, last, bars)
        state.extend(symbol, BarArrays(ts, close, close * 1.01, close * 0.99, close, np.ones(bars)))
    return state


def signal(symbol: str, value: SignalValue, conviction: int, producer: str) -> Signal:
    return Signal(
        symbol=symbol,
        signal=value,
        conviction=conviction,
        rationale=f"{producer} says {value}",
        producer=producer,
        timestamp=AS_OF // 1000,
    )


def cycle(signals: Sequence[Signal], closes: Mapping[str, float] | None = None, number: int = 1) -> EnrichedCycle:
    state = market(closes or {"BTC": 50_000.0})
    tick = CycleTick(cycle=number, as_of=AS_OF, source="replay", market=state.view(AS_OF))
    return EnrichedCycle(tick=tick, signals=tuple(signals), context={}, producers={})


def confluence(**params: Any) -> ConfluenceStrategy:
    return ConfluenceStrategy(PluginSetup("confluence", HOUR, params))


def only(candidates: Sequence[Candidate]) -> Candidate:
    assert len(candidates) == 1
    return candidates[0]


# -- agreement ----------------------------------------------------------------------------------------------------


def test_one_signal_alone_is_not_confluence() -> None:
    candidate = only(confluence().evaluate(cycle([signal("BTC", "long", 8, "rsi")])))
    assert candidate.symbol == "BTC"
    assert not candidate.taken
    assert candidate.trade is None
    assert candidate.direction is None
    assert "1 long vs 0 short" in candidate.reason
    assert "no confluence" in candidate.reason
    assert candidate.signals == (SignalRef("rsi", "long", 8),)


def test_two_longs_against_one_short_go_long() -> None:
    signals = [signal("BTC", "long", 7, "rsi"), signal("BTC", "long", 7, "momentum"), signal("BTC", "short", 9, "x")]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert candidate.taken
    assert candidate.direction == "long"
    assert candidate.trade is not None
    assert candidate.trade.direction == "long"
    assert "2 long vs 1 short" in candidate.reason
    assert {ref.producer for ref in candidate.signals} == {"rsi", "momentum", "x"}


def test_two_against_two_is_not_taken() -> None:
    signals = [
        signal("BTC", "long", 9, "a"),
        signal("BTC", "long", 9, "b"),
        signal("BTC", "short", 3, "c"),
        signal("BTC", "short", 3, "d"),
    ]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert not candidate.taken
    assert candidate.trade is None
    assert "2 long vs 2 short" in candidate.reason


def test_two_shorts_go_short() -> None:
    signals = [signal("BTC", "short", 7, "rsi"), signal("BTC", "short", 7, "momentum")]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert (candidate.taken, candidate.direction) == (True, "short")


def test_neutral_signals_count_neither_way() -> None:
    signals = [signal("BTC", "long", 7, "a"), signal("BTC", "long", 7, "b")]
    signals += [signal("BTC", "neutral", 1, name) for name in ("c", "d", "e")]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert candidate.taken
    assert "2 long vs 0 short" in candidate.reason
    assert {ref.producer for ref in candidate.signals} == {"a", "b"}


def test_min_agreeing_comes_from_params() -> None:
    signals = [signal("BTC", "long", 7, "a"), signal("BTC", "long", 7, "b")]
    assert not only(confluence(min_agreeing=3).evaluate(cycle(signals))).taken
    assert only(confluence(min_agreeing=1).evaluate(cycle(signals[:1]))).taken


def test_every_symbol_with_a_directional_signal_is_a_candidate() -> None:
    closes = {"BTC": 50_000.0, "ETH": 3_000.0, "SOL": 150.0, "DOGE": 0.15}
    signals = [
        signal("BTC", "long", 7, "a"),
        signal("BTC", "long", 7, "b"),
        signal("ETH", "short", 6, "a"),
        signal("SOL", "neutral", 1, "a"),
        signal("SOL", "neutral", 1, "b"),
        signal("XRP", "long", 9, "a"),  # no bars for XRP in this cycle: nothing to price it with
        signal("XRP", "long", 9, "b"),
    ]
    candidates = confluence().evaluate(cycle(signals, closes))
    assert {c.symbol: c.taken for c in candidates} == {"BTC": True, "ETH": False}


# -- sizing, stop and target --------------------------------------------------------------------------------------


def test_conviction_seven_is_the_base_five_percent() -> None:
    signals = [signal("BTC", "long", 7, "rsi"), signal("BTC", "long", 7, "momentum")]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert candidate.trade is not None
    assert candidate.trade.size == 0.05
    assert candidate.trade.conviction == 7
    assert candidate.sizing == {
        "conviction": 7.0,
        "mean_conviction": 7.0,
        "base_size": 0.05,
        "reference_conviction": 7.0,
        "raw_size": pytest.approx(0.05),
        "max_size": 0.15,
        "size": 0.05,
    }


def test_size_scales_with_the_mean_conviction_of_the_agreeing_signals() -> None:
    signals = [signal("BTC", "short", 6, "a"), signal("BTC", "short", 9, "b"), signal("BTC", "long", 10, "c")]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert candidate.trade is not None
    assert candidate.sizing["mean_conviction"] == 7.5  # the dissenting long's 10 does not count
    assert candidate.trade.size == pytest.approx(0.05 * 7.5 / 7, abs=1e-6)  # 0.053571
    assert candidate.sizing["raw_size"] == pytest.approx(0.05 * 7.5 / 7)
    assert "size 5.36%" in candidate.trade.rationale


def test_size_is_capped_at_max_size() -> None:
    signals = [signal("BTC", "long", 9, "a"), signal("BTC", "long", 10, "b")]
    candidate = only(confluence(base_size=0.15).evaluate(cycle(signals)))
    assert candidate.trade is not None
    assert candidate.sizing["raw_size"] == pytest.approx(0.15 * 9.5 / 7)  # 0.2036: over the cap
    assert candidate.trade.size == 0.15
    assert candidate.sizing["size"] == 0.15

    lower_cap = only(confluence(base_size=0.15, max_size=0.1).evaluate(cycle(signals)))
    assert lower_cap.trade is not None
    assert lower_cap.trade.size == 0.1


def test_default_size_never_reaches_the_cap() -> None:
    signals = [signal("BTC", "long", 10, "a"), signal("BTC", "long", 10, "b")]
    candidate = only(confluence().evaluate(cycle(signals)))
    assert candidate.trade is not None
    assert candidate.trade.size == pytest.approx(0.05 * 10 / 7, abs=1e-6)  # 7.14%


def test_long_stop_three_percent_below_target_ten_above() -> None:
    signals = [signal("BTC", "long", 7, "a"), signal("BTC", "long", 7, "b")]
    trade = only(confluence().evaluate(cycle(signals, {"BTC": 50_000.0}))).trade
    assert trade is not None
    assert trade.entry == 50_000.0
    assert trade.stop == pytest.approx(48_500.0)
    assert trade.target == pytest.approx(55_000.0)


def test_short_stop_three_percent_above_target_ten_below() -> None:
    signals = [signal("ETH", "short", 7, "a"), signal("ETH", "short", 7, "b")]
    trade = only(confluence().evaluate(cycle(signals, {"ETH": 2_000.0}))).trade
    assert trade is not None
    assert trade.direction == "short"
    assert trade.entry == 2_000.0
    assert trade.stop == pytest.approx(2_060.0)
    assert trade.target == pytest.approx(1_800.0)


def test_stop_and_target_distances_come_from_params() -> None:
    signals = [signal("BTC", "long", 7, "a"), signal("BTC", "long", 7, "b")]
    trade = only(confluence(stop_pct=2, target_pct=6).evaluate(cycle(signals, {"BTC": 100.0}))).trade
    assert trade is not None
    assert trade.stop == pytest.approx(98.0)
    assert trade.target == pytest.approx(106.0)


def test_trade_carries_the_spec_fields_and_a_readable_rationale() -> None:
    signals = [signal("BTC", "long", 6, "rsi"), signal("BTC", "long", 8, "momentum")]
    trade = only(confluence().evaluate(cycle(signals))).trade
    assert trade is not None
    assert (trade.symbol, trade.strategy, trade.conviction) == ("BTC", "confluence", 7)
    assert "rsi 6" in trade.rationale
    assert "momentum 8" in trade.rationale
    assert "2 long vs 0 short" in trade.rationale


@pytest.mark.parametrize(
    ("convictions", "aggregated"),
    [((6, 7), 7), ((7, 8), 8), ((5, 6), 6), ((6, 6, 7), 6), ((9, 10), 10)],
)
def test_trade_conviction_is_the_mean_rounded_half_up(convictions: tuple[int, ...], aggregated: int) -> None:
    signals = [signal("BTC", "long", c, f"p{i}") for i, c in enumerate(convictions)]
    trade = only(confluence().evaluate(cycle(signals))).trade
    assert trade is not None
    assert trade.conviction == aggregated


def test_calibration_resizes_and_is_recorded_on_each_signal() -> None:
    """rsi's 8s have won 40%, momentum's 6s 60% at 3/10 (breakeven 3/13): each counts 10 × edge ÷ (1 − 3/13)."""
    signals = [signal("BTC", "long", 8, "rsi"), signal("BTC", "long", 6, "momentum"), signal("BTC", "short", 3, "x")]
    calibration = Calibration({"rsi": {8: 0.4}, "momentum": {6: 0.6}}, stop_pct=3, target_pct=10)
    enriched = replace(cycle(signals), calibration=calibration)
    candidate = only(confluence().evaluate(enriched))
    assert candidate.trade is not None
    equivalents = [10 * (p - 3 / 13) / (10 / 13) for p in (0.4, 0.6)]
    assert candidate.trade.size == pytest.approx(0.05 * sum(equivalents) / 2 / 7, abs=1e-6)
    assert candidate.trade.conviction == 7  # the reported mean
    assert candidate.sizing["reported_conviction"] == 7.0
    assert candidate.sizing["win_probability"] == pytest.approx(0.5)
    assert candidate.signals == (
        SignalRef("rsi", "long", 8, 0.4),
        SignalRef("momentum", "long", 6, 0.6),
        SignalRef("x", "short", 3, None),
    )


def test_confluence_without_edge_is_not_taken_under_kelly() -> None:
    signals = [signal("BTC", "long", 8, "rsi"), signal("BTC", "long", 6, "momentum")]
    calibration = Calibration({"rsi": {8: 0.2}, "momentum": {6: 0.2}}, stop_pct=3, target_pct=10)
    enriched = replace(cycle(signals), calibration=calibration)
    candidate = only(confluence(kelly_fraction=0.25).evaluate(enriched))
    assert not candidate.taken
    assert candidate.trade is None
    assert "no edge" in candidate.reason
    assert candidate.sizing["kelly_optimal"] == pytest.approx(0.2 - 0.8 * 0.3)


# -- the decision's candle ----------------------------------------------------------------------------------------


def test_candle_close_is_the_last_bar_open_plus_the_timeframe() -> None:
    state = market({"BTC": 50_000.0, "ETH": 3_000.0}, lag={"ETH": 2})
    tick = CycleTick(cycle=1, as_of=AS_OF, source="replay", market=state.view(AS_OF))
    signals = [signal(s, "long", 7, p) for s in ("BTC", "ETH") for p in ("a", "b")]
    signals.append(signal("SOL", "short", 7, "a"))
    candidates = confluence().evaluate(EnrichedCycle(tick=tick, signals=tuple(signals), context={}, producers={}))
    by_symbol = {c.symbol: c for c in candidates}
    assert by_symbol["BTC"].candle_close == AS_OF
    assert by_symbol["ETH"].candle_close == AS_OF - 2 * HOUR  # its own last bar, not the cycle's time
    assert by_symbol["BTC"].candle_close == tick.market["BTC"].close_ts
    assert by_symbol["ETH"].trade is not None
    assert by_symbol["ETH"].trade.entry == tick.market["ETH"].last_close


def test_same_cycle_gives_the_same_candidates() -> None:
    signals = [signal("BTC", "long", 6, "a"), signal("BTC", "long", 9, "b"), signal("ETH", "short", 4, "a")]
    enriched = cycle(signals, {"BTC": 50_000.0, "ETH": 3_000.0})
    assert confluence().evaluate(enriched) == confluence().evaluate(enriched)


def test_a_batch_judges_what_evaluate_judges_for_each_cycle() -> None:
    """Cycles without signals, with one, agreeing, opposing, neutral, for a symbol without bars, and calibrated."""
    closes = {"BTC": 50_000.0, "ETH": 3_000.0}
    calibrated = Calibration({"rsi": {8: 0.4}, "momentum": {6: 0.6}}, stop_pct=3, target_pct=10)
    signal_sets = [
        [],
        [signal("BTC", "neutral", 5, "rsi")],
        [signal("BTC", "long", 6, "momentum")],
        [signal("ETH", "long", 8, "rsi"), signal("BTC", "long", 6, "momentum"), signal("ETH", "long", 6, "momentum")],
        [signal("BTC", "long", 8, "rsi"), signal("BTC", "short", 6, "momentum"), signal("SOL", "long", 7, "rsi")],
        [signal("BTC", "short", 8, "rsi"), signal("BTC", "short", 6, "momentum"), signal("BTC", "long", 3, "x")],
    ]
    cycles = tuple(
        replace(cycle(signals, closes, number=number), calibration=calibration)
        for number, signals in enumerate(signal_sets * 2, start=1)
        for calibration in [calibrated if number > len(signal_sets) else Calibration()]
    )
    strategy = confluence()
    expected = [list(strategy.evaluate(c)) for c in cycles]
    assert sum(len(candidates) for candidates in expected) == 10
    assert [list(candidates) for candidates in strategy.evaluate_batch(cycles)] == expected
    assert [list(candidates) for candidates in strategy.evaluate_batch(cycles)] == expected  # asked again


# -- the strategy as an actor -------------------------------------------------------------------------------------


class Fragile:
    """Confluence, except that it raises on the cycles named."""

    def __init__(self, fail_on: set[int]) -> None:
        self.name = "fragile"
        self._inner = confluence()
        self._fail_on = fail_on

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        if cycle.cycle in self._fail_on:
            raise KeyError("no such thing")
        return self._inner.evaluate(cycle)


class BatchFragile(Fragile):
    """Fragile, judging a whole batch at once: a batch holding a failing cycle raises as a whole."""

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]:
        return [self.evaluate(cycle) for cycle in cycles]


async def run_strategy_stage(strategy: Strategy, batches: Sequence[EnrichedCycles]) -> list[StrategyReport]:
    cycle_send, cycle_receive = trio.open_memory_channel[EnrichedCycles](0)
    report_send, report_receive = trio.open_memory_channel[StrategyReports](0)
    reports: list[StrategyReport] = []
    async with trio.open_nursery() as nursery:
        await nursery.start(strategy_actor(strategy, cycle_receive, report_send).run)
        async with cycle_send:
            for batch in batches:
                await cycle_send.send(batch)
                reports += await report_receive.receive()
    return reports


async def test_strategy_stage_reports_failed_and_keeps_going() -> None:
    signals = [signal(s, "long", 7, p) for s in ("ETH", "BTC") for p in ("a", "b")]
    closes = {"ETH": 3_000.0, "BTC": 50_000.0}
    cycles = [cycle(signals, closes, number=n) for n in (1, 2, 3)]
    reports = await run_strategy_stage(Fragile(fail_on={2}), [(enriched,) for enriched in cycles])
    assert await run_strategy_stage(BatchFragile(fail_on={2}), [tuple(cycles)]) == reports  # one batch: the same

    assert [(r.cycle, r.strategy, r.status) for r in reports] == [
        (1, "fragile", "ok"),
        (2, "fragile", "failed"),
        (3, "fragile", "ok"),
    ]
    assert reports[1].candidates == ()
    assert reports[1].detail == "KeyError: 'no such thing'"
    assert [c.symbol for c in reports[2].candidates] == ["BTC", "ETH"]  # sorted by symbol
    assert all(c.taken for c in reports[2].candidates)
