"""The mock exchange in its own process, and a live b1e55ed run against it (the SIGKILL test and the bench).

``mock_exchange_process(wallet)`` starts ``python -m tests.fakes.hl_exchange_server``, waits for its port and stops
it (by its pid) on exit. ``live_env`` is the environment of ``python -m b1e55ed run --live`` against it: the seeded
simulation at 1 s candles, a short brain interval, a strategy that trades every cycle, the key only in the
environment. ``Churn`` moves the mock's market now and then so that stops and targets fire and trading goes on.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from actors.oms.ledger import Ledger
from b1e55ed.api.server import free_port
from b1e55ed.eventlog import codec

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class MockProcess:
    url: str
    process: subprocess.Popen[bytes]

    def control(self, request: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = httpx.post(self.url + "/control", json=request or {}, timeout=10)
        answer.raise_for_status()
        state: dict[str, Any] = answer.json()
        return state


class Churn(threading.Thread):
    """Moves the mock's market so that stops and targets fire now and then: positions close, new entries follow."""

    def __init__(self, mock: MockProcess, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.mock, self.rng = mock, rng
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.rng.uniform(0.3, 0.9)):
            positions = self.mock.control()["positions"]
            if not positions:
                continue
            coin = self.rng.choice(sorted(positions))
            _, entry = positions[coin]
            price = float(f"{entry * self.rng.choice((0.5, 1.5)):.5g}")
            self.mock.control({"mid": {coin: price}})
            self.mock.control({"mid": {coin: None}})


@contextmanager
def mock_exchange_process(wallet: str) -> Iterator[MockProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.hl_exchange_server", "--wallet", wallet],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"the mock exchange did not start: {line!r}")
        yield MockProcess(f"http://127.0.0.1:{int(line.split()[1])}", process)
    finally:
        if process.stdout is not None:
            process.stdout.close()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def live_env(key: str, url: str, db: Path, *, interval_s: float = 0.3, api_port: int = 0) -> dict[str, str]:
    """``api_port`` 0: a free port, so that several runs (and a developer's own) do not collide."""
    api_port = api_port or free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY": key,
            "B1E55ED_HYPERLIQUID__URL": url,
            "B1E55ED_HYPERLIQUID__IS_MAINNET": "false",
            "B1E55ED_HYPERLIQUID__TIMEOUT_S": "2",
            "B1E55ED_HYPERLIQUID__WEIGHT_PER_MIN": "60000",  # the mock has no limit; a cycle every 0.3 s polls a lot
            "B1E55ED_MARKET__SOURCE": "sim",
            "B1E55ED_TIMEFRAME": "1s",
            "B1E55ED_BRAIN__INTERVAL_S": str(interval_s),
            "B1E55ED_EVENTLOG__PATH": str(db),
            "B1E55ED_RUNTIME__LOG_LEVEL": "WARNING",
            "B1E55ED_API__PORT": str(api_port),
            "B1E55ED_BRAIN__STRATEGIES": (
                "[{name: every, module: tests.fakes.hl_exchange_strategy, class: EveryCycleStrategy, enabled: true}]"
            ),
        }
    )
    return env


def start_live(env: dict[str, str], cwd: Path, stderr: Path) -> subprocess.Popen[bytes]:
    with stderr.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "b1e55ed", "--config", str(ROOT / "config" / "b1e55ed.yaml"), "run", "--live"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def log_events(db: Path) -> list[Any]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        return [codec.decode(payload) for (payload,) in conn.execute("SELECT payload FROM events ORDER BY seq")]


def log_positions(db: Path) -> dict[str, float]:
    """Signed size per symbol, as the log says (folded exactly as the OMS folds it at start)."""
    ledger = Ledger(10_000.0)
    ledger.fold(log_events(db))
    return {symbol: position.sign * position.size for symbol, position in ledger.positions.items()}
