"""PaperVenue: fills at the next open with slippage and fees, stops and targets on high/low, OCO, restore."""

from __future__ import annotations

import msgspec
import pytest
import trio
import trio.testing

from b1e55ed.messages import Bar, OrderRole, Side
from b1e55ed.venues.base import OrderState, Venue, VenueFill, VenueOrder
from b1e55ed.venues.fees import FeeSchedule, SlippageModel
from b1e55ed.venues.paper import PaperVenue

HOUR = 3_600_000
T = 1_000 * HOUR  # the close of the bar a decision used, and the open of the bar its orders fill on
TAKER = 0.00045


def make_venue(latency_s: float = 0.0) -> PaperVenue:
    return PaperVenue(fees=FeeSchedule(), slippage=SlippageModel(), latency_s=latency_s, timeframe_ms=HOUR)


def candle(ts: int, open_: float, high: float, low: float, volume: float = 1_000.0) -> Bar:
    return Bar(ts, open_, high, low, (high + low) / 2, volume)


def expected_price(reference: float, side: Side, bar: Bar, size: float) -> float:
    """The documented formula with the default model: base 1 bp + 0.1 × range + 0.1 × participation, capped 5%."""
    fraction = 1.0 / 1e4 + 0.1 * (bar.high - bar.low) / bar.open + 0.1 * (size * reference) / (bar.volume * bar.open)
    fraction = min(fraction, 0.05)
    return reference * (1 + fraction) if side == "buy" else reference * (1 - fraction)


def market(
    cloid: str,
    side: Side,
    size: float,
    *,
    symbol: str = "BTC",
    not_before: int = T,
    price: float = 100.0,
    role: OrderRole = "entry",
    reduce_only: bool = False,
) -> VenueOrder:
    return VenueOrder(
        cloid=cloid,
        symbol=symbol,
        side=side,
        size=size,
        role=role,
        reduce_only=reduce_only,
        reference_price=price,
        not_before=not_before,
    )


def trigger(
    cloid: str, role: OrderRole, side: Side, size: float, price: float, *, symbol: str = "BTC", not_before: int = T
) -> VenueOrder:
    return VenueOrder(
        cloid=cloid,
        symbol=symbol,
        side=side,
        size=size,
        role=role,
        reduce_only=True,
        trigger_price=price,
        not_before=not_before,
    )


async def submit_all(venue: PaperVenue, *orders: VenueOrder) -> None:
    for order in orders:
        ack = await venue.submit(order)
        assert ack.accepted, ack.reason


async def open_long(venue: PaperVenue, size: float = 2.0) -> VenueFill:
    """A long of ``size`` BTC filled at 100 × (1 + slippage) on the bar opening at T."""
    await submit_all(venue, market("entry", "buy", size))
    [fill] = await venue.poll({"BTC": [candle(T, 100.0, 102.0, 99.0)]})
    return fill


def test_paper_venue_satisfies_the_protocol() -> None:
    venue: Venue = make_venue()
    assert venue.name == "paper"


def test_fee_and_slippage_configs_are_strict_frozen_structs() -> None:
    assert msgspec.json.decode(b'{"taker": 0.0005}', type=FeeSchedule) == FeeSchedule(taker=0.0005, maker=0.00015)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.json.decode(b'{"takr": 0.0005}', type=FeeSchedule)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"base_bps": -1}', type=SlippageModel)


def test_slippage_is_capped_and_a_bar_without_volume_costs_the_cap() -> None:
    model = SlippageModel()
    assert model.fraction(candle(T, 100.0, 200.0, 50.0), 1_000.0) == 0.05
    assert model.fraction(candle(T, 100.0, 101.0, 99.0, volume=0.0), 1_000.0) == 0.05


