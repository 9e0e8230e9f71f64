"""``backtest`` and ``report`` on real history, run in this process through ``cli.main``."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.cli import main
from b1e55ed.eventlog.verify import verify_database
from tests.integration.loop_helpers import child_env

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path``, with no ``.env`` of the user's and no ``B1E55ED_*`` variable from outside."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if name.startswith("B1E55ED_")]:
        monkeypatch.delenv(name)
    return tmp_path


def backtest_argv(shared_data: Path, report: Path, *extra: str, start: str, end: str) -> list[str]:
    return [
        "backtest",
        "--market", f"replay:{shared_data / 'ohlcv_1h'}",
        "--symbols", "BTC", "ETH",
        "--from", start,
        "--to", end,
        "--funding", str(shared_data / "funding"),
        "--fear-greed", str(shared_data / "fear_greed"),
        "--report", str(report),
        *extra,
    ]  # fmt: skip


def backtest(shared_data: Path, report: Path, *extra: str, start: str = "2024-01-01", end: str = "2024-03-01") -> int:
    return main(backtest_argv(shared_data, report, *extra, start=start, end=end))


def settled_cycles(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            return int(conn.execute("SELECT count(*) FROM events WHERE kind = 'settled'").fetchone()[0])
    except sqlite3.OperationalError:
        return 0  # not created yet


def decision_ids(db: Path) -> set[str]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT payload FROM events WHERE kind = 'decision'").fetchall()
    return {json.loads(payload)["decision_id"] for (payload,) in rows}


@pytest.mark.slow
def test_a_backtest_of_real_history_writes_a_self_contained_report_that_report_rebuilds_identically(
    workdir: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workdir / "bt"
    assert backtest(shared_data, folder) == 0
    out = capsys.readouterr().out
    assert "chain head" in out
    assert str(folder / "report.html") in out

    db = folder / "brain.db"
    verify_database(db)
    report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert report["run"]["symbols"] == ["BTC", "ETH"]
    assert report["run"]["cycles"] == 1440  # 60 days of hourly closes
    assert report["summary"]["closed_trades"] > 0
    assert report["summary"]["funding_paid"] != 0  # --funding was applied
    assert {row["name"] for row in report["by_symbol"]} <= {"BTC", "ETH"}
    assert [row["month"] for row in report["monthly"]] == ["2024-01", "2024-02"]
    linked = {trade["decision_id"] for trade in report["trades"]}
    assert None not in linked
    assert linked <= decision_ids(db)
    assert {d["decision_id"] for d in report["decisions"]} == linked

    html = (folder / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    for decision_id in linked:
        assert f'href="#d-{decision_id}"' in html
    assert list((folder / "features").glob("chain=*/date=*/*.parquet")), "the feature store wrote into the folder"

    assert main(["report", "--db", str(db), "--out", str(workdir / "again")]) == 0
    assert (workdir / "again" / "report.json").read_bytes() == (folder / "report.json").read_bytes()


@pytest.mark.slow
def test_a_backtest_resumes_its_own_log_but_refuses_one_made_with_another_config(
    workdir: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = workdir / "bt"
    assert backtest(shared_data, folder, end="2024-01-08") == 0
    before = verify_database(folder / "brain.db")
    capsys.readouterr()

    assert backtest(shared_data, folder, "--strategies", "momentum", end="2024-01-08") == 2
    err = capsys.readouterr().err
    assert f"cannot resume {folder / 'brain.db'}: config hash differs" in err
    assert "brain.strategies[0].enabled: true → false" in err
    assert verify_database(folder / "brain.db") == before  # refused before anything was written

    assert backtest(shared_data, folder, end="2024-01-08") == 0, capsys.readouterr().err
    resumed = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert resumed["run"]["starts"] == 2
    assert resumed["run"]["cycles"] == 24 * 7  # none replayed twice


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def api_log() -> Iterator[Collect]:
    """What the API server logs (``logsetup`` replaces the root's handlers, so this listens on its own logger)."""
    handler = Collect()
    api = logging.getLogger("b1e55ed.api")
    api.addHandler(handler)
    yield handler
    api.removeHandler(handler)


@pytest.fixture
def held_port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A loopback port this test listens on, configured as ``api.port``: a server there would fail to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("B1E55ED_API__PORT", str(port))
        yield port


def test_no_api_port_is_bound_without_serve(workdir: Path, shared_data: Path, api_log: Collect, held_port: int) -> None:
    assert backtest(shared_data, workdir / "quiet", end="2024-01-03") == 0
    assert api_log.messages == []

    assert backtest(shared_data, workdir / "served", "--serve", end="2024-01-03") == 0
    assert any(f"cannot serve the API on 127.0.0.1:{held_port}" in message for message in api_log.messages)


@pytest.mark.slow
def test_a_backtest_stopped_by_ctrl_c_reports_what_it_did_and_the_same_command_finishes_it_identically(
    workdir: Path, shared_data: Path
) -> None:
    window = {"start": "2024-01-01", "end": "2024-05-01"}
    assert backtest(shared_data, workdir / "whole", **window) == 0
    whole = json.loads((workdir / "whole" / "report.json").read_text(encoding="utf-8"))

    folder = workdir / "cut"
    argv = [sys.executable, "-m", "b1e55ed", *backtest_argv(shared_data, folder, **window)]
    child = subprocess.Popen(argv, cwd=workdir, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while settled_cycles(folder / "brain.db") == 0 and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err.decode()[-2000:]
    assert b"the same command resumes it" in err
    cut = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert 0 < cut["run"]["cycles"] < whole["run"]["cycles"]

    assert backtest(shared_data, folder, **window) == 0
    resumed = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert resumed["run"]["starts"] == 2
    for section in ("summary", "by_strategy", "by_symbol", "monthly", "curve", "trades", "decisions", "halts"):
        assert resumed[section] == whole[section], section
