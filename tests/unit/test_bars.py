"""Columnar bars: appending, read-only windows as of a time, and what a paper venue has not yet seen."""

from __future__ import annotations

import numpy as np
import pytest

from b1e55ed.market.bars import BarArrays, BarSeries
from b1e55ed.market.batch import batch_of, market_batch, windows_by_symbol
from b1e55ed.market.feed import CloseBatch
from b1e55ed.market.state import MarketState
from b1e55ed.market.windows import one_series
from b1e55ed.messages import Bar

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR


def bar(i: int, close: float | None = None) -> Bar:
    """The bar opening ``i`` hours after T0."""
    price = 100.0 + i if close is None else close
    return Bar(T0 + i * HOUR, price, price + 1.0, price - 1.0, price, 10.0 + i)


def state_with(symbols: dict[str, list[int]]) -> MarketState:
    """A market with bars at the given hour offsets, added batch by batch in close order."""
    state = MarketState(HOUR)
    for i in sorted({i for hours in symbols.values() for i in hours}):
        bars = {symbol: bar(i) for symbol, hours in symbols.items() if i in hours}
        state.add(CloseBatch(T0 + (i + 1) * HOUR, bars))
    return state


def test_series_grows_past_its_capacity_and_keeps_every_bar() -> None:
    series = BarSeries("BTC", capacity=2)
    for i in range(100):
        series.append(bar(i))
    assert len(series) == 100
    np.testing.assert_array_equal(series.columns.ts, T0 + HOUR * np.arange(100))
    np.testing.assert_array_equal(series.columns.close, 100.0 + np.arange(100))


def test_append_rejects_a_bar_not_after_the_last() -> None:
    series = BarSeries("ETH")
    series.append(bar(5))
    with pytest.raises(ValueError, match=rf"ETH: bar at ts={T0 + 5 * HOUR} is not after"):
        series.append(bar(5))
    with pytest.raises(ValueError, match="ETH"):
        series.append(bar(4))


def test_extend_arrays_checks_order_and_continues_the_series() -> None:
    series = BarSeries("SOL", capacity=4)
    series.append(bar(0))
    ts = T0 + HOUR * np.arange(1, 11)
    prices = 100.0 + np.arange(1, 11)
    series.extend_arrays(ts, prices, prices + 1, prices - 1, prices, np.ones(10))
    assert len(series) == 11
    assert series.last_ts == T0 + 10 * HOUR
    assert series.last_close == 110.0
    with pytest.raises(ValueError, match="SOL: ts not strictly increasing at row 1"):
        series.extend_arrays([T0 + 20 * HOUR, T0 + 20 * HOUR], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1])
    with pytest.raises(ValueError, match="not after the last bar"):
        series.extend_arrays([T0], [1], [1], [1], [1], [1])
    with pytest.raises(ValueError, match="differ in length"):
        series.extend_arrays([T0 + 30 * HOUR], [1, 2], [1], [1], [1], [1])
    assert len(series) == 11


def test_view_holds_the_bars_closed_by_as_of_up_to_the_window() -> None:
    state = state_with({"BTC": list(range(10))})
    view = state.view(as_of=T0 + 5 * HOUR, window=3)["BTC"]  # bars 0..4 have closed
    assert len(view) == 3
    np.testing.assert_array_equal(view.ts, T0 + HOUR * np.array([2, 3, 4]))
    assert view.last_close == 104.0
    assert view.close_ts == T0 + 5 * HOUR
    assert view.last_bar() == bar(4)
    # One ms before bar 4 closes, it is not in the view.
    assert state.view(as_of=T0 + 5 * HOUR - 1)["BTC"].last_close == 103.0


def test_view_columns_are_read_only_slices_not_copies() -> None:
    state = state_with({"BTC": list(range(50))})
    view = state.view(as_of=T0 + 50 * HOUR, window=20)["BTC"]
    whole = state.series("BTC").columns
    for column, full in [(view.ts, whole.ts), (view.open, whole.open), (view.close, whole.close)]:
        assert not column.flags.writeable
        assert np.shares_memory(column, full)
    with pytest.raises(ValueError, match="read-only"):
        view.close[0] = 0.0


def test_an_earlier_view_does_not_change_as_bars_arrive_and_buffers_grow() -> None:
    state = MarketState(HOUR)
    state.add(CloseBatch(T0 + HOUR, {"BTC": bar(0)}))
    view = state.view(as_of=T0 + HOUR)["BTC"]
    for i in range(1, 3000):  # well past the initial capacity: the buffers are reallocated
        state.add(CloseBatch(T0 + (i + 1) * HOUR, {"BTC": bar(i)}))
    assert len(view) == 1
    assert view.last_close == 100.0
    assert len(state.view(as_of=T0 + 3000 * HOUR, window=500)["BTC"]) == 500