async def test_long_entry_fills_at_the_next_bar_open_with_slippage_and_taker_fee() -> None:
    venue = make_venue()
    await submit_all(venue, market("entry", "buy", 2.0))
    assert await venue.poll({"BTC": [candle(T - HOUR, 95.0, 96.0, 94.0)]}) == []  # the bar the decision saw
    fill_bar = candle(T, 100.0, 102.0, 99.0)
    [fill] = await venue.poll({"BTC": [fill_bar]})
    # by hand: 1e-4 + 0.1 × 3/100 + 0.1 × 200/(1000 × 100) = 0.0033
    assert fill.price == pytest.approx(100.33)
    assert fill.price == pytest.approx(expected_price(100.0, "buy", fill_bar, 2.0))
    assert fill.fee == pytest.approx(2.0 * fill.price * TAKER)
    assert (fill.ts, fill.side, fill.size, fill.role, fill.liquidity) == (T, "buy", 2.0, "entry", "taker")
    [position] = await venue.positions()
    assert (position.symbol, position.size, position.entry_price) == ("BTC", 2.0, fill.price)
    assert await venue.order_state("entry") == OrderState(
        cloid="entry", status="filled", filled_size=2.0, average_price=fill.price
    )
    assert await venue.open_orders() == []


async def test_short_entry_is_mirrored() -> None:
    venue = make_venue()
    await submit_all(venue, market("short", "sell", 2.0))
    fill_bar = candle(T, 100.0, 102.0, 99.0)
    [fill] = await venue.poll({"BTC": [fill_bar]})
    assert fill.price == pytest.approx(99.67)
    assert fill.price == pytest.approx(expected_price(100.0, "sell", fill_bar, 2.0))
    assert fill.fee == pytest.approx(2.0 * fill.price * TAKER)
    [position] = await venue.positions()
    assert (position.size, position.entry_price) == (-2.0, fill.price)


@pytest.mark.parametrize(("open_", "reference"), [(98.0, 95.0), (93.0, 93.0)], ids=["touched", "gapped-down"])
async def test_stop_on_the_bar_low_closes_at_the_stop_or_the_gapped_open(open_: float, reference: float) -> None:
    venue = make_venue()
    await open_long(venue)
    await submit_all(venue, trigger("stop", "stop", "sell", 2.0, 95.0), trigger("target", "target", "sell", 2.0, 110.0))
    bar = candle(T + HOUR, open_, max(open_, 99.0), 90.0)
    [fill] = await venue.poll({"BTC": [bar]})
    assert (fill.cloid, fill.side, fill.size, fill.ts) == ("stop", "sell", 2.0, T + HOUR)
    assert fill.price == pytest.approx(expected_price(reference, "sell", bar, 2.0))
    assert fill.fee == pytest.approx(2.0 * fill.price * TAKER)
    assert await venue.positions() == []
    assert await venue.open_orders() == []
    assert await venue.order_state("target") == OrderState(cloid="target", status="cancelled")


@pytest.mark.parametrize(("open_", "reference"), [(105.0, 110.0), (112.0, 112.0)], ids=["touched", "gapped-up"])
async def test_target_on_the_bar_high_closes_at_the_target_or_the_better_open(open_: float, reference: float) -> None:
    venue = make_venue()
    await open_long(venue)
    await submit_all(venue, trigger("stop", "stop", "sell", 2.0, 95.0), trigger("target", "target", "sell", 2.0, 110.0))
    bar = candle(T + HOUR, open_, 113.0, open_ - 1.0)
    [fill] = await venue.poll({"BTC": [bar]})
    assert (fill.cloid, fill.role) == ("target", "target")
    assert fill.price == pytest.approx(expected_price(reference, "sell", bar, 2.0))
    assert await venue.order_state("stop") == OrderState(cloid="stop", status="cancelled")


async def test_short_stop_and_target_trigger_on_the_mirrored_side() -> None:
    venue = make_venue()
    await submit_all(
        venue,
        market("short", "sell", 2.0),
        trigger("stop", "stop", "buy", 2.0, 105.0),
        trigger("target", "target", "buy", 2.0, 90.0),
    )
    await venue.poll({"BTC": [candle(T, 100.0, 102.0, 99.0)]})
    assert await venue.poll({"BTC": [candle(T + HOUR, 100.0, 104.0, 91.0)]}) == []
    bar = candle(T + 2 * HOUR, 100.0, 106.0, 99.0)
    [fill] = await venue.poll({"BTC": [bar]})
    assert (fill.cloid, fill.side) == ("stop", "buy")
    assert fill.price == pytest.approx(expected_price(105.0, "buy", bar, 2.0))
    assert await venue.positions() == []


