"""Every batch method answers exactly what its per-cycle method answers, cycle by cycle.

The cycles are a replay's: every hour, the last 500 bars of each symbol that had closed by then. On real Binance
candles they start with each history's first hour (windows shorter than 500 bars, then the switch to full ones,
then BTC's and ETH's 34-hour outage of 2018-02, where windows repeat), and run through a stretch of 2024. The
answers are compared by ``repr``: its floats are written exactly, so equal text is equal bits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest

from actors.context import pcs_context, pcs_context_batch
from actors.producers.funding import FundingProducer
from actors.producers.momentum import MomentumProducer
from actors.producers.rsi import RSIProducer
from actors.strategies.actor import strategy_actor
from actors.strategies.batch import PerBatch, at_least, batch_spans
from actors.strategies.combined import CombinedStrategy
from actors.strategies.ma_crossover import MACrossoverStrategy
from actors.strategies.momentum import MomentumStrategy
from actors.strategies.rsi_oversold import RSIOversoldStrategy
from b1e55ed.cycle import CycleTick, EnrichedCycle
from b1e55ed.default_plugins import DEFAULT_PRODUCERS, DEFAULT_STRATEGIES
from b1e55ed.karma.book import KarmaBook
from b1e55ed.karma.config import KarmaConfig
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.market.funding import FundingHistory
from b1e55ed.market.replay import load_history
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Signal
from b1e55ed.plugins import BatchProducer, BatchStrategy, PluginSetup, Services

HOUR = 3_600_000
WINDOW = 500
BATCH = 512
SYMBOLS = ("BTC", "ETH", "SOL")


def utc_ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


def params(specs: Sequence[Any], name: str, **changes: Any) -> PluginSetup:
    (spec,) = [s for s in specs if s.name == name]
    return PluginSetup(name, HOUR, {**spec.params, **changes})


@cache
def real_market(data: Path) -> MarketState:
    history = load_history(data / "ohlcv_1h", list(SYMBOLS), end_ms=utc_ms(2024, 9, 1))
    state = MarketState(HOUR)
    for symbol, bars in history.bars.items():
        state.extend(symbol, bars)
    return state


def synthetic_market() -> MarketState:
    """Two symbols with hours missing (outages of 1 to 40 hours), flat stretches and silent volume."""
    state = MarketState(HOUR)
    rng = np.random.default_rng(7)
    for symbol, bars in (("AAA", 1_600), ("BBB", 1_100)):
        hours = np.arange(bars + 400)
        for start in rng.integers(0, len(hours) - 50, 8):
            hours[start:] += rng.integers(1, 40)  # a gap
        steps = rng.normal(0.0, 0.012, len(hours))
        for start in rng.integers(0, len(hours) - 50, 6):
            steps[start : start + 30] = 0.0
        close = 50.0 * np.exp(np.cumsum(steps))
        spread = np.abs(rng.normal(0.0, 0.003, len(hours))) * close
        volume = rng.gamma(2.0, 10.0, len(hours))
        volume[rng.random(len(hours)) < 0.1] = 0.0
        ts = utc_ms(2024, 1, 1) + hours * HOUR
        state.extend(symbol, BarArrays(ts, close, close + spread, close - spread, close, volume))
    return state


def as_ofs(state: MarketState, first_hours: int, start: int | None = None) -> list[int]:
    """Hourly cycles over ``first_hours`` hours from ``start`` (default: the earliest first close)."""
    first = min(int(state.series(s).columns.ts[0]) for s in state.symbols) + HOUR if start is None else start
    return [first + k * HOUR for k in range(first_hours)]


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def real_stretches(data: Path) -> list[list[int]]:
    state = real_market(data)
    return [as_ofs(state, 1_500), as_ofs(state, 1_200, utc_ms(2024, 7, 20))]


def markets(state: MarketState, cycles: Sequence[int]) -> list[dict[str, BarsView]]:
    return [dict(state.view(as_of, WINDOW).items()) for as_of in cycles]


def assert_producer_batches_match(producer: BatchProducer, state: MarketState, cycles: Sequence[int]) -> int:
    """For each symbol, each batch's answers against ``produce``'s; returns how many signals were compared."""
    views = markets(state, cycles)
    compared = 0
    for symbol in state.symbols:
        present = [(as_of, view[symbol]) for as_of, view in zip(cycles, views, strict=True) if symbol in view]
        expected = [producer.produce(symbol, bars, as_of) for as_of, bars in present]
        for size in (BATCH, 7):
            found = [
                signal
                for batch in batches(present, size)
                for signal in producer.produce_batch(symbol, [b for _, b in batch], [a for a, _ in batch])
            ]
            assert repr(found) == repr(expected)
        compared += sum(signal is not None for signal in expected)
    return compared


# -- producers --------------------------------------------------------------------------------------------------


def rsi_producer() -> RSIProducer:
    return RSIProducer(params(DEFAULT_PRODUCERS, "rsi"))


def momentum_producer() -> MomentumProducer:
    return MomentumProducer(params(DEFAULT_PRODUCERS, "momentum"))


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("make", [rsi_producer, momentum_producer], ids=["rsi", "momentum"])
def test_a_producer_batch_answers_what_produce_answers_for_every_real_cycle(
    shared_data: Path, make: Callable[[], BatchProducer]
) -> None:
    for cycles in real_stretches(shared_data):
        assert assert_producer_batches_match(make(), real_market(shared_data), cycles) > 1_000


@pytest.mark.slow
@pytest.mark.parametrize("make", [rsi_producer, momentum_producer], ids=["rsi", "momentum"])
def test_a_producer_batch_answers_what_produce_answers_across_gaps_and_flat_stretches(
    make: Callable[[], BatchProducer],
) -> None:
    state = synthetic_market()
    assert assert_producer_batches_match(make(), state, as_ofs(state, 2_200)) > 1_000


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_funding_batch_answers_what_produce_answers_for_every_real_cycle(shared_data: Path) -> None:
    funding = FundingHistory.load(shared_data / "funding", list(SYMBOLS))
    spec = params(DEFAULT_PRODUCERS, "funding", max_age_hours=6.0)  # stale now and then: "no data" too
    producer = FundingProducer(PluginSetup(spec.name, HOUR, spec.params, Services(funding=funding)))
    state = real_market(shared_data)
    cycles = as_ofs(state, 2_000, utc_ms(2024, 3, 1))  # SOL's funding starts in 2024-01
    assert assert_producer_batches_match(producer, state, cycles) > 3_000


def test_a_funding_producer_without_rates_answers_no_data_for_the_whole_batch() -> None:
    producer = FundingProducer(PluginSetup("funding", HOUR, {}, Services()))
    state = synthetic_market()
    cycles = as_ofs(state, 10)
    views = markets(state, cycles)
    assert producer.produce_batch("AAA", [view["AAA"] for view in views], cycles) == [None] * 10


# -- strategies -------------------------------------------------------------------------------------------------


def enriched(state: MarketState, cycles: Sequence[int]) -> list[EnrichedCycle]:
    """The cycles a strategy sees: the market views and the momentum producer's real signals."""
    producer = momentum_producer()
    found = []
    for number, (as_of, view) in enumerate(zip(cycles, markets(state, cycles), strict=True), start=1):
        signals: list[Signal] = [
            s for symbol in sorted(view) if (s := producer.produce(symbol, view[symbol], as_of)) is not None
        ]
        tick = CycleTick(cycle=number, as_of=as_of, source="replay", market=view)
        found.append(EnrichedCycle(tick=tick, signals=tuple(signals), context={}, producers={}))
    return found