def test_view_leaves_out_symbols_without_data_yet() -> None:
    state = state_with({"BTC": [0, 1, 2, 3], "SOL": [2, 3]})
    early = state.view(as_of=T0 + 2 * HOUR)
    assert list(early) == ["BTC"]
    assert "SOL" not in early
    assert sorted(state.view(as_of=T0 + 4 * HOUR)) == ["BTC", "SOL"]
    assert early.as_of == T0 + 2 * HOUR


def test_view_keeps_a_gap_as_a_gap() -> None:
    state = state_with({"BTC": [0, 1, 2, 3, 4], "ETH": [0, 1, 4]})  # ETH has no bars 2 and 3
    eth = state.view(as_of=T0 + 4 * HOUR)["ETH"]  # as of bar 3's close: ETH's latest is still bar 1
    assert eth.close_ts == T0 + 2 * HOUR
    np.testing.assert_array_equal(state.view(as_of=T0 + 5 * HOUR)["ETH"].ts, T0 + HOUR * np.array([0, 1, 4]))


def test_views_of_many_as_of_times_are_each_times_view() -> None:
    state = state_with({"BTC": [0, 1, 2, 3, 4], "ETH": [0, 1, 4], "SOL": [3, 4]})
    as_ofs = [T0 + hour * HOUR for hour in (0, 1, 2, 3, 4, 5, 9)]
    for view, as_of in zip(state.views(as_ofs, window=2), as_ofs, strict=True):
        one = state.view(as_of, window=2)
        assert view.as_of == as_of
        assert {s: bars.span[1:] for s, bars in view.items()} == {s: bars.span[1:] for s, bars in one.items()}


def test_add_rejects_a_bar_that_does_not_close_at_the_batch_time() -> None:
    state = MarketState(HOUR)
    with pytest.raises(ValueError, match=r"BTC: bar ts=\d+ does not close at"):
        state.add(CloseBatch(T0 + 2 * HOUR, {"BTC": bar(0)}))


def test_new_bars_are_those_closed_after_one_time_up_to_another() -> None:
    state = state_with({"BTC": list(range(10))})
    new = state.new_bars("BTC", after_ts=T0 + 3 * HOUR, as_of=T0 + 6 * HOUR)
    assert new == [bar(3), bar(4), bar(5)]
    assert state.new_bars("BTC", after_ts=T0 + 6 * HOUR, as_of=T0 + 6 * HOUR) == []
    assert state.new_bars("DOGE", after_ts=0, as_of=T0 + 6 * HOUR) == []


def test_last_close_is_none_for_an_unknown_symbol() -> None:
    state = state_with({"BTC": [0, 1]})
    assert state.last_close("BTC") == 101.0
    assert state.last_close("ETH") is None


def test_bulk_history_then_batches() -> None:
    state = MarketState(HOUR)
    ts = T0 + HOUR * np.arange(5)
    prices = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    state.extend("BTC", BarArrays(ts, prices, prices, prices, prices, prices))
    state.add(CloseBatch(T0 + 6 * HOUR, {"BTC": bar(5)}))
    view = state.view(as_of=T0 + 6 * HOUR)["BTC"]
    np.testing.assert_array_equal(view.close, [1.0, 2.0, 3.0, 4.0, 5.0, 105.0])
    assert state.symbols == ["BTC"]


def test_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="window"):
        MarketState(HOUR).view(as_of=T0, window=0)


def test_a_bounded_series_keeps_its_last_bars_and_stays_small_however_long_it_runs() -> None:
    series = BarSeries("BTC", capacity=8, keep=100)
    early = None
    for n in range(100_000):
        series.append(Bar(n * 60_000, 1.0 + n, 2.0 + n, 0.5 + n, 1.5 + n, 10.0))
        if n == 150:
            early = series.view(len(series) - 100, len(series), 60_000)
            early_closes = early.close.copy()
        assert len(series) <= 2 * 100
    assert early is not None
    assert list(early.close) == list(early_closes)  # a view taken before is untouched by what came after
    closes = series.columns.close
    assert len(closes) >= 100
    assert list(closes[-100:]) == [1.5 + n for n in range(100_000 - 100, 100_000)]


