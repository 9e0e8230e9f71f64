"""The kill switch, done for real: the OMS under HALTED and REDUCING, the kill-switch actor, and manual control of
a running ``python -m b1e55ed`` from the CLI.

Real SQLite on disk, real trio time, a real paper venue and, at the end, real processes on the simulated market
(which never touches the network).
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path

import pytest
import trio

from actors.killswitch import KillSwitch
from b1e55ed import killswitch_file
from b1e55ed.clock import ManualClock
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.projections import Upsert
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import (
    Alert,
    AnyEvent,
    Decision,
    Fill,
    KillSwitchChanged,
    OrderUpdated,
    PositionUpdated,
    RiskVerdict,
    RuntimeStopped,
    Trade,
    TradeDecided,
    TradingStateName,
)
from b1e55ed.trading_config import KillSwitchConfig
from b1e55ed.tradingstate import TradingGate
from b1e55ed.venues.fees import FeeSchedule, SlippageModel
from b1e55ed.venues.paper import PaperVenue
from tests.fakes.desk import MINUTE, WAIT_S, Desk, bar, cloids, only, trade

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_006_400_000  # midnight UTC, 2023-11-15
STRATEGY = "manual"


def long(symbol: str, entry: float) -> Trade:
    """A 5% long with its stop 5% below and its target 10% above."""
    return trade(symbol, entry, strategy=STRATEGY)


def paper_desk(db: Path) -> Desk:
    """The OMS over the paper venue and a real SQLite log, with one strategy."""
    venue = PaperVenue(fees=FeeSchedule(), slippage=SlippageModel(), timeframe_ms=MINUTE)
    return Desk(venue=venue, db=db, strategies=[STRATEGY], killswitch=KillSwitchConfig(max_drawdown_pct=20.0))


async def events(log: EventLog, after: int = 0) -> list[AnyEvent]:
    return [record.event() for record in await log.store.read(after, 100_000)]


async def open_btc_position(desk: Desk) -> None:
    """Cycle 1 decides a BTC long; cycle 2 fills it at the next bar's open and decides an ETH long, left resting."""
    first = await desk.cycle(1, long("BTC", 100.0))
    entry, stop, target = cloids("BTC", 1, STRATEGY)
    (verdict,) = only(first, RiskVerdict)
    assert verdict.approved, verdict.reason
    orders = [(o.cloid, o.role, o.status, o.reduce_only, o.trigger_price) for o in only(first, OrderUpdated)]
    assert orders == [
        (entry, "entry", "pending", False, None),
        (stop, "stop", "pending", True, 95.0),
        (target, "target", "pending", True, pytest.approx(110.0)),
        (entry, "entry", "submitted", False, None),
        (stop, "stop", "submitted", True, 95.0),
        (target, "target", "submitted", True, pytest.approx(110.0)),
    ]
    assert [await desk.state_of(c) for c in (entry, stop, target)] == ["open", "open", "open"]

    desk.next_bar()
    second = await desk.cycle(2, long("ETH", 50.0))
    (fill,) = only(second, Fill)
    assert (fill.cloid, fill.role) == (entry, "entry")
    assert fill.size == pytest.approx(5.0)  # 5% of 10,000 at 100
    assert only(second, PositionUpdated)[0].status == "open"
    eth_entry, _, _ = cloids("ETH", 2, STRATEGY)
    assert await desk.state_of(eth_entry) == "open"
    assert [p.symbol for p in await desk.venue.positions()] == ["BTC"]


# -- the OMS under the kill switch ---------------------------------------------------------------------------------