@cache
def real_cycles(data: Path) -> list[list[EnrichedCycle]]:
    return [enriched(real_market(data), cycles) for cycles in real_stretches(data)]


def assert_strategy_batches_match(strategy: BatchStrategy, cycles: Sequence[EnrichedCycle]) -> int:
    """Each batch's candidates against ``evaluate``'s; returns how many candidates were compared."""
    expected = [strategy.evaluate(cycle) for cycle in cycles]
    for size in (BATCH, 5):
        found = [candidates for batch in batches(cycles, size) for candidates in strategy.evaluate_batch(batch)]
        assert repr(found) == repr(expected)
    return sum(len(candidates) for candidates in expected)


STRATEGIES: list[tuple[str, Callable[..., BatchStrategy], dict[str, Any]]] = [
    ("ma_crossover", MACrossoverStrategy, {}),
    ("ma_crossover", MACrossoverStrategy, {"ma": "ema"}),
    ("combined", CombinedStrategy, {}),
    ("combined", CombinedStrategy, {"ma": "ema", "trend": 100}),
    ("momentum", MomentumStrategy, {}),
    ("rsi_oversold", RSIOversoldStrategy, {}),
    ("rsi_oversold", RSIOversoldStrategy, {"oversold": 45}),  # many more candidates, and their support
]
STRATEGY_IDS = [
    f"{name}-{'-'.join(f'{k}={v}' for k, v in changes.items()) or 'default'}" for name, _, changes in STRATEGIES
]


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize(("name", "cls", "changes"), STRATEGIES, ids=STRATEGY_IDS)
def test_a_strategy_batch_judges_what_evaluate_judges_for_every_real_cycle(
    shared_data: Path, name: str, cls: Callable[..., BatchStrategy], changes: dict[str, Any]
) -> None:
    strategy = cls(params(DEFAULT_STRATEGIES, name, **changes))
    compared = sum(assert_strategy_batches_match(strategy, cycles) for cycles in real_cycles(shared_data))
    assert compared > 20


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cls", "changes"), STRATEGIES, ids=STRATEGY_IDS)
def test_a_strategy_batch_judges_what_evaluate_judges_across_gaps_and_flat_stretches(
    name: str, cls: Callable[..., BatchStrategy], changes: dict[str, Any]
) -> None:
    state = synthetic_market()
    strategy = cls(params(DEFAULT_STRATEGIES, name, **changes))
    assert assert_strategy_batches_match(strategy, enriched(state, as_ofs(state, 2_200))) > 5