async def test_stop_and_target_inside_one_bar_stop_goes_first_and_cancels_the_target() -> None:
    venue = make_venue()
    await open_long(venue)
    # submitted target first: the order of submission must not matter, the stop is the conservative answer
    await submit_all(venue, trigger("target", "target", "sell", 2.0, 110.0), trigger("stop", "stop", "sell", 2.0, 95.0))
    bar = candle(T + HOUR, 100.0, 111.0, 94.0)
    [fill] = await venue.poll({"BTC": [bar]})
    assert fill.cloid == "stop"
    assert fill.price == pytest.approx(expected_price(95.0, "sell", bar, 2.0))
    assert await venue.order_state("target") == OrderState(cloid="target", status="cancelled")
    assert await venue.open_orders() == []


async def test_stop_submitted_with_its_entry_is_live_from_the_entry_bar() -> None:
    venue = make_venue()
    await submit_all(venue, market("entry", "buy", 2.0), trigger("stop", "stop", "sell", 2.0, 98.0))
    entry_bar = candle(T, 100.0, 101.0, 97.0)
    entry, stop = await venue.poll({"BTC": [entry_bar]})
    assert (entry.cloid, stop.cloid) == ("entry", "stop")
    assert stop.price == pytest.approx(expected_price(98.0, "sell", entry_bar, 2.0))
    assert await venue.positions() == []


async def test_cancelling_an_unfilled_entry_cancels_the_stop_waiting_for_it() -> None:
    venue = make_venue()
    await submit_all(venue, market("entry", "buy", 2.0), trigger("stop", "stop", "sell", 2.0, 98.0))
    assert await venue.cancel("entry")
    assert not await venue.cancel("entry")
    assert await venue.order_state("stop") == OrderState(cloid="stop", status="cancelled")
    assert await venue.poll({"BTC": [candle(T, 100.0, 101.0, 97.0)]}) == []


async def test_reduce_only_fill_is_capped_at_the_position_and_the_rest_are_cancelled_when_flat() -> None:
    venue = make_venue()
    await open_long(venue, size=2.0)
    await submit_all(
        venue,
        trigger("stop", "stop", "sell", 2.0, 90.0),
        market("exit", "sell", 5.0, role="exit", reduce_only=True, not_before=T + HOUR),
    )
    bar = candle(T + HOUR, 101.0, 102.0, 100.0)
    [fill] = await venue.poll({"BTC": [bar]})
    assert (fill.cloid, fill.size) == ("exit", 2.0)
    assert fill.price == pytest.approx(expected_price(101.0, "sell", bar, 2.0))
    assert await venue.positions() == []
    assert await venue.order_state("exit") == OrderState(
        cloid="exit", status="filled", filled_size=2.0, average_price=fill.price
    )
    assert await venue.order_state("stop") == OrderState(cloid="stop", status="cancelled")


async def test_adding_to_a_position_averages_the_entry_and_reducing_keeps_it() -> None:
    venue = make_venue()
    first = await open_long(venue, size=1.0)
    await submit_all(venue, market("add", "buy", 3.0, not_before=T + HOUR))
    [second] = await venue.poll({"BTC": [candle(T + HOUR, 110.0, 111.0, 109.0)]})
    [position] = await venue.positions()
    assert position.size == 4.0
    assert position.entry_price == pytest.approx((1.0 * first.price + 3.0 * second.price) / 4.0)
    await submit_all(venue, market("trim", "sell", 1.0, role="exit", reduce_only=True, not_before=T + 2 * HOUR))
    await venue.poll({"BTC": [candle(T + 2 * HOUR, 120.0, 121.0, 119.0)]})
    assert await venue.positions() == [msgspec.structs.replace(position, size=3.0)]


