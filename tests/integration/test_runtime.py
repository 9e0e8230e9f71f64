"""The composition root, run for real: actors in order, a draining shutdown, supervision in the log, the CLI."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import closing
from pathlib import Path

import pytest
import trio

from b1e55ed.clock import WallClock
from b1e55ed.config import Config, load_config
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.store import HeadMismatch
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.messages import ActorEscalated, ActorRestarted, Alert, AnyEvent, RuntimeStarted, RuntimeStopped
from b1e55ed.runtime import Runtime, Supervised

ROOT = Path(__file__).resolve().parents[2]


def config(**env: str) -> Config:
    return load_config(environ={f"B1E55ED_{key.upper()}": value for key, value in env.items()}, env_file=None)


async def read_events(db: Path) -> list[AnyEvent]:
    store = await SqliteStore.open(db)
    try:
        return [record.event() for record in await store.read(limit=100_000)]
    finally:
        await store.close()


class Counter:
    """A source: sends 0, 1, 2, ... into its channel until it is stopped."""

    def __init__(self, send: trio.MemorySendChannel[int], started: list[str]) -> None:
        self.send, self.started, self.sent = send, started, 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self.send.clone() as send:
            self.started.append("counter")
            task_status.started()
            while True:
                await send.send(self.sent)
                self.sent += 1
                await trio.sleep(0.001)


class Recorder:
    """A stage downstream: slow, so numbers wait in its channel when the stop comes."""

    def __init__(self, runtime: Runtime, receive: trio.MemoryReceiveChannel[int], started: list[str]) -> None:
        self.runtime, self.receive, self.started = runtime, receive, started

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with self.receive.clone() as receive:
            self.started.append("recorder")
            task_status.started()
            async for n in receive:
                await trio.sleep(0.002)
                await self.runtime.log.append(Alert(ts=n, severity="info", source="recorder", message=str(n)))


@pytest.mark.slow
async def test_stop_drains_the_channels_before_the_log_closes(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    runtime = Runtime(config(), db_path=db, clock=WallClock())
    started: list[str] = []
    counter: list[Counter] = []

    def stages(rt: Runtime) -> Sequence[Supervised]:
        send, receive = rt.channel(16)
        counter.append(Counter(send, started))
        return [Supervised("counter", counter[0], source=True), Supervised("recorder", Recorder(rt, receive, started))]

    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run, stages)
        assert started == ["counter", "recorder"]
        await trio.sleep(0.3)
        runtime.request_stop("test")

    events = await read_events(db)
    assert isinstance(events[0], RuntimeStarted)
    assert events[-1] == RuntimeStopped(ts=events[-1].ts, reason="test")
    recorded = [int(e.message) for e in events if isinstance(e, Alert)]
    assert recorded == list(range(counter[0].sent))  # everything sent was recorded: nothing left in the channel
    assert verify_database(db).count == len(events)


class Crasher:
    def __init__(self) -> None:
        self.runs = 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.runs += 1
        task_status.started()
        raise ValueError(f"boom {self.runs}")


async def test_restarts_and_escalation_are_recorded_with_an_alert(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    cfg = config(supervisor__backoff_initial_s="0.001", supervisor__max_restarts="2", supervisor__jitter="0")
    runtime = Runtime(cfg, db_path=db, clock=WallClock())
    crasher = Crasher()
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run, lambda rt: [Supervised("crasher", crasher)])
        while runtime.health["crasher"].state != "stopped":  # noqa: ASYNC110 - health has no change event
            await trio.sleep(0.01)
        runtime.request_stop("test")

    events = await read_events(db)
    restarts = [e for e in events if isinstance(e, ActorRestarted)]
    assert [(e.actor, e.attempt, e.error) for e in restarts] == [
        ("crasher", 1, "ValueError: boom 1"),
        ("crasher", 2, "ValueError: boom 2"),
    ]
    (escalated,) = [e for e in events if isinstance(e, ActorEscalated)]
    assert (escalated.actor, escalated.restarts, escalated.error) == ("crasher", 2, "ValueError: boom 3")
    (alert,) = [e for e in events if isinstance(e, Alert)]
    assert alert.severity == "critical"
    assert "crasher" in alert.message
    assert crasher.runs == 3


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b1e55ed", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.slow
def test_sigterm_stops_the_process_cleanly(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    with subprocess.Popen(
        [sys.executable, "-m", "b1e55ed", "run", "--db", str(db)],
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        deadline = time.monotonic() + 30
        while "at seq" not in process.stderr.readline():
            assert time.monotonic() < deadline
            assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    events = trio.run(read_events, db)
    assert isinstance(events[-1], RuntimeStopped)
    assert events[-1].reason == "SIGTERM"


@pytest.mark.slow
def test_help_lists_the_subcommands(tmp_path: Path) -> None:
    result = cli("--help", cwd=tmp_path)
    assert result.returncode == 0
    for command in ("run", "verify", "rebuild", "--config"):
        assert command in result.stdout


@pytest.mark.slow
def test_bad_configuration_exits_2_naming_the_key_and_its_source(tmp_path: Path) -> None:
    result = cli("verify", cwd=tmp_path, env={"B1E55ED_API__PORT": "many"})
    assert result.returncode == 2
    assert "api.port" in result.stderr
    assert "B1E55ED_API__PORT" in result.stderr

    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: paper\neventlog:\n  pathh: x.db\n")
    result = cli("--config", str(bad), "verify", cwd=tmp_path)
    assert result.returncode == 2
    assert "pathh" in result.stderr
    assert "bad.yaml" in result.stderr

    plugin = tmp_path / "plugin.yaml"
    plugin.write_text("brain:\n  producers:\n    - {name: ghost, module: no.such.module, class: Ghost}\n")
    result = cli("--config", str(plugin), "run", cwd=tmp_path)
    assert result.returncode == 2
    assert "brain.producers[0]" in result.stderr
    assert "no.such.module" in result.stderr


@pytest.mark.slow
def test_a_misspelt_plugin_param_exits_2_naming_the_plugin_the_key_the_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "typo.yaml"
    default = (ROOT / "config" / "b1e55ed.yaml").read_text()
    config.write_text(default.replace("threshold_pct: 5}", "threshhold_pct: 5}", 1))
    line = next(n for n, text in enumerate(config.read_text().splitlines(), 1) if "threshhold_pct" in text)
    result = cli("--config", str(config), "run", cwd=tmp_path)
    assert result.returncode == 2
    assert f"brain.producers[1].params.threshhold_pct (momentum): unknown key (from {config}, line {line})" in (
        result.stderr
    )


class Appender:
    """Appends an alert every few milliseconds, counting its runs."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime, self.runs = runtime, 0

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.runs += 1
        task_status.started()
        for n in range(1_000_000):
            await self.runtime.log.append(Alert(ts=n, severity="info", source="appender", message=str(n)))
            await trio.sleep(0.005)


async def test_a_chain_mismatch_halts_at_its_first_occurrence(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    cfg = config(supervisor__backoff_initial_s="0.001", supervisor__jitter="0")
    runtime = Runtime(cfg, db_path=db, clock=WallClock())
    appender = Appender(runtime)
    with pytest.RaisesGroup(HeadMismatch, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run, lambda rt: [Supervised("appender", appender)])
            await trio.sleep(0.05)
            # Another writer behind the lock's back: the running writer's next append no longer follows the head.
            with closing(sqlite3.connect(db, isolation_level=None)) as conn:
                conn.execute("BEGIN IMMEDIATE")  # the head read and the insert in one write lock: no append between
                seq, head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                conn.execute("INSERT INTO events VALUES (?, 0, 'alert', x'7b7d', ?, ?)", (seq + 1, head, b"\0" * 32))
                conn.execute("COMMIT")
            with trio.fail_after(5):
                while runtime.health["appender"].state != "stopped":  # noqa: ASYNC110 - health has no change event
                    await trio.sleep(0.01)

    assert appender.runs == 1  # escalated at once: never restarted
    assert runtime.gate.state == "HALTED"
