"""``python -m b1e55ed alerts test``: one message to every configured channel, each one's result said."""

from __future__ import annotations

from pathlib import Path

import pytest

from b1e55ed.api.server import free_port
from b1e55ed.cli import main
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import CHAT, TOKEN


def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, url: str) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout's
    for name, value in {
        "B1E55ED_KEYS__TELEGRAM_BOT_TOKEN": TOKEN,
        "B1E55ED_ALERTS__TELEGRAM_CHAT_ID": str(CHAT),
        "B1E55ED_ALERTS__TELEGRAM_URL": url,
        "B1E55ED_ALERTS__WEBHOOK_URL": f"http://127.0.0.1:{free_port()}/hook",  # nothing listens
        "B1E55ED_ALERTS__TIMEOUT_S": "2",
        "B1E55ED_LOGGING__DIR": str(tmp_path / "logs"),
    }.items():
        monkeypatch.setenv(name, value)


def test_alerts_test_reports_each_channel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeTelegram(TOKEN)
    with serving(fake) as url:
        settings(monkeypatch, tmp_path, url)
        assert main(["alerts", "test"]) == 1  # the webhook is down
    said = capsys.readouterr().out.splitlines()
    assert said[:2] == ["log: sent", "telegram: sent"]
    assert said[2].startswith("webhook: failed: webhook: ConnectError")
    assert fake.texts(CHAT) == ["[INFO] test alert from b1e55ed: this channel works"]
    assert "test alert" in (tmp_path / "logs" / "alerts.log").read_text()