async def test_rejections_name_the_rule_and_spend_the_cloid() -> None:
    venue = make_venue()
    await open_long(venue)
    cases = {
        "entry": (market("entry", "buy", 1.0), "duplicate cloid"),
        "zero": (market("zero", "buy", 0.0), "size must be positive"),
        "nan": (market("nan", "buy", float("nan")), "size must be positive"),
        "small": (market("small", "buy", 0.09, price=100.0), "below min_notional"),
        "unpriced": (msgspec.structs.replace(market("unpriced", "buy", 1.0), reference_price=None), "reference_price"),
        "grow": (trigger("grow", "stop", "buy", 1.0, 90.0), "reduce-only with no position"),
        "eth": (trigger("eth", "stop", "sell", 1.0, 90.0, symbol="ETH"), "reduce-only with no position"),
        "loose": (
            msgspec.structs.replace(trigger("loose", "stop", "sell", 1.0, 90.0), reduce_only=False),
            "must be reduce-only",
        ),
    }
    for cloid, (order, reason) in cases.items():
        ack = await venue.submit(order)
        assert (ack.cloid, ack.accepted) == (cloid, False)
        assert reason in ack.reason
    assert await venue.order_state("small") == OrderState(cloid="small", status="rejected")
    assert (await venue.submit(market("small", "buy", 1.0))).reason == "duplicate cloid"
    filled = await venue.order_state("entry")
    assert filled is not None
    assert filled.status == "filled"  # a rejected duplicate leaves the original alone


async def test_order_state_of_an_unknown_cloid_is_none() -> None:
    assert await make_venue().order_state("never-sent") is None


async def test_poll_refuses_a_bar_it_has_already_executed_against() -> None:
    venue = make_venue()
    await venue.poll({"BTC": [candle(T, 100.0, 101.0, 99.0)]})
    with pytest.raises(ValueError, match="repeats or overlaps"):
        await venue.poll({"BTC": [candle(T, 100.0, 101.0, 99.0)]})


async def test_submit_waits_the_latency_in_trio_time(autojump_clock: trio.testing.MockClock) -> None:
    venue = make_venue(latency_s=0.25)
    start = trio.current_time()
    ack = await venue.submit(market("entry", "buy", 1.0))
    assert ack.accepted
    assert trio.current_time() - start == pytest.approx(0.25)


# -- restore: stopping and restoring midway must not change a single fill ---------------------------------------

BTC_PATH = [
    (100, 101.5, 99),
    (101, 102, 100),
    (103, 104, 102),
    (106, 107.5, 104),
    (104, 105, 103),
    (99, 100, 97.5),
    (97, 98, 96),
    (102, 103, 100),
]
ETH_PATH = [
    (50, 51, 49),
    (49, 50, 48),
    (48, 48.5, 47),
    (47, 47.5, 45.5),
    (48, 49, 47.5),
    (50, 51, 49.5),
    (52, 53.5, 51.5),
    (51, 52, 50),
]
BARS = {
    "BTC": [candle(T + i * HOUR, o, h, low) for i, (o, h, low) in enumerate(BTC_PATH)],
    "ETH": [candle(T + i * HOUR, o, h, low, volume=80.0) for i, (o, h, low) in enumerate(ETH_PATH)],
}
ORDERS_BEFORE_BAR: dict[int, list[VenueOrder]] = {
    0: [
        market("b1", "buy", 2.0),
        trigger("b1-stop", "stop", "sell", 2.0, 98.5),
        trigger("b1-target", "target", "sell", 2.0, 108.0),
    ],
    1: [
        market("e1", "sell", 10.0, symbol="ETH", price=49.0, not_before=T + 2 * HOUR),
        trigger("e1-stop", "stop", "buy", 10.0, 51.5, symbol="ETH", not_before=T + 2 * HOUR),
        trigger("e1-target", "target", "buy", 10.0, 46.0, symbol="ETH", not_before=T + 2 * HOUR),
    ],
    3: [market("b2", "buy", 1.0, price=106.0, not_before=T + 4 * HOUR)],
    5: [
        market("e2", "sell", 4.0, symbol="ETH", price=50.0, not_before=T + 6 * HOUR),
        trigger("e2-stop", "stop", "buy", 4.0, 53.0, symbol="ETH", not_before=T + 6 * HOUR),
    ],
    6: [
        market("b3", "buy", 1.0, price=97.0, not_before=T + 7 * HOUR),
        trigger("b3-target", "target", "sell", 5.0, 102.5, not_before=T + 7 * HOUR),
    ],
}
CLOIDS = [order.cloid for orders in ORDERS_BEFORE_BAR.values() for order in orders]