async def test_halted_cancels_resting_entries_keeps_stops_and_targets_and_rejects_new_entries(tmp_path: Path) -> None:
    async with paper_desk(tmp_path / "brain.db").running() as desk:
        await open_btc_position(desk)
        btc_entry, btc_stop, btc_target = cloids("BTC", 1, STRATEGY)
        eth_entry, _, _ = cloids("ETH", 2, STRATEGY)

        before = desk.log.head.seq
        change = await desk.switch("HALTED")
        assert (change.previous, change.state, change.cause) == ("ACTIVE", "HALTED", "manual")
        cancelled = await desk.wait_for(
            before,
            lambda e: isinstance(e, OrderUpdated) and e.cloid == eth_entry and e.status == "cancelled",
            "cancellation of the resting ETH entry",
        )
        assert isinstance(cancelled, OrderUpdated)
        assert cancelled.reason == "kill switch HALTED"
        assert await desk.state_of(eth_entry) == "cancelled"
        # The filled BTC position keeps its protection, at the venue and in the book.
        assert [await desk.state_of(c) for c in (btc_stop, btc_target)] == ["open", "open"]
        assert [p.symbol for p in await desk.venue.positions()] == ["BTC"]
        halted = await desk.events(after=before)
        assert not only(halted, OrderUpdated, lambda o: o.cloid in (btc_stop, btc_target))

        # A new entry decided while HALTED: logged, rejected by the trading_state check, never sent.
        desk.next_bar(BTC=101.0)
        third = await desk.cycle(3, long("SOL", 20.0))
        (decision,) = only(third, Decision)
        assert decision.taken
        (verdict,) = only(third, RiskVerdict)
        assert not verdict.approved
        assert verdict.reason == "rejected: trading_state"
        assert [c.name for c in verdict.checks if not c.passed] == ["trading_state"]
        assert verdict.checks[0].detail == "kill switch is HALTED; entries need ACTIVE"
        assert not only(third, TradeDecided)
        assert not only(third, OrderUpdated)
        sol_entry, _, _ = cloids("SOL", 3, STRATEGY)
        assert await desk.state_of(sol_entry) is None  # the venue never heard of it

        # While HALTED, the BTC target still takes profit.
        desk.next_bar(BTC=bar(7, 105.0, 111.0, 104.0, 110.5))
        fourth = await desk.cycle(4)
        (fill,) = only(fourth, Fill)
        assert (fill.cloid, fill.role) == (btc_target, "target")
        assert only(fourth, PositionUpdated)[0].status == "closed"
        assert only(fourth, OrderUpdated, lambda o: o.status == "cancelled")[0].cloid == btc_stop
        assert await desk.venue.positions() == []
        assert await desk.state_of(btc_entry) == "filled"


async def test_reducing_rejects_entries_but_stops_still_fill(tmp_path: Path) -> None:
    async with paper_desk(tmp_path / "brain.db").running() as desk:
        await open_btc_position(desk)
        _, btc_stop, btc_target = cloids("BTC", 1, STRATEGY)
        await desk.switch("REDUCING")

        # The bar after: BTC falls through its stop at 95.
        desk.next_bar(BTC=bar(6, 99.0, 99.5, 93.0, 94.0))
        third = await desk.cycle(3, long("SOL", 20.0))
        (verdict,) = only(third, RiskVerdict)
        assert not verdict.approved
        assert [c.name for c in verdict.checks if not c.passed] == ["trading_state"]
        assert verdict.checks[0].detail == "kill switch is REDUCING; entries need ACTIVE"

        stop_fill = only(third, Fill, lambda f: f.role == "stop")
        assert [f.cloid for f in stop_fill] == [btc_stop]
        (closed,) = only(third, PositionUpdated, lambda p: p.symbol == "BTC")
        assert closed.status == "stopped"
        assert closed.exit_price == stop_fill[0].price
        assert closed.pnl is not None
        assert closed.pnl < 0
        assert only(third, OrderUpdated, lambda o: o.cloid == btc_target)[0].status == "cancelled"
        assert await desk.state_of(btc_target) == "cancelled"
        assert "BTC" not in {p.symbol for p in await desk.venue.positions()}
        (alert,) = only(third, Alert)
        assert alert.message.startswith("stop hit: BTC long")


async def test_halting_a_resting_entry_also_cancels_its_stop_and_target_in_the_log(tmp_path: Path) -> None:
    async with paper_desk(tmp_path / "brain.db").running() as desk:
        await open_btc_position(desk)
        eth_entry, eth_stop, eth_target = cloids("ETH", 2, STRATEGY)
        before = desk.log.head.seq
        await desk.switch("HALTED")
        await desk.wait_for(before, lambda e: isinstance(e, OrderUpdated) and e.cloid == eth_entry, "the ETH cancel")
        assert [await desk.state_of(c) for c in (eth_stop, eth_target)] == ["cancelled", "cancelled"]
        logged = {o.cloid: o.status for o in only(await desk.events(), OrderUpdated)}
        assert (logged[eth_stop], logged[eth_target]) == ("cancelled", "cancelled")


