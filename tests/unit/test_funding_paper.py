"""PaperVenue funding: every settlement in the funding history falling inside a polled bar is paid or received by
the position held after that bar's fills, marked at the bar's close (a long pays a positive rate)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from b1e55ed.messages import Bar, Side
from b1e55ed.venues.base import VenueFunding, VenueOrder
from b1e55ed.venues.fees import FeeSchedule, SlippageModel
from b1e55ed.venues.paper import PaperVenue

HOUR = 3_600_000
T = 1_000 * 8 * HOUR  # a Binance settlement time (every 8 h)


class Rates:
    """A ``FundingRates`` over a fixed list: ``(ts, rate)`` pairs, oldest first."""

    def __init__(self, pairs: Sequence[tuple[int, float]]) -> None:
        self.pairs = list(pairs)
        self.asked: list[tuple[str, int]] = []

    def rates(self, symbol: str, until_ms: int) -> Sequence[tuple[int, float]]:
        self.asked.append((symbol, until_ms))
        return [(ts, rate) for ts, rate in self.pairs if ts <= until_ms] if symbol == "BTC" else []


def hourly(start: int, closes: Sequence[float]) -> list[Bar]:
    return [Bar(start + i * HOUR, close, close, close, close, 1e9) for i, close in enumerate(closes)]


def venue(rates: Rates | None) -> PaperVenue:
    free = SlippageModel(base_bps=0, volatility_coef=0, impact_coef=0)
    return PaperVenue(fees=FeeSchedule(taker=0.0), slippage=free, timeframe_ms=HOUR, funding=rates)


async def open_position(paper: PaperVenue, side: Side, size: float, at: int) -> None:
    order = VenueOrder(
        cloid=f"{side}-{at}", symbol="BTC", side=side, size=size, role="entry", reference_price=100.0, not_before=at
    )
    assert (await paper.submit(order)).accepted


async def test_a_long_pays_positive_rates_and_receives_negative_ones_at_each_settlement() -> None:
    rates = Rates([(T - 8 * HOUR, 0.5), (T, 0.0001), (T + 8 * HOUR, -0.0002), (T + 16 * HOUR, 0.0003)])
    paper = venue(rates)
    await open_position(paper, "buy", 2.0, at=T - 2 * HOUR)
    # Bars T-2h … T+15h: the position opens at T-2h (at 100), then settlements at T and T+8h fall inside the bars
    # opening at T-1h and T+7h; T+16h is the close of the bar at T+15h: inside too. T-8h came before the position.
    closes = [100.0] * 18
    closes[1] = 110.0  # the bar closing at T: notional 2 × 110
    closes[9] = 90.0  # the bar closing at T+8h: notional 2 × 90
    closes[17] = 100.0
    await paper.poll({"BTC": hourly(T - 2 * HOUR, closes)})
    payments = await paper.funding()
    assert [(p.symbol, p.ts, p.rate, p.notional, round(p.amount, 12)) for p in payments] == [
        ("BTC", T, 0.0001, 220.0, -0.022),
        ("BTC", T + 8 * HOUR, -0.0002, 180.0, 0.036),
        ("BTC", T + 16 * HOUR, 0.0003, 200.0, -0.06),
    ]
    assert await paper.funding() == []  # handed over once
    assert sum(p.amount for p in payments) == pytest.approx(-0.046)


async def test_a_short_receives_positive_rates() -> None:
    paper = venue(Rates([(T, 0.001)]))
    await open_position(paper, "sell", 3.0, at=T - HOUR)
    await paper.poll({"BTC": hourly(T - HOUR, [100.0])})
    assert [(round(p.amount, 12), p.notional) for p in await paper.funding()] == [(0.3, 300.0)]


async def test_a_position_opened_at_the_settlement_does_not_pay_it_and_flat_pays_nothing() -> None:
    paper = venue(Rates([(T, 0.001), (T + HOUR, 0.001)]))
    await open_position(paper, "buy", 1.0, at=T)  # fills at the open of the bar starting at T
    await paper.poll({"BTC": hourly(T - HOUR, [100.0, 100.0])})
    assert [p.ts for p in await paper.funding()] == [T + HOUR]

    flat = venue(Rates([(T, 0.001)]))
    await flat.poll({"BTC": hourly(T - HOUR, [100.0])})
    assert await flat.funding() == []


async def test_without_a_funding_source_nothing_is_paid_and_replays_are_identical() -> None:
    paper = venue(None)
    await open_position(paper, "buy", 1.0, at=T - HOUR)
    await paper.poll({"BTC": hourly(T - HOUR, [100.0, 100.0])})
    assert await paper.funding() == []

    async def run() -> list[VenueFunding]:
        replay = venue(Rates([(T + i * HOUR, 0.0001 * i) for i in range(12)]))
        await open_position(replay, "buy", 1.5, at=T)
        for i in range(12):
            await replay.poll({"BTC": hourly(T + i * HOUR, [100.0 + i])})
        return await replay.funding()

    assert await run() == await run()
    assert len(await run()) == 11  # T+1h … T+11h; T itself is the bar the position opened on
