"""Commit before the venue, relaxed only for the paper venue in a history-driven run.

A witness venue wraps a real one and notes, at every submit, whether the order is already committed in the log.
Live, or with any venue the OMS cannot rebuild from the log (``HyperliquidVenue``), every order is committed
before the venue hears of it. Driven by history with the paper venue, a batch commits once at its end, so the
venue may hear of an order first: the paper book is rebuilt from the log at start, so a submission lost in a
crash vanishes together with its fills.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import cast

import trio.testing

from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.projections import Upsert
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.messages import Bar, CycleSettled, OrderUpdated
from b1e55ed.venues.base import (
    Ack,
    OrderState,
    RestorableVenue,
    Venue,
    VenueFill,
    VenueFunding,
    VenueOrder,
    VenuePosition,
)
from b1e55ed.venues.fees import FeeSchedule, SlippageModel
from b1e55ed.venues.hyperliquid import HyperliquidVenue
from b1e55ed.venues.paper import PaperVenue
from tests.fakes.desk import MINUTE, Desk, only, trade
from tests.fakes.venue import FakeVenue


class Witness:
    """A venue that asks the log, at every submit, whether the order it is handed is committed yet."""

    def __init__(self, inner: Venue, store: MemoryStore) -> None:
        self.inner = inner
        self.name = inner.name
        self.store = store
        self.committed: dict[str, bool] = {}

    async def submit(self, order: VenueOrder) -> Ack:
        self.committed[order.cloid] = bool(await self.store.rows("order_events", equals={"cloid": order.cloid}))
        return await self.inner.submit(order)

    async def cancel(self, cloid: str) -> bool:
        return await self.inner.cancel(cloid)

    async def order_state(self, cloid: str) -> OrderState | None:
        return await self.inner.order_state(cloid)

    async def poll(self, bars: Mapping[str, Sequence[Bar]]) -> list[VenueFill]:
        return await self.inner.poll(bars)

    async def funding(self) -> list[VenueFunding]:
        return await self.inner.funding()

    async def open_orders(self) -> list[VenueOrder]:
        return await self.inner.open_orders()

    async def account_value(self) -> float | None:
        return await self.inner.account_value()

    async def positions(self) -> list[VenuePosition]:
        return await self.inner.positions()


class RestorableWitness(Witness):
    """The witness around the paper venue, which the OMS rebuilds from the log."""

    def __init__(self, inner: PaperVenue, store: MemoryStore) -> None:
        super().__init__(inner, store)
        self.paper = inner

    def restore(
        self,
        open_orders: Sequence[VenueOrder],
        positions: Sequence[VenuePosition],
        seen_cloids: Iterable[str],
        order_states: Iterable[OrderState] = (),
    ) -> None:
        self.paper.restore(open_orders, positions, seen_cloids, order_states)


class GatedStore(MemoryStore):
    """A store whose commits wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = trio.Event()

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        await self.gate.wait()
        await super().append(records, upserts)


def paper() -> PaperVenue:
    return PaperVenue(fees=FeeSchedule(), slippage=SlippageModel(), timeframe_ms=MINUTE)


async def trade_one_cycle(witness: Witness, store: MemoryStore, *, driven: bool) -> list[OrderUpdated]:
    desk = Desk(store=store, venue=cast(FakeVenue, witness), driven=driven)  # Desk is typed for its fake
    async with desk.running():
        await desk.cycle(1, trade("BTC", 100.0), trade("ETH", 50.0))
        return only(await desk.events(), OrderUpdated, lambda o: o.status == "pending")


async def test_a_history_driven_run_calls_the_paper_venue_before_the_commit_and_commits_it_all_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryStore()
    witness = RestorableWitness(paper(), store)
    pending = await trade_one_cycle(witness, store, driven=True)

    assert len(pending) == 6  # two entries with their stops and targets: by the settlement, all in the log
    assert set(witness.committed) == {order.cloid for order in pending}
    assert not any(witness.committed.values())  # yet the venue heard of each before the log committed it


async def test_a_history_driven_batch_commits_while_the_next_is_computed_and_settles_only_once_committed(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = GatedStore()
    desk = Desk(store=store, venue=paper(), driven=True)
    async with desk.running():
        await desk.hand_on(1, trade("BTC", 100.0))
        await desk.barrier.wait_queued(1)  # the brain may hand on the next batch now
        assert desk.barrier.settled == 0  # but the first is not settled: nothing is committed yet
        await desk.hand_on(2)
        await trio.sleep(5)
        assert desk.barrier.queued == 1  # nor is the next batch logged before the one it follows has settled
        store.gate.set()
        await desk.barrier.wait(2)
        events = await desk.events()
    assert [e.cycle for e in events if isinstance(e, CycleSettled)] == [1, 2]
    assert len(only(events, OrderUpdated, lambda o: o.status == "pending")) == 3  # cycle 1's entry, stop and target


async def test_a_live_run_commits_every_order_before_the_paper_venue_hears_of_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryStore()
    witness = RestorableWitness(paper(), store)
    pending = await trade_one_cycle(witness, store, driven=False)

    assert set(witness.committed) == {order.cloid for order in pending}
    assert all(witness.committed.values())


async def test_a_venue_that_is_not_rebuilt_from_the_log_is_committed_before_even_in_a_history_driven_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    store = MemoryStore()
    witness = Witness(paper(), store)  # the same paper venue, but the OMS is not told it can rebuild it
    pending = await trade_one_cycle(witness, store, driven=True)

    assert set(witness.committed) == {order.cloid for order in pending}
    assert all(witness.committed.values())


def test_only_the_paper_venue_is_one_the_oms_rebuilds_from_the_log() -> None:
    assert isinstance(paper(), RestorableVenue)
    assert not hasattr(HyperliquidVenue, "restore")
