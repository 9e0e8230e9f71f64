"""The composition root: one root nursery, the channels, and the actors started in dependency order.

Shutdown (SIGINT, SIGTERM or ``request_stop``) runs in this order:

1. sources (the feed, the brain's clock) are cancelled, so no new work starts, and the channels the runtime
   owns are closed; the other actors finish what is in their channels and return at the end of their input,
   or are cancelled when ``runtime.shutdown_timeout_s`` runs out;
2. ``RuntimeStopped`` is appended and the writer commits everything queued, under a shielded timeout;
3. the alerter reads the log to its end and delivers what is pending, within ``runtime.shutdown_timeout_s``;
4. the store closes and ``run`` returns: the process exits 0.

A commit that fails (a full or failing disk) halts trading at once, keeps the halt in the kill-switch file beside
the database, hands the alerter the error in memory (it cannot be read back from the log), and stops the run the
same way; ``run`` then raises ``StorageFailed``.

Events that cross the log go through ``log`` (the single writer); committed records fan out on ``hub``.
"""

from __future__ import annotations

import logging
import random
import signal
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import trio

from b1e55ed import killswitch_file
from b1e55ed.alerts.alerter import Alerter
from b1e55ed.alerts.triggers import storage_notice
from b1e55ed.alerts.wiring import build_alerter
from b1e55ed.broadcast import Broadcast
from b1e55ed.clock import Clock
from b1e55ed.config import Config, config_hash
from b1e55ed.errors import FATAL, Fault
from b1e55ed.eventlog.chain import Record
from b1e55ed.eventlog.connect import log_key
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import StorageFailed
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.health import HealthRegistry
from b1e55ed.messages import ActorEscalated, Alert, Event, RuntimeStarted, RuntimeStopped
from b1e55ed.service import ServiceNotifier
from b1e55ed.supervisor import Actor, SupervisionEvent, Supervisor
from b1e55ed.tradingstate import TradingGate

logger = logging.getLogger(__name__)

VERSION = "0.1.0"


class Supervised(NamedTuple):
    """An actor the runtime runs under its supervisor, by name."""

    name: str
    actor: Actor
    source: bool = False  # makes new work on its own (feed, scheduler), so it is stopped first


ActorsBuilder = Callable[["Runtime"], Sequence[Supervised]]


def no_actors(runtime: Runtime) -> Sequence[Supervised]:
    return ()