def moving_market() -> tuple[list[int], list[dict[str, BarsView]]]:
    """A market whose series move to new buffers while a batch's views are taken (``BarSeries``' ``keep``), and
    cycles over it: a batch's windows then read two buffers."""
    source = synthetic_market()
    state = MarketState(HOUR, keep=WINDOW + 1)
    cycles = as_ofs(source, 2_200)
    views: list[dict[str, BarsView]] = []
    loaded = {symbol: 0 for symbol in source.symbols}
    for as_of in cycles:
        for symbol in source.symbols:
            columns = source.series(symbol).columns
            stop = int(np.searchsorted(columns.ts, as_of - HOUR, side="right"))
            if stop > loaded[symbol]:  # the bars closed by now, appended one call at a time
                state.extend(symbol, columns.slice(loaded[symbol], stop))
                loaded[symbol] = stop
        views.append(dict(state.view(as_of, WINDOW).items()))
    return cycles, views


@pytest.mark.slow
@pytest.mark.parametrize(("name", "cls", "changes"), STRATEGIES, ids=STRATEGY_IDS)
def test_a_batch_whose_windows_read_two_buffers_judges_what_evaluate_judges(
    name: str, cls: Callable[..., BatchStrategy], changes: dict[str, Any]
) -> None:
    cycles, views = moving_market()
    producer, found = momentum_producer(), []
    for number, (as_of, view) in enumerate(zip(cycles, views, strict=True), start=1):
        signals = [s for symbol in sorted(view) if (s := producer.produce(symbol, view[symbol], as_of)) is not None]
        tick = CycleTick(cycle=number, as_of=as_of, source="replay", market=view)
        found.append(EnrichedCycle(tick=tick, signals=tuple(signals), context={}, producers={}))
    assert any(
        len({id(c.tick.market[s].span[0]) for c in batch if s in c.tick.market}) > 1
        for batch in batches(found, BATCH)
        for s in ("AAA", "BBB")
    )
    strategy = cls(params(DEFAULT_STRATEGIES, name, **changes))
    assert assert_strategy_batches_match(strategy, found) > 5


