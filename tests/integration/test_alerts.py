"""The alerter on a real runtime, against a fake Telegram on a loopback socket: every alert reaches every channel
once, whatever fault a channel plays; a failing channel degrades only itself and never holds up the log; a restart
neither loses nor repeats an alert."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import msgspec
import pytest
import trio

from b1e55ed.api.server import free_port
from b1e55ed.api.wiring import api_context
from b1e55ed.messages import CycleStarted
from tests.fakes.telegram import FakeTelegram, Fault, serving
from tests.integration.alerts_support import CHAT, TOKEN, alert, alerts_config, deliveries, running, until

pytestmark = pytest.mark.slow  # real sockets and disks, on the wall clock


def alerts_log(tmp_path: Path) -> list[str]:
    path = tmp_path / "logs" / "alerts.log"
    return path.read_text().splitlines() if path.exists() else []


async def test_an_alert_reaches_telegram_the_webhook_and_alerts_log_once(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    db = tmp_path / "brain.db"
    with serving(fake) as url:
        config = alerts_config(tmp_path, url, alerts__webhook_url=f"{url}/hook")
        async with running(config, db) as runtime:
            [record] = await runtime.log.append(alert(1))
            await until(lambda: len(fake.sent) == 1 and len(fake.hooked) == 1 and len(alerts_log(tmp_path)) == 1)
            assert runtime.health["alerts.telegram"].state == "running"
            await until(lambda: runtime.alerter is not None and runtime.alerter.idle, what="deliveries marked sent")
            [shown] = await api_context(runtime, strategies=[], producers=[]).alerts(50)  # the dashboard's panel
            assert {d["state"] for d in shown["deliveries"].values()} == {"sent"}
    assert fake.texts(CHAT) == ["[CRITICAL] oms: fill for an order the log does not know #1"]
    assert fake.hooked == [
        {
            "severity": "critical",
            "trigger": "alert",
            "text": alert(1).message.join(["oms: ", ""]),
            "ts": record.ts,
            "seq": record.seq,
        }
    ]
    [line] = alerts_log(tmp_path)
    assert f"[CRITICAL] [alert seq {record.seq}] oms: fill for an order the log does not know #1" in line
    [stored] = await deliveries(db)
    assert stored["deliveries"] == {
        channel: {"state": "sent", "attempts": 1, "last_error": ""} for channel in ("log", "telegram", "webhook")
    }


FAULTS = {
    "429 with retry_after": [Fault(429, retry_after=1)],
    "5xx": [Fault(502), Fault(503), Fault(500)],
    "timeout": [Fault(delay_s=1.5)],  # alerts.timeout_s is 1
}


@pytest.mark.parametrize("faults", FAULTS.values(), ids=FAULTS.keys())
async def test_a_fault_at_telegram_loses_nothing_doubles_nothing_and_holds_up_nothing(
    tmp_path: Path, faults: list[Fault]
) -> None:
    fake = FakeTelegram(TOKEN)
    fake.faults.extend(faults)
    db = tmp_path / "brain.db"
    with serving(fake) as url:
        async with running(alerts_config(tmp_path, url), db) as runtime:
            await runtime.log.append(alert(1), alert(2))
            await until(lambda: len(alerts_log(tmp_path)) == 2, what="alerts.log, which does not wait for Telegram")
            started = time.perf_counter()
            for cycle in range(1, 51):  # trading carries on: the log commits as fast as ever
                await runtime.log.append(
                    CycleStarted(ts=cycle, cycle=cycle, as_of=cycle, source="simulated", closes={})
                )
            appended_s = time.perf_counter() - started
            await until(lambda: len(fake.sent) == 2, what="delivery after the fault")
    assert fake.texts(CHAT) == [f"[CRITICAL] oms: fill for an order the log does not know #{n}" for n in (1, 2)]
    assert appended_s < 2.0
    first, _ = await deliveries(db)
    assert first["deliveries"]["telegram"]["attempts"] == 1 + len(faults)  # type: ignore[index]
    if faults[0].retry_after:
        assert fake.attempts[1] - fake.attempts[0] >= faults[0].retry_after - 0.05  # Telegram's wait, honoured


async def test_a_refused_connection_and_bad_credentials_deliver_once_fixed(tmp_path: Path) -> None:
    port = free_port()
    fake = FakeTelegram("999:the-token-it-knows")
    db = tmp_path / "brain.db"
    config = alerts_config(tmp_path, f"http://127.0.0.1:{port}")
    async with running(config, db) as runtime:
        await runtime.log.append(alert(1))
        await until(lambda: runtime.health["alerts.telegram"].state == "degraded", what="refused connection")
        assert "ConnectError" in runtime.health["alerts.telegram"].detail
        assert runtime.health["alerts.log"].state == "running"  # only its own health
        actors = (await api_context(runtime, strategies=[], producers=[]).read.health())["actors"]
        assert (actors["alerts.telegram"]["state"], actors["alerts.log"]["state"]) == ("degraded", "running")  # /health
        with serving(fake, port=port):
            await until(lambda: "sendMessage" in fake.requests, what="a retry")
            await until(lambda: "401" in runtime.health["alerts.telegram"].detail, what="bad credentials")
            assert TOKEN not in runtime.health["alerts.telegram"].detail
            assert not fake.sent
            fake.token = TOKEN  # the person fixes the bot's token
            await until(lambda: len(fake.sent) == 1, what="delivery with good credentials")
            await until(lambda: runtime.health["alerts.telegram"].state == "running", what="recovered health")
            await until(lambda: runtime.alerter is not None and runtime.alerter.idle, what="deliveries marked sent")
            [shown] = await api_context(runtime, strategies=[], producers=[]).alerts(50)  # the dashboard's panel
            assert {d["state"] for d in shown["deliveries"].values()} == {"sent"}
    assert fake.texts(CHAT) == ["[CRITICAL] oms: fill for an order the log does not know #1"]


async def test_a_restart_neither_loses_nor_repeats_an_alert(tmp_path: Path) -> None:
    port = free_port()
    fake = FakeTelegram(TOKEN)
    db = tmp_path / "brain.db"
    config = alerts_config(tmp_path, f"http://127.0.0.1:{port}")
    with serving(fake, port=port):
        async with running(config, db) as runtime:
            await runtime.log.append(alert(1))
            await until(lambda: len(fake.sent) == 1)
    # Telegram down: alert 2 is recorded, not delivered, when the run stops.
    async with running(config, db) as runtime:
        await runtime.log.append(alert(2))
        await until(lambda: len(alerts_log(tmp_path)) == 2)
    assert [d["deliveries"]["telegram"]["state"] for d in await deliveries(db)] == ["sent", "pending"]  # type: ignore[index]
    with serving(fake, port=port):
        async with running(config, db) as runtime:
            await until(lambda: len(fake.sent) == 2, what="the pending alert, after the restart")
            await runtime.log.append(alert(3))
            await until(lambda: len(fake.sent) == 3)
        async with running(config, db):
            await trio.sleep(0.5)  # a fourth start has nothing to say
    assert fake.texts(CHAT) == [f"[CRITICAL] oms: fill for an order the log does not know #{n}" for n in (1, 2, 3)]
    assert len(alerts_log(tmp_path)) == 3


async def test_identical_alerts_within_the_dedup_window_go_out_once(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    db = tmp_path / "brain.db"
    same = alert(1)
    with serving(fake) as url:
        async with running(alerts_config(tmp_path, url, alerts__dedup_s="60"), db) as runtime:
            later = msgspec.structs.replace(same, ts=same.ts + 30_000)
            outside = msgspec.structs.replace(same, ts=same.ts + 61_000)
            await runtime.log.append(same, later, outside)
            await until(lambda: len(fake.sent) == 2)
            await trio.sleep(0.3)
    assert len(fake.sent) == 2
    assert len(await deliveries(db)) == 2


def arrived(fake: FakeTelegram, n: int) -> bool:
    return len(fake.sent) > n


async def test_each_alert_arrives_on_its_own_without_waiting_for_the_next(tmp_path: Path) -> None:
    # A wake-up that lands while a channel is asking alerts.db for work must not be lost (it was, once).
    fake = FakeTelegram(TOKEN)
    with serving(fake) as url:
        async with running(alerts_config(tmp_path, url), tmp_path / "brain.db") as runtime:
            for n in range(200):
                await runtime.log.append(alert(n))
                await until(partial(arrived, fake, n), timeout_s=5, what=f"alert {n}")
    assert len(fake.sent) == 200