async def run_bars(venue: PaperVenue, start: int, stop: int) -> list[VenueFill]:
    fills: list[VenueFill] = []
    for index in range(start, stop):
        await submit_all(venue, *ORDERS_BEFORE_BAR.get(index, []))
        fills += await venue.poll({symbol: [bars[index]] for symbol, bars in BARS.items()})
    return fills


async def final_view(venue: PaperVenue) -> tuple[object, ...]:
    states = [await venue.order_state(cloid) for cloid in CLOIDS]
    return states, await venue.positions(), await venue.open_orders()


async def test_the_restore_scenario_exercises_every_rule() -> None:
    venue = make_venue()
    fills = await run_bars(venue, 0, len(BTC_PATH))
    assert [fill.cloid for fill in fills] == [
        "b1",
        "e1",
        "e1-target",
        "b2",
        "b1-stop",
        "e2",
        "e2-stop",
        "b3",
        "b3-target",
    ]
    assert await venue.positions() == []


@pytest.mark.parametrize("split", range(1, len(BTC_PATH)))
async def test_restore_midway_gives_the_same_fills_as_an_uninterrupted_run(split: int) -> None:
    uninterrupted = make_venue()
    expected = await run_bars(uninterrupted, 0, len(BTC_PATH))

    before = make_venue()
    fills = await run_bars(before, 0, split)
    # what the OMS reads back from the event log: every cloid it sent, and the final state of each closed order
    submitted = [order.cloid for index in range(split) for order in ORDERS_BEFORE_BAR.get(index, [])]
    states = [await before.order_state(cloid) for cloid in submitted]
    final_states = [state for state in states if state is not None and state.status != "open"]
    restored = make_venue()
    restored.restore(await before.open_orders(), await before.positions(), submitted, final_states)
    fills += await run_bars(restored, split, len(BTC_PATH))

    assert fills == expected
    assert await final_view(restored) == await final_view(uninterrupted)
    assert (await restored.submit(market("b1", "buy", 1.0))).reason == "duplicate cloid"


# -- symbols in play: the OMS polls only these ---------------------------------------------------------------------


async def test_symbols_in_play_are_those_with_an_open_order_or_a_position() -> None:
    venue = make_venue()
    assert venue.symbols_in_play() == set()
    await submit_all(venue, market("entry", "buy", 2.0), trigger("stop", "stop", "sell", 2.0, 90.0))
    assert venue.symbols_in_play() == {"BTC"}
    await venue.poll({"BTC": [candle(T, 100.0, 101.0, 99.0)]})
    await venue.cancel("stop")
    assert await venue.open_orders() == []
    assert venue.symbols_in_play() == {"BTC"}  # the position
    await submit_all(venue, market("exit", "sell", 2.0, role="exit", reduce_only=True, not_before=T + HOUR))
    await venue.poll({"BTC": [candle(T + HOUR, 100.0, 101.0, 99.0)]})
    assert venue.symbols_in_play() == set()


async def test_polling_only_the_symbols_in_play_gives_the_same_fills_as_polling_every_symbol() -> None:
    every, in_play = make_venue(), make_venue()
    fills_every: list[VenueFill] = []
    fills_in_play: list[VenueFill] = []
    for index in range(len(BTC_PATH)):
        await submit_all(every, *ORDERS_BEFORE_BAR.get(index, []))
        await submit_all(in_play, *ORDERS_BEFORE_BAR.get(index, []))
        fills_every += await every.poll({symbol: [bars[index]] for symbol, bars in BARS.items()})
        symbols = in_play.symbols_in_play()
        fills_in_play += await in_play.poll({s: [bars[index]] for s, bars in BARS.items() if s in symbols})
    assert fills_in_play == fills_every
    assert await final_view(in_play) == await final_view(every)
