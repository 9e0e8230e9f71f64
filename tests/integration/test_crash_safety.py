"""Acknowledged events survive kill -9: done for real, with a child process killed at random moments."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from b1e55ed.eventlog.verify import verify_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_acknowledged_seq_survives_sigkill(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    rng = random.Random(20261127)
    acknowledged: set[int] = set()
    for round_ in range(6):
        stderr = tmp_path / f"child-{round_}.err"
        with (
            stderr.open("wb") as err,
            subprocess.Popen(
                [sys.executable, "-m", "tests.integration.appender_child", str(db), str(round_)],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=err,
            ) as child,
        ):
            assert child.stdout is not None
            first = child.stdout.readline()  # wait until it is appending, then kill at a random moment
            assert first.endswith(b"\n"), stderr.read_text()
            time.sleep(rng.uniform(0.05, 0.6))
            child.send_signal(signal.SIGKILL)
            rest = child.stdout.read()
        assert child.returncode == -signal.SIGKILL
        printed = (first + rest).split(b"\n")[:-1]  # a torn last line is not an acknowledgement
        acknowledged.update(int(line) for line in printed)

        verified = verify_database(db)
        with closing(sqlite3.connect(db)) as conn:
            stored = {seq for (seq,) in conn.execute("SELECT seq FROM events")}
        missing = acknowledged - stored
        assert not missing, f"round {round_}: acknowledged but lost: {sorted(missing)[:10]}"
        assert verified.count == len(stored) >= len(acknowledged)
    assert len(acknowledged) > 100
