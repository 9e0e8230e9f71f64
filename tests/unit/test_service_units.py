"""``make service`` prints the systemd units with this checkout's path and the chosen user, nothing left unfilled."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_make_service_prints_the_units_for_this_checkout() -> None:
    done = subprocess.run(
        ["make", "-s", "service", "SERVICE_USER=trader"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    printed = done.stdout
    for unit in ("b1e55ed.service", "b1e55ed-collect.service", "b1e55ed-collect.timer"):
        assert f"# --- /etc/systemd/system/{unit}" in printed
    assert "@ROOT@" not in printed
    assert "@USER@" not in printed
    assert f"WorkingDirectory={ROOT}" in printed
    assert f"ExecStart={ROOT}/.venv/bin/python -m b1e55ed run" in printed
    assert "User=trader" in printed
    assert "Type=notify" in printed
    assert "RestartPreventExitStatus=2" in printed
    assert f"ReadWritePaths={ROOT}/data {ROOT}/logs" in printed
    assert f"ExecStart={ROOT}/.venv/bin/python -m b1e55ed collect ohlcv --incremental" in printed
