"""Commanding trading from Telegram through a fake Bot API: only the allowed chat is obeyed, /halt goes the way of
``python -m b1e55ed killswitch``, the answers come from the API's read model, and a restart runs no command twice."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from actors.killswitch import KillSwitch
from b1e55ed.alerts.wiring import commands
from b1e55ed.api.queries import ReadModel
from b1e55ed.runtime import Runtime, Supervised
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import CHAT, TOKEN, alerts_config, running, until, with_actors
from tests.integration.api_support import DECISION_ID, cycle_events

STRANGER = 666


def one(texts: list[str], start: str) -> str:
    [found] = [text for text in texts if text.startswith(start)]
    return found


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
            await until(lambda: len(fake.texts(CHAT)) >= 6, what="the status after the halt")
    texts = fake.texts(CHAT)
    positions, why, halt, status, pnl = (
        one(texts, start) for start in ("BTC long", "confluence BTC", "halt requested", "trading HALTED", "equity")
    )
    kill_switch_alert = one(texts, "[CRITICAL] kill switch")
    assert f"decision {DECISION_ID}" in positions
    assert "taken" in why
    assert "HALTED" in halt
    assert "cycle 1" in status
    assert "ACTIVE → HALTED (manual): requested from Telegram" in kill_switch_alert
    assert "realised" in pnl
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
