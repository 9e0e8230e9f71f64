"""``kill -9`` between an alert's event and its delivery: after the restart the alert is delivered exactly once.

A real ``b1e55ed run`` on the simulated market at full pace pages a fake Telegram (``alerts.in_replay``). Telegram
goes down mid-run, so alerts are committed to the log and recorded in alerts.db but not delivered; the process is
killed; the restart delivers each of them, once, and repeats none of those delivered before.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.alerts.store import alerts_db_path
from b1e55ed.alerts.triggers import Notice, Triggers
from b1e55ed.eventlog.chain import Record
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import CHAT, TOKEN

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def command(workdir: Path, url: str, bars: int) -> tuple[list[str], dict[str, str]]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env |= {
        "PYTHONPATH": str(ROOT),  # this checkout, whatever is installed
        "B1E55ED_API__ENABLED": "false",
        "B1E55ED_MARKET__SIM_PACE": "max",
        "B1E55ED_MARKET__SIM_BARS": str(bars),
        "B1E55ED_BRAIN__REPLAY_BATCH": "8",
        "B1E55ED_KEYS__TELEGRAM_BOT_TOKEN": TOKEN,
        "B1E55ED_ALERTS__TELEGRAM_CHAT_ID": str(CHAT),
        "B1E55ED_ALERTS__TELEGRAM_URL": url,
        "B1E55ED_ALERTS__IN_REPLAY": "true",
        "B1E55ED_ALERTS__DEDUP_S": "0",
        "B1E55ED_ALERTS__RATE_PER_MIN": "100000",
        "B1E55ED_ALERTS__BACKOFF_INITIAL_S": "0.05",
        "B1E55ED_ALERTS__BACKOFF_MAX_S": "0.2",
        "B1E55ED_RUNTIME__SHUTDOWN_TIMEOUT_S": "20",
    }
    return [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(workdir / "brain.db")], env


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def expected(db: Path) -> list[str]:
    """Every alert the whole log calls for, as Telegram shows it."""
    triggers = Triggers(equity_drift_pct=5.0)
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT seq, ts, kind, payload, prev_hash, hash FROM events ORDER BY seq").fetchall()
    notices: list[Notice] = [n for row in rows for n in triggers.notices(Record(*row))]
    return [notice.render() for notice in notices]


def test_an_alert_killed_before_its_delivery_is_delivered_once_after_the_restart(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    log = tmp_path / "logs" / "alerts.log"
    with serving(fake) as url:
        argv, env = command(tmp_path, url, bars=200_000)
        process = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 120
            while len(fake.sent) < 2 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.02)
            fake.down = True
            delivered_before = len(fake.sent)
            while lines(log) < delivered_before + 3 and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait(timeout=30)
            stderr = process.stderr.read().decode() if process.stderr else ""
            if process.stderr:
                process.stderr.close()
        assert process.returncode == -signal.SIGKILL, stderr[-2000:]
        assert delivered_before >= 2
        assert lines(log) >= delivered_before + 3  # alerts recorded while Telegram was down: pending at the kill
        with closing(sqlite3.connect(alerts_db_path(tmp_path / "brain.db"))) as conn:
            pending = conn.execute("SELECT COUNT(*) FROM deliveries WHERE channel = 'telegram' AND state = 'pending'")
            assert pending.fetchone()[0] >= 3

        fake.down = False
        argv, env = command(tmp_path, url, bars=10)  # resumes after the log's last cycle: nothing left to trade
        again = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode == 0, again.stderr[-2000:]

    sent = fake.texts(CHAT)
    assert [text for text, count in Counter(sent).items() if count > 1] == []  # none twice
    assert sorted(sent) == sorted(expected(tmp_path / "brain.db"))  # none lost, none extra
