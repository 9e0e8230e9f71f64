"""Commanding trading from Telegram through a fake Bot API: only the allowed chat is obeyed, /halt goes the way of
``python -m b1e55ed killswitch``, the answers come from the API's read model, and a restart runs no command twice."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from actors.killswitch import KillSwitch
from b1e55ed.alerts.wiring import commands
from b1e55ed.api.queries import ReadModel
from b1e55ed.registry import resolve
from b1e55ed.runtime import Runtime, Supervised
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import CHAT, TOKEN, alerts_config, running, until, with_actors
from tests.integration.api_support import DECISION_ID, cycle_events

STRANGER = 666


MARKERS = ("BTC long", "confluence BTC", "halt requested", "trading HALTED", "realised", "[CRITICAL] kill switch")
"""What starts (or, for /pnl, holds) each answer to the first test's commands, and the kill switch's alert."""


def found(texts: list[str], marker: str) -> list[str]:
    return [text for text in texts if text.startswith(marker) or (marker == "realised" and marker in text)]


def one(texts: list[str], marker: str) -> str:
    [text] = found(texts, marker)
    return text


def killswitch(runtime: Runtime) -> Supervised:
    actor = KillSwitch(gate=runtime.gate, log=runtime.log, clock=runtime.clock, db=runtime.db_path, poll_s=0.05)
    return Supervised("killswitch", actor, source=True)


def telegram(runtime: Runtime) -> Supervised:
    read = ReadModel(
        runtime.log.store,
        health=runtime.health,
        gate=runtime.gate,
        clock=runtime.clock,
        strategies=["confluence"],
        producers=["momentum", "rsi"],
        starting_equity=10_000.0,
    )
    assert runtime.alerter is not None
    health = runtime.health.register("telegram")
    control = commands(runtime.config, runtime.alerter.telegram, read=read, db=runtime.db_path, health=health)
    assert control is not None
    return Supervised("telegram", control, source=True)


async def test_commands_from_the_allowed_chat_are_answered_and_halt_stops_trading(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeTelegram(TOKEN)
    db = tmp_path / "brain.db"
    caplog.set_level(logging.WARNING, logger="b1e55ed.alerts.control")
    with serving(fake) as url:
        config = alerts_config(tmp_path, url, market__source="sim")
        async with running(config, db, with_actors(killswitch, telegram)) as runtime:
            await runtime.log.append(*cycle_events(1, first_seq=runtime.log.head.seq + 1))
            fake.command(STRANGER, "/halt")
            fake.command(CHAT, "/positions")
            fake.command(CHAT, f"/why {DECISION_ID}")
            fake.command(CHAT, "/halt")
            await until(lambda: len(fake.texts(CHAT)) >= 3, what="three answers")
            await until(lambda: runtime.gate.state == "HALTED", what="the kill switch applying /halt")
            fake.command(CHAT, "/status")
            fake.command(CHAT, "/pnl")
            await until(lambda: all(len(found(fake.texts(CHAT), marker)) == 1 for marker in MARKERS), what="answers")
    texts = fake.texts(CHAT)
    positions, why, halt, status, pnl = (one(texts, marker) for marker in MARKERS[:-1])
    kill_switch_alert = one(texts, MARKERS[-1])
    assert f"decision {DECISION_ID}" in positions
    assert "taken" in why
    assert "HALTED" in halt
    assert "cycle 1" in status
    assert "ACTIVE → HALTED (manual): requested from Telegram" in kill_switch_alert
    assert "unrealised" in pnl
    assert fake.texts(STRANGER) == []  # no answer to a stranger
    assert any(f"/halt from chat {STRANGER} refused" in r.getMessage() for r in caplog.records)


async def test_a_restart_runs_no_command_twice(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    db = tmp_path / "brain.db"
    with serving(fake) as url:
        config = alerts_config(tmp_path, url, market__source="sim")
        fake.command(CHAT, "/halt")
        async with running(config, db, with_actors(killswitch, telegram)) as runtime:
            await until(lambda: runtime.gate.state == "HALTED")
            fake.command(CHAT, "/resume")
            await until(lambda: runtime.gate.state == "ACTIVE")
        answered = len(fake.texts(CHAT))
        async with running(config, db, with_actors(killswitch, telegram)) as runtime:
            fake.command(CHAT, "/status")
            await until(lambda: len(fake.texts(CHAT)) > answered)
            assert runtime.gate.state == "ACTIVE"  # the /halt before the restart did not run again
    replies = [text for text in fake.texts(CHAT) if not text.startswith("[")]  # alerts start with their severity
    assert [r.split(" ")[0] for r in replies] == ["halt", "resume", "trading"]


async def test_the_trading_pipeline_wires_the_commands_to_its_api_read_model(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    db = tmp_path / "brain.db"
    with serving(fake) as url:
        config = alerts_config(tmp_path, url, market__source="sim", market__sim_pace="wall", market__history_bars="50")
        pipeline = resolve(config.runtime.pipeline)
        async with running(config, db, lambda rt: pipeline(rt).stages()) as runtime:
            assert "telegram" in runtime.health
            fake.command(CHAT, "/positions")
            await until(lambda: "no open positions" in fake.texts(CHAT))
