"""BatchPrices: a batch's marks and new bars, found for the whole batch at once, are MarketState's per cycle."""

from __future__ import annotations

import pytest

from actors.oms.prices import BatchPrices, CyclePrices
from b1e55ed.market.state import MarketState
from b1e55ed.messages import Bar

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR


def market(hours: dict[str, list[int]]) -> MarketState:
    """Each symbol's bars at the given hours after T0 (a missing hour is a gap), priced apart per symbol."""
    state = MarketState(HOUR)
    for offset, (symbol, indexes) in enumerate(sorted(hours.items())):
        for i in indexes:
            price = 100.0 * (offset + 1) + i
            state.series(symbol).append(Bar(T0 + i * HOUR, price, price + 2, price - 2, price + 1, 10.0 + i))
    return state


# SOL starts late, ETH has a gap, DOGE has no bar before the batch's end.
STATE = {"BTC": list(range(12)), "ETH": [0, 1, 2, 6, 7, 8, 9, 10, 11], "SOL": [5, 6, 7, 8, 9, 10, 11], "DOGE": [11]}


@pytest.mark.parametrize("as_ofs", [[T0 + h * HOUR for h in range(1, 11)], [T0 + 5 * HOUR], [T0, T0 + 3 * HOUR]])
def test_each_cycles_marks_are_the_markets_closes_as_of_it_never_the_batchs_end(as_ofs: list[int]) -> None:
    state = market(STATE)
    prices = BatchPrices(state, as_ofs)
    for as_of in as_ofs:
        assert prices.covers(as_of)
        marks = prices.marks(as_of)
        assert marks == state.closes_as_of(as_of)
        assert list(marks) == list(state.closes_as_of(as_of))
    assert not prices.covers(as_ofs[-1] + HOUR)


def test_new_bars_are_the_markets_between_any_two_times_up_to_a_cycle_of_the_batch() -> None:
    state = market(STATE)
    as_ofs = [T0 + h * HOUR for h in range(3, 11)]
    prices = BatchPrices(state, as_ofs)
    afters = [T0, T0 + HOUR, T0 + 2 * HOUR, *as_ofs]
    for symbol in [*STATE, "XRP"]:
        for as_of in as_ofs:
            for after in (a for a in afters if a <= as_of):
                assert prices.new_bars(symbol, after, as_of) == state.new_bars(symbol, after, as_of), (symbol, after)


def test_bars_appended_after_the_batch_started_are_not_read() -> None:
    state = market({"BTC": list(range(6))})
    as_ofs = [T0 + 5 * HOUR, T0 + 6 * HOUR]
    prices = BatchPrices(state, as_ofs)
    expected = state.closes_as_of(as_ofs[-1])
    state.series("BTC").append(Bar(T0 + 6 * HOUR, 1.0, 1.0, 1.0, 1.0, 1.0))
    assert prices.marks(as_ofs[-1]) == expected
    assert prices.new_bars("BTC", as_ofs[0], as_ofs[1]) == state.new_bars("BTC", as_ofs[0], as_ofs[1])


def test_the_oms_reader_answers_as_of_its_cycle_inside_the_batch_and_out_of_it() -> None:
    state = market(STATE)
    reader = CyclePrices(state)
    as_ofs = [T0 + h * HOUR for h in range(4, 9)]
    reader.start_batch(as_ofs)
    for as_of in [T0 + 2 * HOUR, *as_ofs, T0 + 11 * HOUR]:  # before the batch, each of its cycles, after it
        reader.as_of = as_of
        assert reader.marks() == state.closes_as_of(as_of)
        after = as_of - 3 * HOUR
        assert reader.new_bars(["BTC", "ETH", "XRP"], after) == {
            symbol: state.new_bars(symbol, after, as_of) for symbol in ["BTC", "ETH", "XRP"]
        }
