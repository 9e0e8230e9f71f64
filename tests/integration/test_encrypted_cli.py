"""The encrypted log end to end: ``run`` writes a log no plain program reads, resumes it with the password, refuses
a wrong or missing one with exit 2 and the file untouched, and every offline command works given the password."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest

from b1e55ed.eventlog.connect import LogKey, connect
from tests.integration.loop_helpers import child_env

pytest.importorskip("sqlcipher3")
pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
ENCRYPTED = {"B1E55ED_EVENTLOG__ENCRYPT": "true", "B1E55ED_KEYS__DB_PASSWORD": PASSWORD}
SIM = {"B1E55ED_MARKET__SIM_PACE": "max", "B1E55ED_MARKET__SIM_BARS": "50", "B1E55ED_API__ENABLED": "false"}
SQLITE_HEADER = b"SQLite format 3\x00"
OK = re.compile(r"^OK (\d+) events, head ([0-9a-f]{64})$", re.M)


def cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "b1e55ed", *args],
        cwd=cwd,
        env=child_env(**env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def contents(db: Path) -> bytes:
    """The database's bytes and its write-ahead log's, if one is left beside it."""
    wal = db.with_name(db.name + "-wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def digest(db: Path) -> str:
    return hashlib.sha256(contents(db)).hexdigest()


def verified(db: Path, cwd: Path) -> tuple[int, str]:
    result = cli("verify", "--db", str(db), cwd=cwd, **ENCRYPTED)
    assert result.returncode == 0, result.stderr
    found = OK.search(result.stdout)
    assert found, result.stdout
    return int(found[1]), found[2]


def test_an_encrypted_run_is_unreadable_resumes_with_its_password_and_refuses_a_wrong_or_missing_one(
    tmp_path: Path,
) -> None:
    db = tmp_path / "brain.db"
    first = cli("run", "--market", "sim", "--db", str(db), cwd=tmp_path, **SIM, **ENCRYPTED)
    assert first.returncode == 0, first.stderr[-3000:]
    assert PASSWORD not in first.stdout + first.stderr
    assert not db.read_bytes().startswith(SQLITE_HEADER)
    assert b"runtime_started" not in contents(db)  # a kind, and a payload field, of every run's first event
    plain = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    with closing(plain), pytest.raises(sqlite3.DatabaseError, match="file is not a database"):
        plain.execute("SELECT count(*) FROM events")
    count, head = verified(db, tmp_path)

    before = digest(db)
    refusals = {
        "wrong password": (
            {**SIM, **ENCRYPTED, "B1E55ED_KEYS__DB_PASSWORD": "wrong"},
            "the password in B1E55ED_KEYS__DB_PASSWORD does not open this encrypted log",
        ),
        "no password": (
            {**SIM, "B1E55ED_EVENTLOG__ENCRYPT": "true"},
            "eventlog.encrypt is true, but there is no password: set B1E55ED_KEYS__DB_PASSWORD",
        ),
        "not told it is encrypted": ({**SIM}, "or an encrypted one: to open an encrypted log, set eventlog.encrypt"),
    }
    for case, (env, message) in refusals.items():
        for command in (["run", "--market", "sim"], ["verify"], ["rebuild"], ["report"]):
            refused = cli(*command, "--db", str(db), cwd=tmp_path, **env)
            assert refused.returncode == 2, (case, command, refused.stderr[-2000:])
            assert message in refused.stderr, (case, command, refused.stderr)
            assert "Traceback" not in refused.stderr
            assert digest(db) == before, (case, command)

    again = cli("run", "--market", "sim", "--db", str(db), cwd=tmp_path, **SIM, **ENCRYPTED)
    assert again.returncode == 0, again.stderr[-3000:]
    grown, _ = verified(db, tmp_path)
    assert grown > count
    with closing(connect(db, LogKey(PASSWORD))) as conn:  # the first run's head is in the chain, at its seq
        assert conn.execute("SELECT hash FROM events WHERE seq = ?", (count,)).fetchone()[0].hex() == head


def test_every_offline_command_works_on_an_encrypted_log_given_its_password(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    run = cli("run", "--market", "sim", "--db", str(db), cwd=tmp_path, **SIM, **ENCRYPTED)
    assert run.returncode == 0, run.stderr[-3000:]
    count, head = verified(db, tmp_path)

    rebuilt = cli("rebuild", "--db", str(db), cwd=tmp_path, **ENCRYPTED)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"rebuilt the projections from {count} events" in rebuilt.stdout

    copy = tmp_path / "copy.db"
    backed = cli("backup", "--db", str(db), str(copy), cwd=tmp_path, **ENCRYPTED)
    assert backed.returncode == 0, backed.stderr
    assert f"{count} events verified, head seq {count} {head}" in backed.stdout
    assert not copy.read_bytes().startswith(SQLITE_HEADER)
    assert verified(copy, tmp_path) == (count, head)

    elsewhere = tmp_path / "elsewhere" / "brain.db"
    restored = cli("restore", "--db", str(elsewhere), str(copy), cwd=tmp_path, **ENCRYPTED)
    assert restored.returncode == 0, restored.stderr
    assert verified(elsewhere, tmp_path) == (count, head)

    report = cli("report", "--db", str(db), "--out", str(tmp_path / "report"), cwd=tmp_path, **ENCRYPTED)
    assert report.returncode == 0, report.stderr
    assert (tmp_path / "report" / "report.html").is_file()

    karma = cli("karma", "--db", str(db), "--json", cwd=tmp_path, **ENCRYPTED)
    assert karma.returncode == 0, karma.stderr
    assert karma.stdout.lstrip().startswith("{")

    wrong = {**ENCRYPTED, "B1E55ED_KEYS__DB_PASSWORD": "wrong"}
    refused = cli("killswitch", "halt", "--db", str(db), cwd=tmp_path, **wrong)
    assert refused.returncode == 2, refused.stderr
    assert not db.with_name("brain.db.killswitch").exists()  # refused before the request was written
    asked = cli("killswitch", "halt", "--db", str(db), cwd=tmp_path, **ENCRYPTED)
    assert asked.returncode == 1, asked.stderr  # read the log, wrote the request: no brain runs to apply it
    assert "will be applied at the next start" in asked.stderr


def test_a_backtest_into_an_encrypted_log_replays_reports_and_resumes(tmp_path: Path) -> None:
    data = tmp_path / "candles"
    data.mkdir()
    hour, start = 3_600_000, 1_704_067_200_000  # 2024-01-01
    rows = [(start + i * hour, 100.0 + i % 9, 102.0 + i % 9, 99.0 + i % 9, 101.0 + i % 9, 10.0) for i in range(700)]
    pl.DataFrame(rows, schema=["ts", "open", "high", "low", "close", "volume"], orient="row").write_parquet(
        data / "BTCUSDT.parquet"
    )
    folder = tmp_path / "bt"
    argv = ["backtest", "--market", f"replay:{data}", "--symbols", "BTC", "--from", "2024-01-20", "--to", "2024-01-25"]
    result = cli(*argv, "--report", str(folder), cwd=tmp_path, **ENCRYPTED)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (folder / "report.html").is_file()
    db = folder / "brain.db"
    assert not db.read_bytes().startswith(SQLITE_HEADER)
    count, _ = verified(db, tmp_path)
    assert count > 0
    again = cli(*argv, "--report", str(folder), cwd=tmp_path, **ENCRYPTED)  # the same command resumes it
    assert again.returncode == 0, again.stderr[-3000:]
    refused = cli(*argv, "--report", str(folder), cwd=tmp_path, **{**ENCRYPTED, "B1E55ED_KEYS__DB_PASSWORD": "no"})
    assert refused.returncode == 2
    assert "does not open this encrypted log" in refused.stderr