def test_spans_gather_what_each_window_holds() -> None:
    cycles, views = moving_market()
    tick_cycles = [
        EnrichedCycle(tick=CycleTick(cycle=n, as_of=a, source="replay", market=v), signals=(), context={}, producers={})
        for n, (a, v) in enumerate(zip(cycles, views, strict=True), start=1)
    ]
    two = 0
    for batch in batches(tick_cycles, BATCH):
        for symbol, spans in batch_spans(tuple(batch)).items():
            windows = [c.tick.market[symbol] for c in batch if symbol in c.tick.market]
            assert spans.windows == windows
            two += len(spans.series) > 1
            long = at_least(spans, 60)
            kept = [w for w in windows if len(w) >= 60]
            assert np.array_equal(long.last("close", 60), np.stack([w.close[-60:] for w in kept]))
            assert np.array_equal(long.steps("volume", 7), np.stack([w.volume[-7:] for w in kept]).T)
            assert long.ends() == ([w.close_ts for w in kept], [w.last_close for w in kept])
    assert two > 0


def test_a_per_batch_answer_is_made_once_for_the_batch_at_hand() -> None:
    made: list[int] = []

    def count(cycles: Sequence[EnrichedCycle]) -> int:
        made.append(len(cycles))
        return len(made)

    def bare(*numbers: int) -> list[EnrichedCycle]:
        ticks = [CycleTick(cycle=n, as_of=n * HOUR, source="replay", market={}) for n in numbers]
        return [EnrichedCycle(tick=tick, signals=(), context={}, producers={}) for tick in ticks]

    answer = PerBatch(count)
    one, two = tuple(bare(1, 2)), tuple(bare(3))
    assert answer(one) == answer(one) == 1
    assert answer(two) == 2
    assert answer(one) == 3  # only the batch at hand is kept
    as_list = list(one)
    assert (answer(as_list), answer(as_list)) == (4, 5)  # a list is not kept


class Plain:
    """A strategy that sizes by its rule, without ``judge``: the actor evaluates it again once the rule is
    calibrated, as for any plug-in."""

    sizes_by_rule = True

    def __init__(self, inner: Any) -> None:
        self.name = inner.name
        self.evaluate = inner.evaluate
        self.evaluate_batch = inner.evaluate_batch


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "cls", "changes"),
    [("rsi_oversold", RSIOversoldStrategy, {"oversold": 45}), ("ma_crossover", MACrossoverStrategy, {"trend": 0})],
)
def test_the_actor_sizes_its_judgments_again_as_it_would_evaluate_again(
    name: str, cls: Callable[..., BatchStrategy], changes: dict[str, Any]
) -> None:
    """A judging strategy is judged once per batch and sized again under the rule's calibration: the reports, and
    the rule's karma, are those of evaluating it again."""
    state = synthetic_market()
    found = enriched(state, as_ofs(state, 2_200))
    config = KarmaConfig(min_samples=3, horizon_bars=48)
    answers = []
    for size in (BATCH, 1):
        for strategy in (
            cls(params(DEFAULT_STRATEGIES, name, **changes)),
            Plain(cls(params(DEFAULT_STRATEGIES, name, **changes))),
        ):
            book = KarmaBook(name, config, HOUR, WINDOW)
            compute = strategy_actor(strategy, None, None, book)._compute  # type: ignore[arg-type]
            answers.append([msgspec.json.encode(r) for batch in batches(found, size) for r in compute(tuple(batch))])
    assert answers[0] == answers[1] == answers[2] == answers[3]
    assert answers[0] == answers[1]
    calibrated = [r for r in answers[0] if b'"win_probability"' in r]
    assert len(calibrated) > 5


# -- PCS context ------------------------------------------------------------------------------------------------


def assert_context_batches_match(state: MarketState, cycles: Sequence[int]) -> None:
    views = markets(state, cycles)
    for symbol in state.symbols:
        windows = [view[symbol] for view in views if symbol in view]
        expected = [pcs_context(bars) for bars in windows]
        for size in (BATCH, 3):
            found = [context for batch in batches(windows, size) for context in pcs_context_batch(batch)]
            assert repr(found) == repr(expected)


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_context_batch_is_what_pcs_context_gives_for_every_real_cycle(shared_data: Path) -> None:
    for cycles in real_stretches(shared_data):
        assert_context_batches_match(real_market(shared_data), cycles)


@pytest.mark.slow
def test_the_context_batch_is_what_pcs_context_gives_across_gaps_and_flat_stretches() -> None:
    state = synthetic_market()
    assert_context_batches_match(state, as_ofs(state, 2_200))
