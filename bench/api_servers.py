"""The servers of ``bench/api.py``, each run as a child process: ``python bench/api_servers.py KIND ARGS... PORT``.

- ``api DB COMMITS|-``: the real API over an event log, appending ``EVENTS_PER_S`` events a second;
- ``bare BODY``: a bare Starlette endpoint returning the same bytes, served the same way (the baseline);
- ``trading DB DATA [INTERVAL_S SYMBOLS]``: the whole trading pipeline on the simulated market, with its API
  (default: a cycle every 0.25 s over BTC, ETH and SOL; ``SYMBOLS`` a count gives that many simulated symbols).
"""

from __future__ import annotations

import contextlib
import os
import signal as signals
import subprocess
import sys
import time
from pathlib import Path

import trio

from b1e55ed.api.server import free_port

TOKEN = "bench-token-not-secret"
EVENTS_PER_S = 20
SYMBOLS = ("BTC", "ETH", "SOL")
PRODUCERS = ("funding", "momentum", "rsi", "social", "whale")
# The load comes from this machine, where real clients (browsers, scripts) would not be: the clients run at a
# lower priority than the servers, so that on a small machine their own work does not count as the server's.
CLIENT_NICENESS = 10


# ---------------------------------------------------------------------------------------------- the servers


def child_env(port: int, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "B1E55ED_API__PORT": str(port),
        "B1E55ED_API__AUTH_TOKEN": TOKEN,
        "B1E55ED_API__RATE_LIMIT_PER_MIN": "0",
        "B1E55ED_RUNTIME__LOG_LEVEL": "WARNING",
        **extra,
    }


def serve_api(port: int, db: Path, commits: Path | None) -> None:
    """The real API over a log seeded with 20,000 signals. With ``commits``, it appends an alert carrying its
    creation time ``EVENTS_PER_S`` times a second, and on exit writes each one's seq and commit time there."""
    from b1e55ed.api.wiring import api_actor, api_context
    from b1e55ed.clock import WallClock
    from b1e55ed.config import load_config
    from b1e55ed.messages import Alert, Signal, SignalRecorded
    from b1e55ed.runtime import Runtime, Supervised

    config = load_config(environ=child_env(port), env_file=None)
    runtime = Runtime(config, db_path=db, clock=WallClock())

    class Ticker:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            assert commits is not None
            committed: list[tuple[int, int]] = []
            task_status.started()
            try:
                while True:
                    await trio.sleep(1 / EVENTS_PER_S)
                    now = time.time_ns()
                    alert = Alert(ts=now // 1_000_000, severity="info", source="bench", message=f"bench-sent {now}")
                    [record] = await runtime.log.append(alert)
                    committed.append((record.seq, time.time_ns()))
            finally:
                lines = "\n".join(f"{seq} {ns}" for seq, ns in committed)
                commits.write_text(lines)  # noqa: ASYNC240 - cancelled at shutdown: no await can run here

    class Seeder:
        async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
            if runtime.log.head.seq < 1000:
                events = [
                    SignalRecorded(
                        ts=1_700_000_000_000 + i * 1000,
                        cycle=i // 15,
                        signal=Signal(
                            symbol=SYMBOLS[i % 3],
                            signal="long",
                            conviction=1 + i % 10,
                            rationale=f"{PRODUCERS[i // 3 % 5]} reading number {i} says up",
                            producer=PRODUCERS[i // 3 % 5],
                            timestamp=1_700_000_000 + i,
                            metadata={"value": i * 0.5, "window": 14},
                        ),
                    )
                    for i in range(20_000)
                ]
                for start in range(0, len(events), 1000):
                    await runtime.log.append(*events[start : start + 1000])
            task_status.started()
            await trio.sleep_forever()

    def stages(rt: Runtime) -> list[Supervised]:
        ctx = api_context(rt, strategies=["confluence"], producers=list(PRODUCERS))
        built = [Supervised("seed", Seeder()), api_actor(ctx)]
        return [*built, Supervised("ticker", Ticker(), source=True)] if commits else built

    trio.run(runtime.run, stages)


def serve_bare(port: int, signals_body: bytes) -> None:
    """The baseline: Starlette and hypercorn alone, answering the same bytes with no work behind them."""
    from hypercorn.config import Config
    from hypercorn.trio import serve
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    health_body = b'{"status":"healthy"}'

    async def health(request: Request) -> Response:
        return Response(health_body, media_type="application/json")

    async def signals(request: Request) -> Response:
        return Response(signals_body, media_type="application/json")

    app = Starlette(routes=[Route("/health", health), Route("/signals", signals)])
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.backlog = 1024
    trio.run(serve, app, config)  # type: ignore[arg-type]


def serve_trading(port: int, db: Path, data: Path, interval_s: str = "0.25", symbols: str = "") -> None:
    from actors.pipeline import TradingPipeline
    from b1e55ed.clock import WallClock
    from b1e55ed.config import load_config
    from b1e55ed.runtime import Runtime

    env = child_env(
        port,
        B1E55ED_DATA_DIR=str(data),
        B1E55ED_MARKET__SOURCE="sim",
        B1E55ED_MARKET__SIM_PACE="wall",
        B1E55ED_MARKET__HISTORY_BARS="600",
        B1E55ED_TIMEFRAME="1s",  # a candle a second, so each look of the brain finds a new one
        B1E55ED_BRAIN__INTERVAL_S=interval_s,
        **({"B1E55ED_SYMBOLS": "[" + ", ".join(f"S{i:02d}" for i in range(int(symbols))) + "]"} if symbols else {}),
    )
    config = load_config(environ=env, env_file=None)
    runtime = Runtime(config, db_path=db, clock=WallClock())
    trio.run(runtime.run, lambda rt: TradingPipeline(rt).stages())


class Child:
    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, __file__, *args, str(self.port)],
            stdin=subprocess.DEVNULL,
            preexec_fn=_server_priority,
        )

    def stop(self) -> None:
        self.process.send_signal(signals.SIGINT)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _server_priority() -> None:
    """Servers run at the priority this script started with; the clients below it (``main``)."""
    with contextlib.suppress(PermissionError):
        os.nice(-CLIENT_NICENESS)


def main(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "api":
        serve_api(int(rest[2]), Path(rest[0]), None if rest[1] == "-" else Path(rest[1]))
    elif kind == "bare":
        serve_bare(int(rest[1]), Path(rest[0]).read_bytes())
    else:
        serve_trading(int(rest[-1]), Path(rest[0]), Path(rest[1]), *rest[2:-1])


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except* KeyboardInterrupt:  # stopped with SIGINT by the benchmark
        pass