def test_a_bounded_market_gives_the_same_windows_as_an_unbounded_one() -> None:
    bounded, unbounded = MarketState(60_000, keep=50), MarketState(60_000)
    for n in range(1_000):
        batch = CloseBatch(close_ts=(n + 1) * 60_000, bars={"BTC": Bar(n * 60_000, n, n + 1, n - 1, n + 0.5, 1.0)})
        bounded.add(batch)
        unbounded.add(batch)
        as_of = (n + 1) * 60_000
        assert list(bounded.view(as_of, 40)["BTC"].close) == list(unbounded.view(as_of, 40)["BTC"].close)
        after = as_of - 5 * 60_000
        assert bounded.new_bars("BTC", after, as_of) == unbounded.new_bars("BTC", after, as_of)


def test_a_batch_gives_each_cycle_the_views_of_the_symbols_it_holds_as_view_does() -> None:
    state = state_with({"BTC": [0, 1, 2, 3, 4], "ETH": [0, 1, 4], "SOL": [3, 4]})
    as_ofs = [T0 + hour * HOUR for hour in (1, 2, 3, 4, 5)]
    holding = {"BTC": [0, 1, 2, 3, 4], "ETH": [0, 4], "SOL": [3, 4], "XRP": [2]}  # XRP: no bars at all
    markets, closes_by_cycle, batch = market_batch(state, as_ofs, holding, window=2)
    for index, (as_of, market, closes) in enumerate(zip(as_ofs, markets, closes_by_cycle, strict=True)):
        whole = state.view(as_of, window=2)
        held = [symbol for symbol in sorted(holding) if index in holding[symbol] and symbol in whole]
        assert market.as_of == as_of
        assert list(market) == held
        assert {s: bars.span for s, bars in market.items()} == {s: whole[s].span for s in held}
        assert closes == {s: whole[s].last_close for s in held}
    assert batch.symbols["ETH"].cycles == [0, 4]
    assert batch.symbols["ETH"].as_ofs == [as_ofs[0], as_ofs[4]]
    assert list(batch.symbols["SOL"].windows) == [markets[3]["SOL"], markets[4]["SOL"]]
    assert [(market.batch, market.position) for market in markets] == [(batch, index) for index in range(5)]
    assert "XRP" not in batch.symbols


def test_a_batchs_windows_say_where_they_lie_as_each_window_does() -> None:
    state = state_with({"BTC": list(range(12))})
    early = market_batch(state, [T0 + hour * HOUR for hour in range(2, 13)], {"BTC": range(11)}, window=4).batch
    assert one_series(early.symbols["BTC"].windows) is one_series(list(early.symbols["BTC"].windows)) is None
    late = market_batch(state, [T0 + hour * HOUR for hour in range(5, 13)], {"BTC": range(8)}, window=4).batch
    shared, own = one_series(late.symbols["BTC"].windows), one_series(list(late.symbols["BTC"].windows))
    assert shared is not None
    assert own is not None
    assert (shared.columns, shared.starts.tolist(), shared.length) == (own.columns, own.starts.tolist(), own.length)


def test_stages_find_the_batch_their_markets_were_made_in_or_gather_the_windows_themselves() -> None:
    state = state_with({"BTC": [0, 1, 2, 3], "ETH": [1, 3]})
    as_ofs = [T0 + hour * HOUR for hour in (2, 3, 4)]
    markets, _, batch = market_batch(state, as_ofs, {"BTC": [0, 1, 2], "ETH": [0, 2]}, window=3)
    assert batch_of(markets) is batch
    assert batch_of(markets[1:]) is None
    assert batch_of(markets[::-1]) is None
    assert batch_of([dict(market) for market in markets]) is None
    assert windows_by_symbol(markets, as_ofs) is batch.symbols
    gathered = windows_by_symbol([dict(market) for market in markets], as_ofs)
    assert list(gathered) == ["BTC", "ETH"]
    for symbol, (cycles, times, windows) in gathered.items():
        assert (cycles, times, list(windows)) == (
            batch.symbols[symbol].cycles,
            batch.symbols[symbol].as_ofs,
            list(batch.symbols[symbol].windows),
        )


def test_a_market_view_reads_as_the_mapping_of_its_windows() -> None:
    state = state_with({"BTC": [0, 1, 2], "ETH": [1, 2]})
    view = state.view(T0 + 3 * HOUR, window=2)
    windows = {"BTC": view["BTC"], "ETH": view["ETH"]}
    assert dict(view.items()) == windows
    assert list(view.keys()) == list(windows)
    assert list(view.values()) == list(windows.values())
    assert "ETH" in view
    assert "SOL" not in view
    assert view.get("SOL") is None
    assert view == windows
