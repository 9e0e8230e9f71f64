"""The spec's log files: each logger's lines in its file, every ERROR also in errors.log, rotation by size, request
lines off the console, and no secret in any file (planted in messages, arguments and tracebacks)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from b1e55ed import logsetup
from tests.integration.api_support import TOKEN, api_config, served

SECRETS = ("tok-" + "s3cr3t" * 4, "0x" + "5e" * 32)


def files(folder: Path) -> dict[str, str]:
    return {path.name: path.read_text() for path in sorted(folder.iterdir())}


def test_each_line_goes_to_its_file_and_no_secret_to_any(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    logsetup.configure("INFO", SECRETS, folder=tmp_path, max_bytes=1_000_000, backups=1)
    token, key = SECRETS
    logging.getLogger("actors.brain").info("cycle 7 started with token %s", token)
    logging.getLogger("actors.oms.oms").info("order submitted for key %s", key)
    logging.getLogger("b1e55ed.api.server").warning("serving; token=" + token)
    logging.getLogger("b1e55ed.api.access").info("127.0.0.1 GET /signals 200 1.2 ms")
    logging.getLogger("b1e55ed.api.dashboard.access").info("127.0.0.1 GET /ui/prices 200 3.4 ms")
    try:
        raise RuntimeError(f"venue refused key {key}")
    except RuntimeError:
        logging.getLogger("b1e55ed.venues.hyperliquid").exception("submit failed")
    written = files(tmp_path)
    console = capfd.readouterr().err

    assert set(written) == {"brain.log", "oms.log", "api.log", "dashboard.log", "errors.log"}
    assert "cycle 7 started" in written["brain.log"]
    assert "order submitted" in written["oms.log"]
    assert "submit failed" in written["oms.log"]
    assert "serving" in written["api.log"]
    assert "GET /signals 200" in written["api.log"]
    assert "GET /ui/prices 200" in written["dashboard.log"]
    assert "GET /ui/prices" not in written["api.log"]
    assert "[ERROR] [b1e55ed.venues.hyperliquid] submit failed" in written["errors.log"]
    assert "RuntimeError: venue refused key ***" in written["errors.log"]
    assert written["errors.log"].count("\n[") == 0  # one record only: nothing below ERROR
    assert "order submitted" not in written["brain.log"]  # each line in one file (errors.log apart)
    assert "GET /signals" not in console  # request lines stay off the console
    assert "cycle 7 started" in console
    for text in [*written.values(), console]:
        for secret in SECRETS:
            assert secret not in text


def test_a_file_rotates_by_size_and_keeps_its_backups(tmp_path: Path) -> None:
    logsetup.configure("INFO", folder=tmp_path, max_bytes=1024, backups=2)
    for n in range(200):
        logging.getLogger("actors.brain").info("line %d of a long story", n)
    names = {path.name for path in tmp_path.iterdir()}
    assert {"brain.log", "brain.log.1", "brain.log.2"} <= names
    assert "brain.log.3" not in names
    assert all((tmp_path / name).stat().st_size <= 1024 for name in names if name.startswith("brain.log"))


async def test_every_request_is_a_line_in_api_log_or_dashboard_log(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logsetup.configure("INFO", [TOKEN], folder=logs, max_bytes=1_000_000, backups=1)
    async with served(tmp_path, api_config(token=TOKEN), cycles=1) as server, server.client() as client:
        await client.get("/signals?limit=5")
        await client.get("/")
        async with server.client(auth=False) as stranger:
            await stranger.get("/positions")
    written = files(logs)
    assert "GET /signals 200" in written["api.log"]
    assert "limit=5" not in written["api.log"]  # never the query string
    assert "GET /positions 401" in written["api.log"]
    assert "GET / 200" in written["dashboard.log"]
    assert all(TOKEN not in text for text in written.values())


@pytest.mark.slow
def test_a_running_brain_writes_the_files_in_logging_dir(tmp_path: Path) -> None:
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    token, key = SECRETS
    env |= {
        "B1E55ED_API__ENABLED": "false",
        "B1E55ED_MARKET__SIM_PACE": "max",
        "B1E55ED_MARKET__SIM_BARS": "50",
        "B1E55ED_LOGGING__DIR": str(tmp_path / "var" / "logs"),
        "B1E55ED_API__AUTH_TOKEN": token,
        "B1E55ED_KEYS__APIFY_TOKEN": key,
    }
    command = [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(tmp_path / "brain.db")]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    written = files(tmp_path / "var" / "logs")
    assert "MARKET DATA IS SIMULATED" in written["brain.log"]
    assert "market data exhausted after cycle 50" in written["brain.log"]
    for text in written.values():
        assert token not in text
        assert key not in text
