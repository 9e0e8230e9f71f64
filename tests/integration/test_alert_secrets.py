"""Planted secrets never show: a bot token, a webhook URL and an SMTP password, each refused by a server that
echoes what it was sent, appear in no log line, no health detail, no row of alerts.db and no line of alerts.log."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from b1e55ed.config import secret_values
from b1e55ed.logsetup import Redactor
from tests.fakes.smtp import FakeSmtp
from tests.fakes.smtp import serving as serving_smtp
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import alert, alerts_config, deliveries, running, smtp_settings, until

pytestmark = pytest.mark.slow  # real sockets and disks, on the wall clock

HOOK_SECRET = "hook-secret-5d0e"
SMTP_PASSWORD = "smtp-secret-a83f"


async def test_no_secret_shows_in_logs_health_or_alerts_db(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeTelegram("111:a-token-it-does-not-know")
    smtp = FakeSmtp("bot", "another-password")
    db = tmp_path / "brain.db"
    with serving(fake) as url, serving_smtp(smtp) as port:
        config = alerts_config(
            tmp_path,
            url,
            alerts__webhook_url=f"{url}/hooks/{HOOK_SECRET}",
            keys__smtp_password=SMTP_PASSWORD,
            **smtp_settings(port),
        )
        planted = secret_values(config)
        assert len(planted) == 3
        async with running(config, db) as runtime:
            await runtime.log.append(alert(1))
            channels = ("alerts.telegram", "alerts.webhook", "alerts.email")
            await until(lambda: all(runtime.health[name].state == "degraded" for name in channels))
            await until(lambda: len(fake.bodies) >= 4 and len(smtp.logins) >= 2, what="a few refused attempts")
            details = [runtime.health[name].detail for name in channels]
            rows = await deliveries(db)
    assert any("Unauthorized: ***" in detail for detail in details)  # the servers refused, echoing what they got
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("b1e55ed")]
    text = "\n".join([*details, str(rows), (tmp_path / "logs" / "alerts.log").read_text(), *ours])
    for secret in planted:
        assert secret not in text
    # httpx logs each request's URL at INFO: the process's log filter (configured from the same secrets) masks it.
    redactor = Redactor(planted)
    for record in caplog.records:
        redactor.filter(record)
        for secret in planted:
            assert secret not in record.getMessage()
