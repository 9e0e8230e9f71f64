"""Alert benchmark: what the alerter costs and how fast it tells. ``[--quick]``

- ``latency``: an alert's event committed to the log (``append`` returned: COMMIT done) until a fake Telegram on a
  loopback socket (a real HTTP server in a thread) has the message; alerts one at a time, p50 and p95.
- ``replay``: a replay's wall time (the simulation at full pace, default batches), the alerter on (alerts.log
  only, as a replay has) against off: what following the log costs a history-driven run.
- ``cycle``: the real pipeline on the seeded simulation at full pace, one cycle per commit (``replay_batch`` 1),
  with the alerts of the replay sent to every channel (``alerts.in_replay``): the time between consecutive
  settlements, p50 and p95, with every channel failing (Telegram answering 502, the webhook and SMTP refusing
  connections, each retried every 50-200 ms) against every channel up. The ratio is failing ÷ up.

One JSON object per line on stdout (notes on stderr).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio
from common import emit, load_average, note, percentile

from b1e55ed.api.server import free_port
from b1e55ed.clock import ManualClock, WallClock
from b1e55ed.config import Config, load_config
from b1e55ed.eventlog.chain import Record
from b1e55ed.messages import Alert
from b1e55ed.registry import resolve
from b1e55ed.runtime import Runtime, Supervised
from tests.fakes.smtp import FakeSmtp
from tests.fakes.smtp import serving as serving_smtp
from tests.fakes.telegram import FakeTelegram, serving

TOKEN = "123456:bench-token"
CHAT = 7


def config(root: Path, url: str, **env: str) -> Config:
    environ = {
        "B1E55ED_API__ENABLED": "false",
        "B1E55ED_KEYS__TELEGRAM_BOT_TOKEN": TOKEN,
        "B1E55ED_ALERTS__TELEGRAM_CHAT_ID": str(CHAT),
        "B1E55ED_ALERTS__TELEGRAM_URL": url,
        "B1E55ED_LOGGING__DIR": str(root / "logs"),
        "B1E55ED_ALERTS__RATE_PER_MIN": "1000000",
        "B1E55ED_ALERTS__DEDUP_S": "0",
        "B1E55ED_ALERTS__BACKOFF_INITIAL_S": "0.05",
        "B1E55ED_ALERTS__BACKOFF_MAX_S": "0.2",
        "B1E55ED_RUNTIME__SHUTDOWN_TIMEOUT_S": "2",
    }
    return load_config(environ=environ | {f"B1E55ED_{k.upper()}": v for k, v in env.items()}, env_file=None)


def stages(runtime: Runtime) -> Sequence[Supervised]:
    """The trading pipeline the config names."""
    pipeline: Any = resolve(runtime.config.runtime.pipeline)
    built: Sequence[Supervised] = pipeline(runtime).stages()
    return built


async def latency(root: Path, count: int) -> list[float]:
    """ms from each alert's commit to the fake's receipt."""
    fake = FakeTelegram(TOKEN)
    gaps: list[float] = []
    with serving(fake) as url:
        runtime = Runtime(config(root, url), db_path=root / "latency.db", clock=WallClock())
        async with trio.open_nursery() as nursery:
            await nursery.start(runtime.run)
            for n in range(count):
                await runtime.log.append(Alert(ts=n, severity="critical", source="bench", message=f"alert {n}"))
                committed = time.time()
                with trio.fail_after(10):
                    while len(fake.sent) <= n:  # noqa: ASYNC110 - the fake server's thread appends to it
                        await trio.sleep(0.0005)
                gaps.append((fake.sent[n].at - committed) * 1000)
            runtime.request_stop("bench over")
    return gaps


def settlements(root: Path, name: str, settings: Config) -> tuple[list[float], int]:
    """ms between consecutive cycle settlements of one full-pace run, and the alerts it called for."""
    settled: list[float] = []
    alerts = 0

    def listen(records: Sequence[Record]) -> None:
        nonlocal alerts
        now = time.perf_counter()
        for record in records:
            if record.kind == "settled":
                settled.append(now)
            alerts += record.kind in ("position", "killswitch", "alert")

    runtime = Runtime(settings, db_path=root / f"{name}.db", clock=ManualClock())
    runtime.hub.listen(listen)
    trio.run(runtime.run, stages)
    return [(b - a) * 1000 for a, b in itertools.pairwise(settled)], alerts


def cycle(root: Path, bars: int, reps: int) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"up": [], "failing": []}
    pcts: dict[str, list[list[float]]] = {"up": [], "failing": []}
    sim = {"market__source": "sim", "market__sim_pace": "max", "market__sim_bars": str(bars)}
    sim |= {"brain__replay_batch": "1", "alerts__in_replay": "true"}
    smtp = {"alerts__smtp__host": "127.0.0.1", "alerts__smtp__security": "none", "alerts__smtp__username": "bot"}
    smtp |= {"alerts__smtp__sender": "b@example.com", "alerts__smtp__recipients": "[o@example.com]"}
    up_fake, up_smtp = FakeTelegram(TOKEN), FakeSmtp("bot", "pw")
    down_fake = FakeTelegram(TOKEN)
    down_fake.down = True
    with serving(up_fake) as up_url, serving(down_fake) as down_url, serving_smtp(up_smtp) as smtp_port:
        for rep in range(reps):
            for state in ("up", "failing"):  # interleaved: the machine's other load falls on both alike
                if state == "up":
                    url, hook, port = up_url, f"{up_url}/hook", smtp_port
                else:
                    url, hook, port = down_url, f"http://127.0.0.1:{free_port()}/hook", free_port()
                settings = config(
                    root / f"{state}{rep}",
                    url,
                    alerts__webhook_url=hook,
                    alerts__smtp__port=str(port),
                    keys__smtp_password="pw",
                    **sim,
                    **smtp,
                )
                gaps, alerts = settlements(root, f"{state}{rep}", settings)
                pcts[state].append([percentile(gaps, 50), percentile(gaps, 95)])
                note(f"{state} run {rep}: {len(gaps)} cycles, ~{alerts} alert events, p50 {pcts[state][-1][0]:.2f} ms")
    note(f"telegram up received {len(up_fake.sent)}, failing one refused {len(down_fake.attempts)} attempts")
    for state in runs:
        runs[state] = [statistics.median(p[0] for p in pcts[state]), statistics.median(p[1] for p in pcts[state])]
    return runs


def replay_cost(root: Path, bars: int, reps: int) -> dict[str, list[float]]:
    """Seconds for one replay, the alerter on and off, interleaved."""
    times: dict[str, list[float]] = {"true": [], "false": []}
    for rep in range(reps):
        for enabled in times:
            sim = {"market__source": "sim", "market__sim_pace": "max", "market__sim_bars": str(bars)}
            settings = config(root / f"replay-{enabled}{rep}", "http://127.0.0.1:9", alerts__enabled=enabled, **sim)
            runtime = Runtime(settings, db_path=root / f"replay-{enabled}{rep}.db", clock=ManualClock())
            started = time.perf_counter()
            trio.run(runtime.run, stages)
            times[enabled].append(time.perf_counter() - started)
    return times


def main() -> None:
    logging.basicConfig(level=logging.CRITICAL)  # the failing channels' retries say so at WARNING, many times
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    count, bars, reps = (50, 600, 1) if quick else (300, 2000, 3)
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        gaps = trio.run(latency, root, count)
        emit(bench="alerts", metric="latency", variant="commit_to_telegram", unit="ms", alerts=count,
             p50=round(percentile(gaps, 50), 3), p95=round(percentile(gaps, 95), 3), load=load_average())  # fmt: skip
        replays = replay_cost(root, bars * 2, reps + 2)
        on, off = statistics.median(replays["true"]), statistics.median(replays["false"])
        emit(bench="alerts", metric="replay", variant="alerter_on_vs_off", unit="s", bars=bars * 2,
             on=[round(t, 3) for t in replays["true"]], off=[round(t, 3) for t in replays["false"]],
             ratio=round(on / off, 3), load=load_average())  # fmt: skip
        runs = cycle(root, bars, reps)
    up, failing = runs["up"], runs["failing"]
    emit(bench="alerts", metric="cycle", variant="channels_failing_vs_up", unit="ms", bars=bars, runs=reps,
         up_p50=round(up[0], 3), up_p95=round(up[1], 3), failing_p50=round(failing[0], 3),
         failing_p95=round(failing[1], 3), ratio_p50=round(failing[0] / up[0], 3),
         ratio_p95=round(failing[1] / up[1], 3), load=load_average())  # fmt: skip


if __name__ == "__main__":
    main()
