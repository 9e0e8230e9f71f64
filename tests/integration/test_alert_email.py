"""Email through the standard library's smtplib, in a worker thread, against a loopback SMTP server."""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path

import msgspec
import pytest

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.channels.smtp import SmtpChannel
from b1e55ed.alerts.triggers import Notice
from b1e55ed.alerts_config import SmtpConfig
from b1e55ed.secret import Secret
from tests.fakes.smtp import FakeSmtp, serving
from tests.integration.alerts_support import alert, alerts_config, running, smtp_settings, until

PASSWORD = "smtp-pass-7c21"
NOTICE = Notice(trigger="stop_hit", severity="warning", text="stop hit: BTC long, P&L -15.44", ts=1, seq=9)


def smtp(port: int) -> SmtpConfig:
    return SmtpConfig(
        host="127.0.0.1",
        port=port,
        security="none",  # the loopback server has no certificate; starttls and tls are smtplib's own
        username="bot",
        sender="brain@example.com",
        recipients=("owner@example.com",),
        timeout_s=5.0,
    )


async def test_an_alert_goes_out_as_an_email() -> None:
    fake = FakeSmtp("bot", PASSWORD)
    with serving(fake) as port:
        await SmtpChannel(smtp(port), Secret(PASSWORD)).send(NOTICE)
    [raw] = fake.messages
    mail = message_from_bytes(raw)
    assert mail["Subject"] == "b1e55ed warning: stop_hit"
    assert mail["To"] == "owner@example.com"
    assert "[WARNING] stop hit: BTC long, P&L -15.44" in mail.get_payload()


async def test_bad_credentials_are_refused_without_showing_the_password() -> None:
    fake = FakeSmtp("bot", "the-right-one")
    with serving(fake) as port, pytest.raises(DeliveryFailed) as refused:
        await SmtpChannel(smtp(port), Secret(PASSWORD)).send(NOTICE)
    assert refused.value.permanent
    assert "535" in str(refused.value)
    assert PASSWORD not in str(refused.value)
    assert fake.messages == []


async def test_a_refused_connection_is_a_transient_failure() -> None:
    with serving(FakeSmtp("bot", PASSWORD)) as port:
        pass  # closed again: nothing listens on the port now
    with pytest.raises(DeliveryFailed) as failed:
        await SmtpChannel(smtp(port), Secret(PASSWORD)).send(NOTICE)
    assert not failed.value.permanent


async def test_the_runtime_emails_an_alert_from_the_log(tmp_path: Path) -> None:
    fake = FakeSmtp("bot", PASSWORD)
    with serving(fake) as port:
        config = alerts_config(
            tmp_path,
            "http://127.0.0.1:9",
            token="",  # no Telegram
            keys__smtp_password=PASSWORD,
            **smtp_settings(port),
        )
        async with running(config, tmp_path / "brain.db") as runtime:
            assert "alerts.telegram" not in runtime.health
            await runtime.log.append(alert(1))
            await until(lambda: len(fake.messages) == 1)
    assert "fill for an order the log does not know #1" in message_from_bytes(fake.messages[0]).get_payload()


async def test_starttls_is_never_skipped_when_the_server_does_not_offer_it() -> None:
    fake = FakeSmtp("bot", PASSWORD)  # offers no STARTTLS
    with serving(fake) as port, pytest.raises(DeliveryFailed, match="STARTTLS"):
        await SmtpChannel(msgspec.structs.replace(smtp(port), security="starttls"), Secret(PASSWORD)).send(NOTICE)
    assert fake.logins == []  # the password never went out in clear
