"""A real brain under a stand-in for systemd: a unix datagram socket as ``NOTIFY_SOCKET``. It hears READY=1 once
the API listens and the first cycle has started, watchdog pings while the brain looks at the market, STATUS lines
with the last settled cycle, and STOPPING=1 at SIGTERM, after which the process exits 0."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from b1e55ed.api.server import free_port

pytestmark = pytest.mark.slow


def test_a_running_brain_tells_systemd_ready_alive_status_and_stopping(tmp_path: Path) -> None:
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    systemd.bind(str(tmp_path / "notify"))
    systemd.settimeout(30)
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env |= {
        "NOTIFY_SOCKET": str(tmp_path / "notify"),
        "WATCHDOG_USEC": "1000000",  # a ping every half second
        "B1E55ED_API__PORT": str(free_port()),
        "B1E55ED_MARKET__SIM_PACE": "wall",
        "B1E55ED_TIMEFRAME": "1s",
        "B1E55ED_MARKET__HISTORY_BARS": "600",
        "B1E55ED_BRAIN__INTERVAL_S": "0.2",
    }
    command = [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(tmp_path / "brain.db")]
    heard: list[str] = []
    with (tmp_path / "stderr").open("wb") as stderr:
        brain = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        while not any("READY=1" in message for message in heard):
            heard.append(systemd.recv(4096).decode())
        ready_at = time.monotonic()
        while time.monotonic() - ready_at < 4:
            heard.append(systemd.recv(4096).decode())
        brain.send_signal(signal.SIGTERM)
        while not any("STOPPING=1" in message for message in heard):
            heard.append(systemd.recv(4096).decode())
        assert brain.wait(timeout=30) == 0
    finally:
        brain.kill()
        systemd.close()
    lines = [line for message in heard for line in message.splitlines()]
    ready = lines.index("READY=1")
    assert lines.count("WATCHDOG=1") >= 6  # about 8 in 4 s
    statuses = [line for line in lines[ready:] if line.startswith("STATUS=cycle ")]
    assert len(statuses) >= 1, lines
    assert "STATUS=stopping: SIGTERM" in lines
    assert lines.index("STOPPING=1") > ready, (tmp_path / "stderr").read_text()[-2000:]