async def test_an_entry_resting_at_a_restart_is_cancelled_when_the_process_starts_halted(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    async with paper_desk(db).running() as first:
        await first.cycle(1, long("BTC", 100.0))
    entry, _, _ = cloids("BTC", 1, STRATEGY)
    # Stopped with the entry resting; `killswitch halt` while nothing runs; the kill switch applies it at the next
    # start, before the OMS starts.
    killswitch_file.request(db, "halt")
    async with paper_desk(db).running(with_killswitch=True) as second:
        assert second.gate.state == "HALTED"
        with trio.move_on_after(1):
            await second.wait_for(
                0,
                lambda e: isinstance(e, OrderUpdated) and e.cloid == entry and e.status == "cancelled",
                "cancellation of the BTC entry left resting at the restart",
            )
        assert await second.state_of(entry) == "cancelled"


# -- the kill-switch actor -----------------------------------------------------------------------------------------


class RacingStore(SqliteStore):
    """Runs ``during_commit`` (once) while the kill switch's change is being committed."""

    during_commit: Callable[[], None] | None = None

    async def append(self, records: Sequence[Record], upserts: Sequence[Upsert]) -> None:
        if self.during_commit is not None and any(r.kind == "killswitch" for r in records):
            hook, self.during_commit = self.during_commit, None
            hook()
        await super().append(records, upserts)


@asynccontextmanager
async def killswitch(db: Path, gate: TradingGate, store: SqliteStore | None = None) -> AsyncIterator[EventLog]:
    store = store or await SqliteStore.open(db)
    try:
        log = EventLog(store)
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            actor = KillSwitch(gate=gate, log=log, clock=ManualClock(T0), db=db, poll_s=0.01)
            await nursery.start(actor.run)
            yield log
            nursery.cancel_scope.cancel()
    finally:
        with trio.CancelScope(shield=True):
            await store.close()


async def wait_for_state(gate: TradingGate, state: TradingStateName) -> None:
    with trio.move_on_after(WAIT_S):
        while gate.state != state:
            await gate.wait_changed(gate.version)
        return
    pytest.fail(f"trading state still {gate.state}, not {state}, after {WAIT_S:g}s")


async def test_actor_applies_a_leftover_request_before_it_reports_started(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    killswitch_file.request(db, "halt")
    gate = TradingGate()
    async with killswitch(db, gate) as log:
        assert gate.state == "HALTED"
        assert not killswitch_file.control_path(db).exists()
        logged = await events(log)
        (change,) = only(logged, KillSwitchChanged)
        assert (change.previous, change.state, change.cause) == ("ACTIVE", "HALTED", "manual")
        (alert,) = only(logged, Alert)
        assert (alert.severity, alert.source) == ("critical", "killswitch")

        killswitch_file.request(db, "reduce")
        await wait_for_state(gate, "REDUCING")

    # A new process: the state comes back from the log, without a new event.
    restarted = TradingGate()
    async with killswitch(db, restarted) as log:
        assert restarted.state == "REDUCING"
        assert [(c.previous, c.state) for c in only(await events(log), KillSwitchChanged)] == [
            ("ACTIVE", "HALTED"),
            ("HALTED", "REDUCING"),
        ]


async def test_a_request_written_while_another_is_applied_is_not_lost(tmp_path: Path) -> None:
    """``halt`` then, before its change commits, ``resume``: the actor must not remove the newer request."""
    db = tmp_path / "brain.db"
    store = await RacingStore.open(db)
    assert isinstance(store, RacingStore)

    def resume() -> None:
        killswitch_file.request(db, "resume")

    store.during_commit = resume
    gate = TradingGate()
    async with killswitch(db, gate, store) as log:
        killswitch_file.request(db, "halt")
        await wait_for_state(gate, "HALTED")
        await wait_for_state(gate, "ACTIVE")
        with trio.fail_after(WAIT_S):
            while killswitch_file.control_path(db).exists():  # noqa: ASYNC110 - a file has no change event
                await trio.sleep(0.01)
        assert [(c.previous, c.state) for c in only(await events(log), KillSwitchChanged)] == [
            ("ACTIVE", "HALTED"),
            ("HALTED", "ACTIVE"),
        ]


async def test_an_unreadable_request_is_removed_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    killswitch_file.control_path(db).write_text("explode\n")
    gate = TradingGate()
    async with killswitch(db, gate) as log:
        assert gate.state == "ACTIVE"
        assert not killswitch_file.control_path(db).exists()
        assert only(await events(log), KillSwitchChanged) == []


# -- manual control of a running process ---------------------------------------------------------------------------

ENV = {
    "PATH": "/usr/bin:/bin",
    "PYTHONPATH": str(ROOT),
    "B1E55ED_MARKET__SIM_PACE": "wall",
    "B1E55ED_TIMEFRAME": "1s",
    "B1E55ED_BRAIN__INTERVAL_S": "0.5",
    "B1E55ED_MARKET__HISTORY_BARS": "600",
    "B1E55ED_KILLSWITCH__POLL_S": "0.1",
}
PROMPT_EXIT_S = 4.0
"""Under ``runtime.shutdown_timeout_s`` (5 s): a stage that only stops when its deadline cancels it shows here."""


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b1e55ed", *args],
        cwd=cwd,
        env=ENV,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


class Brain:
    """A running ``python -m b1e55ed run`` whose log lines go to a file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process, self.log = process, log

    def output(self) -> str:
        return self.log.read_text()

    def stop(self) -> None:
        """SIGTERM: a clean exit (0), promptly."""
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=PROMPT_EXIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within {PROMPT_EXIT_S:g}s of SIGTERM:\n{self.output()}")
        assert code == 0, self.output()


@contextmanager
def brain(db: Path, name: str) -> Iterator[Brain]:
    log = db.parent / f"{name}.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "b1e55ed", "run", "--db", str(db), "--market", "sim"],
            cwd=db.parent,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        ) as process,
    ):
        running = Brain(process, log)
        try:
            deadline = time.monotonic() + WAIT_S
            while "at seq" not in running.output():
                if process.poll() is not None:
                    pytest.fail(f"exited with {process.returncode} before starting:\n{running.output()}")
                if time.monotonic() > deadline:
                    pytest.fail(f"no startup line within {WAIT_S:g}s:\n{running.output()}")
                time.sleep(0.05)
            yield running
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def logged(db: Path) -> list[AnyEvent]:
    """The events a running process has committed (a reader beside the writer, as the CLI is)."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT payload FROM events ORDER BY seq").fetchall()
    return [codec.decode(payload) for (payload,) in rows]


def changes(db: Path) -> list[tuple[str, str, str]]:
    return [(e.previous, e.state, e.cause) for e in only(logged(db), KillSwitchChanged)]


@pytest.mark.slow
def test_manual_control_of_a_running_process_and_the_state_after_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    control = killswitch_file.control_path(db)
    with brain(db, "first") as first:
        halt = cli("killswitch", "halt", "--db", str(db), cwd=tmp_path)
        assert halt.returncode == 0, halt.stderr
        assert "trading state ACTIVE → HALTED" in halt.stdout
        assert changes(db) == [("ACTIVE", "HALTED", "manual")]
        assert not control.exists()

        again = cli("killswitch", "halt", "--db", str(db), cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "already HALTED" in again.stdout
        assert len(changes(db)) == 1

        resume = cli("killswitch", "resume", "--db", str(db), cwd=tmp_path)
        assert resume.returncode == 0, resume.stderr
        assert "trading state HALTED → ACTIVE" in resume.stdout

        halt = cli("killswitch", "halt", "--db", str(db), cwd=tmp_path)
        assert "trading state ACTIVE → HALTED" in halt.stdout
        first.stop()
    last = logged(db)[-1]
    assert isinstance(last, RuntimeStopped)
    assert last.reason == "SIGTERM"

    with brain(db, "second") as second:
        halt = cli("killswitch", "halt", "--db", str(db), cwd=tmp_path)
        assert halt.returncode == 0, halt.stderr
        assert "already HALTED" in halt.stdout
        assert "trading state restored from the log: HALTED" in second.output()
        second.stop()
    assert changes(db) == [
        ("ACTIVE", "HALTED", "manual"),
        ("HALTED", "ACTIVE", "manual"),
        ("ACTIVE", "HALTED", "manual"),
    ]


@pytest.mark.slow
def test_a_request_with_nothing_running_waits_for_the_next_start(tmp_path: Path) -> None:
    # Nobody runs on ``idle.db``: the CLI gives up after 5 s. It runs meanwhile, beside the next part, and a
    # thread notes when it exits.
    idle = tmp_path / "idle.db"
    output = tmp_path / "orphan.out"
    exited: list[float] = []
    with (
        output.open("w") as sink,
        subprocess.Popen(
            [sys.executable, "-m", "b1e55ed", "killswitch", "halt", "--db", str(idle)],
            cwd=tmp_path,
            env=ENV,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        ) as orphan,
    ):

        def watch() -> None:
            orphan.wait()
            exited.append(time.monotonic())

        started = time.monotonic()
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            # A request left over while nothing ran is applied when the brain starts.
            db = tmp_path / "brain.db"
            control = killswitch_file.request(db, "reduce")
            with brain(db, "brain") as running:
                deadline = time.monotonic() + WAIT_S
                while control.exists():
                    assert time.monotonic() < deadline, f"the request was not applied:\n{running.output()}"
                    time.sleep(0.05)
                assert changes(db) == [("ACTIVE", "REDUCING", "manual")]
                reduce = cli("killswitch", "reduce", "--db", str(db), cwd=tmp_path)
                assert reduce.returncode == 0, reduce.stderr
                assert "already REDUCING" in reduce.stdout
                running.stop()
        finally:
            watcher.join(WAIT_S)
    assert exited, f"killswitch still waiting after {WAIT_S:g}s with nothing running"
    assert exited[0] - started < 12, "killswitch kept waiting with nothing running"
    assert orphan.returncode != 0, output.read_text()
    assert f"{killswitch_file.control_path(idle)} will be applied at the next start" in output.read_text()
    assert killswitch_file.control_path(idle).read_text().startswith("halt\n")
