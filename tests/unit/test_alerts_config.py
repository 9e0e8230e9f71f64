"""The ``alerts`` section: channels off without their secrets, and a bad setting named by its key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from b1e55ed.config import Config, ConfigError, config_hash, load_config

ROOT = Path(__file__).resolve().parents[2]


def config(**env: str) -> Config:
    return load_config(environ={f"B1E55ED_{k.upper()}": v for k, v in env.items()}, env_file=None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"alerts__smtp__host": "mail.example.com"}, r"^alerts\.smtp\.sender: is required"),
        (
            {"alerts__smtp__host": "mail.example.com", "alerts__smtp__sender": "a@b.c"},
            r"^alerts\.smtp\.recipients: must name at least one address",
        ),
        (
            {
                "alerts__smtp__host": "mail.example.com",
                "alerts__smtp__sender": "a@b.c",
                "alerts__smtp__recipients": "[d@e.f]",
                "alerts__smtp__security": "none",
            },
            r"^alerts\.smtp\.security: none sends the password in clear",
        ),
        ({"alerts__telegram_chat_id": "my-chat"}, r"^alerts\.telegram_chat_id: Expected `int \| null`"),
        ({"alerts__webhook_url": "ftp://hook"}, r"^alerts\.webhook_url: must start with http"),
        ({"alerts__dedup_s": "-1"}, r"^alerts\.dedup_s: Expected `float` >= 0"),
        ({"alerts__telegram_poll_s": "90"}, r"^alerts\.telegram_poll_s: Expected `int` <= 50"),
    ],
)
def test_a_bad_alerts_setting_is_named_by_its_key(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config(**env)


def test_the_alerts_section_and_its_secrets_change_no_config_hash() -> None:
    plain = config()
    paging = config(
        alerts__enabled="false",
        alerts__telegram_chat_id="-1001",
        keys__telegram_bot_token="1:x",
        keys__smtp_password="p",
        alerts__webhook_url="https://hooks.example.com/x",
    )
    assert config_hash(paging) == config_hash(plain)


@pytest.mark.slow
def test_the_command_line_refuses_a_bad_alerts_setting_with_exit_2_naming_it(tmp_path: Path) -> None:
    env = {"B1E55ED_ALERTS__SMTP__HOST": "mail.example.com", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "b1e55ed", "verify", "--db", str(tmp_path / "none.db")],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "alerts.smtp.sender" in done.stderr


def test_commands_are_obeyed_from_the_alert_chat_unless_others_are_listed() -> None:
    assert config().alerts.allowed_chats() == frozenset()
    assert config(alerts__telegram_chat_id="42").alerts.allowed_chats() == {42}
    listed = config(alerts__telegram_chat_id="42", alerts__telegram_allowed_chats="[7, -100]")
    assert listed.alerts.allowed_chats() == {7, -100}
