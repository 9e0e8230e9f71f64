"""Karma's book: the triple barrier as the paper venue would play it, uniqueness weights, the calibration they
earn, no look-ahead, and a restart that rebuilds the book from the log; and the column arithmetic under it gives
the same floats as the plain Python it replaces."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from b1e55ed.karma.book import PRODUCERS, KarmaBook, KarmaCycle, NewOpening
from b1e55ed.karma.config import KarmaConfig
from b1e55ed.karma.exits import LOSS, TIMEOUT, WIN, Bars, find_exits, mean_inverse
from b1e55ed.karma.positions import Positions, levels, round_like_python
from b1e55ed.market.bars import BarArrays, BarsView
from b1e55ed.market.batch import market_batch
from b1e55ed.market.state import MarketState
from b1e55ed.messages import (
    CycleStarted,
    Direction,
    Event,
    KarmaOutcome,
    KarmaScored,
    Signal,
    SignalRecorded,
    SnapshotRecorded,
)

HOUR = 3_600_000
Opens = dict[int, list[tuple[str, Direction, int]]]  # by bar: (source, direction, conviction)
T0 = 1_704_067_200_000  # 2024-01-01


def market(rows: Sequence[tuple[float, float, float, float]]) -> MarketState:
    """BTC bars from (open, high, low, close) rows, one an hour from T0."""
    state = MarketState(HOUR)
    o, h, low, c = (np.asarray(column, dtype=np.float64) for column in zip(*rows, strict=True))
    state.extend("BTC", BarArrays(T0 + HOUR * np.arange(len(rows)), o, h, low, c, np.ones(len(rows))))
    return state


def as_of(bar: int) -> int:
    """When bar ``bar`` closes: the as-of time of the cycle that first sees it."""
    return T0 + HOUR * (bar + 1)


def run(
    state: MarketState,
    opens: Opens,
    *,
    config: KarmaConfig | None = None,
    book: KarmaBook | None = None,
    cycles: range | None = None,
    batch: int = 1,
    window: int = 200,
    together: bool = False,
) -> tuple[KarmaBook, list[KarmaScored]]:
    """Score one cycle per bar, ``batch`` cycles at a time, opening ``opens[bar]`` (source, direction, conviction)
    at that bar's close; ``together``: each batch's markets made together, as the brain makes them."""
    book = book or KarmaBook(PRODUCERS, config or KarmaConfig(), HOUR, window)
    bars = range(len(state.series("BTC"))) if cycles is None else cycles
    inputs = []
    for bar in bars:
        view = state.view(as_of(bar), window=window)
        openings = [
            NewOpening(source, "BTC", direction, conviction, view["BTC"].last_close)
            for source, direction, conviction in opens.get(bar, [])
        ]
        inputs.append(KarmaCycle(cycle=bar, as_of=as_of(bar), ts=as_of(bar), market=view, openings=openings))
    scored = []
    for start in range(0, len(inputs), batch):
        chunk = inputs[start : start + batch]
        if together:
            made = market_batch(state, [cycle.as_of for cycle in chunk], {"BTC": range(len(chunk))}, window).markets
            chunk = [cycle._replace(market=market) for cycle, market in zip(chunk, made, strict=True)]
        scored += [s.event for s in book.score(chunk) if s.event is not None]
    return book, scored


def outcomes(scored: Sequence[KarmaScored]) -> list[KarmaOutcome]:
    return [outcome for event in scored for outcome in event.outcomes]


FLAT = (100.0, 100.5, 99.5, 100.0)


def test_the_target_first_is_a_win_at_the_target() -> None:
    state = market([FLAT, FLAT, (100.0, 104.0, 99.0, 103.0), (103.0, 111.0, 102.0, 110.0), FLAT])
    (win,) = outcomes(run(state, {0: [("rsi", "long", 7)]})[1])
    assert (win.result, win.exit, win.bars, win.closed) == ("win", 110.0, 3, as_of(3))
    assert win.ret == pytest.approx(0.10)
    assert (win.entry, win.weight, win.p) == (100.0, 1.0, None)


def test_the_stop_first_or_both_in_one_bar_is_a_loss() -> None:
    both = market([FLAT, (100.0, 111.0, 96.0, 100.0), FLAT])
    (loss,) = outcomes(run(both, {0: [("rsi", "long", 7)]})[1])
    assert (loss.result, loss.exit, loss.ret) == ("loss", 97.0, -0.03)
    short = market([FLAT, (100.0, 103.5, 99.0, 103.0), FLAT])
    (stopped,) = outcomes(run(short, {0: [("rsi", "short", 7)]})[1])
    assert (stopped.result, stopped.exit, stopped.ret) == ("loss", 103.0, -0.03)


def test_a_gap_fills_at_the_open_as_the_paper_venue_does() -> None:
    gap_down = market([FLAT, (95.0, 96.0, 94.0, 95.0)])
    (loss,) = outcomes(run(gap_down, {0: [("rsi", "long", 7)]})[1])
    assert (loss.result, loss.exit, loss.ret) == ("loss", 95.0, -0.05)
    gap_up = market([FLAT, (112.0, 113.0, 111.0, 112.0)])
    (win,) = outcomes(run(gap_up, {0: [("rsi", "long", 7)]})[1])
    assert (win.result, win.exit) == ("win", 112.0)
    assert win.ret == pytest.approx(0.12)


def test_the_time_limit_is_a_timeout_with_its_signed_return() -> None:
    state = market([FLAT, FLAT, FLAT, (100.0, 102.0, 99.0, 101.5), FLAT])
    (timeout,) = outcomes(run(state, {0: [("rsi", "short", 7)]}, config=KarmaConfig(horizon_bars=3))[1])
    assert (timeout.result, timeout.bars, timeout.exit, timeout.closed) == ("timeout", 3, 101.5, as_of(3))
    assert timeout.ret == pytest.approx(-0.015)


def test_overlapping_outcomes_share_their_weight() -> None:
    """Two positions of one source, three bars each, alive together over bars 2 and 3: the first's life counts
    1, ½, ½ and the second's ½, ½, 1, so each weighs 2/3. Another source's overlap does not count."""
    state = market([FLAT] * 6)
    events = run(
        state,
        {0: [("rsi", "long", 7)], 1: [("rsi", "long", 7), ("funding", "long", 7)]},
        config=KarmaConfig(horizon_bars=3),
    )[1]
    weights = {(o.source, o.opened): o.weight for o in outcomes(events)}
    assert weights == {
        ("rsi", as_of(0)): pytest.approx(2 / 3, abs=1e-6),
        ("rsi", as_of(1)): pytest.approx(2 / 3, abs=1e-6),
        ("funding", as_of(1)): 1.0,
    }


def test_calibration_waits_for_min_samples_then_is_monotone_in_conviction() -> None:
    """Losing 10s and winning 5s: the raw rates fall with conviction, the calibration may not."""
    rows = [FLAT]
    for _ in range(40):
        rows += [(100.0, 111.0, 99.5, 100.0)]  # every long wins at once, every short loses
    state = market(rows)
    opens: Opens = {bar: [("rsi", "long", 5), ("rsi", "short", 10)] for bar in range(40)}
    book, events = run(state, opens, config=KarmaConfig(min_samples=20, prior_strength=2))
    calibrated = [event for event in events if event.calibration]
    assert calibrated, "never calibrated"
    first = calibrated[0]
    assert sum(o.weight for e in events if e.cycle <= first.cycle for o in e.outcomes) >= 20
    table = book.tables["rsi"]
    values = [table[c] for c in range(1, 11)]
    assert values == sorted(values)
    assert 0.4 < table[5] == table[10] < 0.6  # pooled: the violators' weighted mean


def test_an_opening_carries_the_calibration_in_force_at_its_cycle() -> None:
    rows = [FLAT] + [(100.0, 111.0, 99.5, 100.0)] * 30
    _, events = run(market(rows), {bar: [("rsi", "long", 7)] for bar in range(30)}, config=KarmaConfig(min_samples=5))
    later = outcomes(events)[-1]
    assert later.p is not None
    assert later.p > 0.5


def test_nothing_after_t_changes_anything_scored_at_or_before_t() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300)))
    rows = [(c, c * 1.01, c * 0.99, c) for c in close]
    opens: Opens = {bar: [("rsi", "long" if bar % 3 else "short", 1 + bar % 10)] for bar in range(300)}
    config = KarmaConfig(min_samples=3, horizon_bars=24)
    _, original = run(market(rows), opens, config=config)
    cut = 150
    changed = rows[: cut + 1] + [(c * 2, c * 2.5, c * 0.5, c * 3) for c, *_ in rows[cut + 1 :]]
    _, altered = run(market(changed), opens, config=config)
    assert [e for e in original if e.as_of <= as_of(cut)] == [e for e in altered if e.as_of <= as_of(cut)]
    assert original != altered


@pytest.mark.parametrize("together", [False, True])
@pytest.mark.parametrize(("batch", "window"), [(7, 200), (64, 200), (500, 200), (500, 60)])
def test_batches_score_exactly_as_cycle_by_cycle(batch: int, window: int, together: bool) -> None:
    """Any batch, even one longer than a window minus the horizon (scored in spans, or at once when its markets
    were made together), gives the same events."""
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 400)))
    rows = [(c, c * 1.012, c * 0.988, c) for c in close]
    state = market(rows)
    opens: Opens = {
        bar: [("momentum", "long" if bar % 50 < 30 else "short", 1 + bar % 10)] for bar in range(400) if bar % 7
    }
    config = KarmaConfig(min_samples=3, horizon_bars=24)
    _, one = run(state, opens, config=config, window=window)
    _, many = run(state, opens, config=config, batch=batch, window=window, together=together)
    assert len(one) > 100
    assert many == one


def test_a_book_restored_from_the_log_goes_on_as_if_it_had_never_stopped() -> None:
    rng = np.random.default_rng(5)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 240)))
    rows = [(c, c * 1.01, c * 0.99, c) for c in close]
    state = market(rows)
    opens: Opens = {
        bar: [("rsi", "long" if bar % 4 else "short", 1 + bar % 10), ("momentum", "long", 6)] for bar in range(240)
    }
    config = KarmaConfig(min_samples=3, horizon_bars=24)
    _, whole = run(state, opens, config=config)

    stop = 120
    first, before = run(state, opens, config=config, cycles=range(stop))
    log = logged(state, opens, before, stop)
    restored = KarmaBook(PRODUCERS, config, HOUR, 200)
    restored.restore(log)
    assert restored.tables == first.tables
    _, after = run(state, opens, book=restored, cycles=range(stop, 240))
    assert before + after == whole


def logged(state: MarketState, opens: Opens, scored: list[KarmaScored], cycles: int) -> list[Event]:
    """What the log holds for these cycles, in the canonical order: tick, signals, karma, snapshot."""
    by_cycle = {event.cycle: event for event in scored}
    events: list[Event] = []
    for bar in range(cycles):
        close = float(state.view(as_of(bar))["BTC"].last_close)
        events.append(CycleStarted(ts=as_of(bar), cycle=bar, as_of=as_of(bar), source="replay", closes={"BTC": close}))
        for source, direction, conviction in opens.get(bar, []):
            signal = Signal(
                symbol="BTC", signal=direction, conviction=conviction, rationale="", producer=source, timestamp=0
            )
            events.append(SignalRecorded(ts=as_of(bar), cycle=bar, signal=signal))
        if bar in by_cycle:
            events.append(by_cycle[bar])
        events.append(SnapshotRecorded(ts=as_of(bar), cycle=bar, as_of=as_of(bar), context={}, producers={}))
    return events


def test_an_invalid_opening_opens_nothing_and_leaves_the_others_alone() -> None:
    state = market([FLAT, FLAT, (100.0, 104.0, 99.0, 103.0), (103.0, 111.0, 102.0, 110.0), FLAT])
    views = [state.view(as_of(bar), window=200) for bar in range(5)]
    openings = [
        NewOpening("rsi", "BTC", "long", 7, 0.0),
        NewOpening("rsi", "BTC", "long", 7, math.nan),
        NewOpening("rsi", "BTC", "long", 7, math.inf),
        NewOpening("rsi", "BTC", "long", 0, 100.0),
        NewOpening("rsi", "BTC", "long", 11, 100.0),
        NewOpening("momentum", "BTC", "long", 7, 100.0),
    ]
    book = KarmaBook(PRODUCERS, KarmaConfig(), HOUR, 200)
    scorings = book.score(
        [KarmaCycle(bar, as_of(bar), as_of(bar), views[bar], openings * (bar == 0)) for bar in range(5)]
    )
    (win,) = outcomes([s.event for s in scorings if s.event is not None])
    assert (win.source, win.result, win.exit) == ("momentum", "win", 110.0)
    assert not book.holds_any


def two_symbols(rows: int) -> MarketState:
    """BTC and ETH bars, one an hour from T0, each drifting its own way."""
    state = MarketState(HOUR)
    rng = np.random.default_rng(7)
    for symbol in ("BTC", "ETH"):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, rows)))
        ts = T0 + HOUR * np.arange(rows)
        state.extend(symbol, BarArrays(ts, close, close * 1.02, close * 0.98, close, np.ones(rows)))
    return state


def test_outcomes_are_logged_by_close_source_symbol_and_opening() -> None:
    state = two_symbols(120)
    book = KarmaBook(PRODUCERS, KarmaConfig(horizon_bars=12), HOUR, 60)
    cycles = []
    for bar in range(120):
        view = state.view(as_of(bar), window=60)
        openings = [
            NewOpening(source, symbol, "long" if bar % 3 else "short", 1 + bar % 10, view[symbol].last_close)
            for source in ("rsi", "momentum")
            for symbol in ("ETH", "BTC")
        ]
        cycles.append(KarmaCycle(bar, as_of(bar), as_of(bar), view, openings))
    events = [scoring.event for scoring in book.score(cycles) if scoring.event is not None]
    assert {o.symbol for o in outcomes(events)} == {"BTC", "ETH"}
    for event in events:
        keys = [(o.closed, o.source, o.symbol, o.opened) for o in event.outcomes]
        assert keys == sorted(keys)
        assert all(o.closed <= event.as_of for o in event.outcomes)


def test_a_symbol_missing_from_a_cycle_keeps_its_positions_until_its_bars_return() -> None:
    state = two_symbols(80)
    book = KarmaBook(PRODUCERS, KarmaConfig(horizon_bars=5), HOUR, 40)
    first = state.view(as_of(0), window=40)
    opening = [NewOpening("rsi", "ETH", "long", 7, first["ETH"].last_close)]
    without_eth = [
        KarmaCycle(bar, as_of(bar), as_of(bar), {"BTC": state.view(as_of(bar), window=40)["BTC"]})
        for bar in range(1, 10)
    ]
    assert all(s.event is None for s in book.score([KarmaCycle(0, as_of(0), as_of(0), first, opening), *without_eth]))
    assert book.holds_any
    (scoring,) = book.score([KarmaCycle(10, as_of(10), as_of(10), state.view(as_of(10), window=40))])
    assert scoring.event is not None
    (outcome,) = scoring.event.outcomes
    assert (outcome.symbol, outcome.opened) == ("ETH", as_of(0))
    assert not book.holds_any


def test_a_batch_made_together_with_a_gap_in_a_symbols_bars_scores_as_cycle_by_cycle() -> None:
    """As in a replay: a symbol without a candle at a close (ETH from bar 20 to 30) is absent from that cycle."""
    full = two_symbols(90)
    holding = {"BTC": list(range(90)), "ETH": [bar for bar in range(90) if not 20 <= bar <= 30]}
    state = MarketState(HOUR)
    for symbol, bars in holding.items():
        state.extend(symbol, full.series(symbol).columns.select(np.isin(np.arange(90), bars)))
    config = KarmaConfig(horizon_bars=6, min_samples=2)

    def cycle(bar: int, market: Mapping[str, BarsView]) -> KarmaCycle:
        closes = {symbol: bars.last_close for symbol, bars in market.items()}
        direction: Direction = "long" if bar % 4 else "short"
        openings = [NewOpening("rsi", symbol, direction, 1 + bar % 10, close) for symbol, close in closes.items()]
        return KarmaCycle(bar, as_of(bar), as_of(bar), market, openings)

    alone, together = KarmaBook(PRODUCERS, config, HOUR, 40), KarmaBook(PRODUCERS, config, HOUR, 40)
    one_by_one, batched = [], []
    for bar in range(90):
        view = state.view(as_of(bar), window=40)
        one_by_one += alone.score([cycle(bar, {s: view[s] for s in holding if bar in holding[s]})])
    for start in (0, 45):
        span = range(start, start + 45)
        held = {symbol: [bar - start for bar in holding[symbol] if bar in span] for symbol in holding}
        made = market_batch(state, [as_of(bar) for bar in span], held, 40)
        batched += together.score([cycle(bar, market) for bar, market in zip(span, made.markets, strict=True)])
    assert [s.event for s in batched] == [s.event for s in one_by_one]
    assert any(s.event is not None and any(o.symbol == "ETH" for o in s.event.outcomes) for s in batched)


# -- the columns under the book ----------------------------------------------------------------------------------


@settings(max_examples=300)
@given(st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=1, max_size=40))
def test_rounding_in_columns_gives_pythons_round_bit_for_bit(values: list[float]) -> None:
    halfway = [k / 512 for k in range(1, 2000, 2)]  # k/512 × 10^8 ends in .5 exactly: ties, to even
    decimals = [round(v, 3) + 5e-9 for v in values]  # near a tie, not on one
    for column in (values, halfway, decimals):
        rounded = round_like_python(np.array(column), 8).tolist()
        assert [x.hex() for x in rounded] == [round(x, 8).hex() for x in column]


def test_levels_are_a_trades_stop_and_target() -> None:
    stop, target = levels(np.array([100.0, 100.0, 0.1234567891]), np.array([True, False, True]), 3.0, 10.0)
    assert stop.tolist() == [round(100.0 * (1 - 3.0 / 100), 8), round(100.0 * (1 + 3.0 / 100), 8), 0.11975309]
    assert target.tolist() == [round(100.0 * (1 + 10.0 / 100), 8), 90.0, round(0.1234567891 * 1.1, 8)]


@given(st.lists(st.integers(0, 60), min_size=1, max_size=300), st.data())
def test_mean_inverse_is_the_fsum_mean_bit_for_bit(counts: list[int], data: st.DataObject) -> None:
    spans = data.draw(st.lists(st.tuples(st.integers(0, len(counts) - 1), st.integers(0, 240)), max_size=30))
    first = [a for a, _ in spans]
    last = [min(a + n, len(counts) - 1) for a, n in spans]
    inverse = [1.0 / max(c, 1) for c in counts]
    expected = [math.fsum(inverse[a : b + 1]) / (b - a + 1) for a, b in zip(first, last, strict=True)]
    got = mean_inverse(np.array(counts), np.array(first, dtype=np.int64), np.array(last, dtype=np.int64))
    assert [x.hex() for x in got.tolist()] == [x.hex() for x in expected]


def test_mean_inverse_sums_with_fsum_where_words_would_overflow() -> None:
    counts = np.array([1, 3, 2**45, 7] * 50)  # 1/2**45 needs 98 bits: 200 of them overflow two words
    first, last = np.array([0, 5, 1]), np.array([199, 5, 150])
    inverse = [1.0 / c for c in counts.tolist()]
    expected = [math.fsum(inverse[a : b + 1]) / (b - a + 1) for a, b in [(0, 199), (5, 5), (1, 150)]]
    assert mean_inverse(counts, first, last).tolist() == expected


def bar_by_bar(
    view: BarsView, first: int, long: bool, stop: float, target: float, horizon: int
) -> tuple[int, int, float] | None:
    """The exit the paper venue would see, one bar after the other from ``first``: (result, bar, price)."""
    end = min(first + horizon, len(view))
    for i in range(first, end):
        low, high, bar_open = float(view.low[i]), float(view.high[i]), float(view.open[i])
        if (low <= stop) if long else (high >= stop):
            return LOSS, i, bar_open if ((bar_open <= stop) if long else (bar_open >= stop)) else stop
        if (high >= target) if long else (low <= target):
            return WIN, i, bar_open if ((bar_open >= target) if long else (bar_open <= target)) else target
    return (TIMEOUT, first + horizon - 1, float(view.close[first + horizon - 1])) if end == first + horizon else None


@pytest.mark.parametrize("seed", range(6))
def test_exits_found_in_columns_are_the_ones_bar_by_bar(seed: int) -> None:
    rng = np.random.default_rng(seed)
    drifting = two_symbols(300)
    close = drifting.series("ETH").columns.close
    low = np.where(np.isin(np.arange(300), rng.integers(0, 300, 12)), np.nan, close * 0.98)  # bars without a low
    state = MarketState(HOUR)
    state.extend("BTC", drifting.series("BTC").columns)
    state.extend("ETH", BarArrays(T0 + HOUR * np.arange(300), close, close * 1.02, low, close, np.ones(300)))
    views = state.view(as_of(299), window=int(rng.choice([50, 120, 300])))
    count, horizon = 400, int(rng.integers(1, 60))
    symbol = rng.integers(0, 2, count)
    long = rng.random(count) < 0.5
    opened = as_of(0) + HOUR * rng.integers(-20, 300, count)
    entry = 100 * np.exp(rng.normal(0, 0.3, count))
    stop, target = levels(entry, long, float(rng.choice([1.0, 3.0])), float(rng.choice([2.0, 10.0])))
    whole = np.zeros(count, dtype=np.int64)
    positions = Positions(symbol, whole, long, whole + 5, opened, entry, stop, target, [None] * count)
    bars = Bars.of([views["BTC"], views["ETH"]], HOUR)
    first = bars.after(symbol, opened)
    exits = find_exits(positions, first, bars, horizon)
    how = zip(exits.result.tolist(), exits.last.tolist(), exits.price.tolist(), strict=True)
    found = dict(zip(exits.rows.tolist(), how, strict=True))
    assert len(found) > count // 4
    for row in range(count):
        view = views["BTC" if symbol[row] == 0 else "ETH"]
        expected = bar_by_bar(view, int(first[row]), bool(long[row]), float(stop[row]), float(target[row]), horizon)
        assert found.get(row) == expected, row