class Runtime:
    def __init__(
        self,
        config: Config,
        *,
        db_path: Path,
        clock: Clock,
        rng: random.Random | None = None,
        sqlite_connection: type[sqlite3.Connection] = sqlite3.Connection,
    ) -> None:
        """``sqlite_connection``: the class of the log's SQLite connection, a seam for tests that fail its writes."""
        self.config = config
        self.db_path = db_path
        self.clock = clock
        self.rng = rng if rng is not None else random.Random(config.runtime.seed)
        self.health = HealthRegistry(clock)
        self.gate = TradingGate()
        self.hub: Broadcast[Record] = Broadcast()
        self._log: EventLog | None = None
        self._channels: list[trio.MemorySendChannel[Any] | trio.MemoryReceiveChannel[Any]] = []
        self._stop_reason: str | None = None
        self._storage_failure: str | None = None
        self._sqlite_connection = sqlite_connection
        self._stopping = trio.Event()
        self.service = ServiceNotifier()
        """What systemd hears (readiness, the watchdog, status, stopping); silent outside systemd."""
        if self.service.active:
            self.hub.listen(self.service.on_records)
        self.alerter: Alerter | None = None
        """The alerter (``alerts.enabled``), running beside the log writer from before the first actor starts."""
        self.resources = AsyncExitStack()
        """What the actors share and the runtime closes once they have all ended (an HTTP client, say)."""

    @property
    def log(self) -> EventLog:
        if self._log is None:
            raise RuntimeError("the runtime has not opened its event log yet")
        return self._log

    @property
    def stopping(self) -> trio.Event:
        """Set once shutdown began: followers of the log finish what is there and return."""
        return self._stopping

    def channel(self, size: int) -> tuple[trio.MemorySendChannel[Any], trio.MemoryReceiveChannel[Any]]:
        """A channel the runtime owns: actors clone its ends per run; shutdown closes it so it drains."""
        send, receive = trio.open_memory_channel[Any](size)
        self._channels += [send, receive]
        return send, receive

    def request_stop(self, reason: str) -> None:
        if self._stop_reason is None:
            self._stop_reason = reason
            logger.info("stopping: %s", reason)
            self.service.stopping(reason)
        else:
            logger.info("already stopping (%s); shutdown ends within its timeouts", self._stop_reason)
        self._stopping.set()

    async def run(
        self, actors: ActorsBuilder = no_actors, *, task_status: trio.TaskStatus[Runtime] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as signals:
            await signals.start(self._stop_on_signals)
            await signals.start(self.service.run)
            store = await SqliteStore.open(
                self.db_path,
                max_pages=self.config.eventlog.max_pages,
                connection=self._sqlite_connection,
                key=log_key(self.config.eventlog.encrypt, self.config.keys.db_password.reveal()),
            )
            try:
                self._log = log = EventLog(
                    store,
                    max_batch=self.config.eventlog.max_batch,
                    on_commit=self.hub.publish_many,
                    on_failure=self._on_storage_failure,
                )
                async with trio.open_nursery() as core:
                    await core.start(log.run)
                    self.health.register("eventlog").mark_running()
                    mode = self.config.mode
                    started = RuntimeStarted(
                        ts=self.clock.now_ms(), version=VERSION, mode=mode, config_hash=config_hash(self.config)
                    )
                    await log.append(started)
                    logger.info("b1e55ed %s (%s): event log %s at seq %d", VERSION, mode, self.db_path, log.head.seq)
                    if self.config.alerts.enabled:
                        await core.start(self._run_alerter)
                    async with self.resources:
                        await self._run_actors(actors, task_status)
                    await self._drain_log(log)
                    if self.alerter is not None:
                        await self.alerter.finish(self.config.runtime.shutdown_timeout_s)
            finally:
                self.hub.close()
                with trio.CancelScope(shield=True):
                    await store.close()
            signals.cancel_scope.cancel()
        if self._storage_failure is not None:
            raise StorageFailed(f"{self._storage_failure}; the log holds seq 1-{self.log.head.seq}")

    async def _run_actors(self, actors: ActorsBuilder, task_status: trio.TaskStatus[Runtime]) -> None:
        supervisor = Supervisor(
            self.config.supervisor, self.rng, self.clock, self.health, self._on_supervision, fatal_errors=FATAL
        )
        sources: list[trio.CancelScope] = []
        others: list[trio.CancelScope] = []
        async with trio.open_nursery() as nursery:
            for member in actors(self):
                scope = trio.CancelScope()
                (sources if member.source else others).append(scope)
                await nursery.start(_supervise_in, scope, supervisor, member.name, member.actor)
            task_status.started(self)
            self.service.actors_started()
            await self._stopping.wait()
            for scope in sources:
                scope.cancel()
            for channel in self._channels:
                channel.close()
            for scope in others:
                scope.deadline = trio.current_time() + self.config.runtime.shutdown_timeout_s

    async def _run_alerter(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Supervised like an actor, but nothing it does reaches the log: its restarts and an escalation are the
        Python log's and ``/health``'s, and never halt trading."""
        async with httpx.AsyncClient() as http:
            config = self.config
            self.alerter = build_alerter(
                config, log=self.log, hub=self.hub, health=self.health, clock=self.clock, db=self.db_path, http=http
            )
            rng = random.Random(f"alerts:{config.runtime.seed}")  # never a draw from the trading run's own
            supervisor = Supervisor(config.supervisor, rng, self.clock, self.health)
            await supervisor.supervise("alerts", self.alerter, task_status=task_status)

    async def _drain_log(self, log: EventLog) -> None:
        if self._storage_failure is not None:
            log.close()  # what is still queued cannot be stored: its appends fail, and nothing is acknowledged
            return
        with trio.move_on_after(self.config.runtime.shutdown_timeout_s, shield=True) as drain:
            await log.append(RuntimeStopped(ts=self.clock.now_ms(), reason=self._stop_reason or "stopped"))
            log.close()
        if drain.cancelled_caught:
            logger.error("event log did not commit within %.1fs of shutdown", self.config.runtime.shutdown_timeout_s)

    async def _stop_on_signals(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                # Shutdown is bounded by its timeouts, so a second signal only says so.
                self.request_stop(signal.Signals(signum).name)

    def _on_storage_failure(self, exc: Exception) -> None:
        """A commit failed (a full or failing disk): trading halts at once, and the halt is kept in the kill-switch
        file beside the database, which a full database cannot lose, so a restart comes back HALTED until a person
        resumes (``python -m b1e55ed killswitch resume``). Then the run stops: nothing more can be recorded.
        A ``Fault`` (another writer forked the chain) is not the disk's: the actor that met it escalates."""
        if isinstance(exc, Fault):
            return
        detail = f"storage: the event log could not be written ({type(exc).__name__}: {exc})"
        self.gate.transition("HALTED", "storage", detail, self.clock.now_ms())
        if self._storage_failure is not None:
            return
        try:
            kept = f"kept so in {killswitch_file.request(self.db_path, 'halt', note=detail)} until `killswitch resume`"
        except OSError as error:
            kept = f"but the halt could not be kept on disk either ({error})"
        self._storage_failure = f"{detail}; trading HALTED, {kept}"
        logger.critical("%s", self._storage_failure)
        if self.alerter is not None:
            self.alerter.urgent(storage_notice(self._storage_failure, self.clock.now_ms()))
        self.request_stop("the event log could not be written")

    async def _on_supervision(self, event: SupervisionEvent) -> None:
        """Restarts go to the log; an escalation also halts trading: the kill switch's escalation trigger."""
        events: list[Event] = [event]
        if isinstance(event, ActorEscalated):
            message = f"actor {event.actor} escalated after {event.restarts} restarts: {event.error}"
            events.append(Alert(ts=event.ts, severity="critical", source="supervisor", message=message))
            if change := self.gate.transition("HALTED", "escalation", message, event.ts):
                events.append(change)
        try:
            await self.log.append(*events)
        except Exception:
            if self._storage_failure is None:
                raise
            logger.error("not recorded, the event log cannot be written: %s", event)


async def _supervise_in(
    scope: trio.CancelScope,
    supervisor: Supervisor,
    name: str,
    actor: Actor,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    with scope:
        await supervisor.supervise(name, actor, task_status=task_status)
