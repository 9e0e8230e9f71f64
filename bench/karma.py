"""Karma's figures on the BTC, ETH and SOL 1h replay of 2022-2024 with funding. ``[--quick]`` (2024 alone)

The replay runs twice through ``python -m b1e55ed run`` (default config, durable log): with ``karma.sizing`` on
(the default) and off. Then:

1. **Scoring throughput**: the producers' directional signals of the run (read back from its log) scored again by
   a fresh ``KarmaBook`` in batches of ``brain.replay_batch`` cycles, the cycles' market views built beforehand, in
   signals/s. Baseline, measured in the same run: iterating the same signals alone (a loop reading each one). The
   outcomes must equal the ones the run logged, or the script exits 1. The garbage collector is set as a replay
   sets it (``b1e55ed.collection``), which freezes the prebuilt inputs (about 640,000 objects) as a run freezes
   what its start-up made: otherwise a full collection over them lands in the timed window (0.2 s, half a run's
   time) in one run out of two or three.
2. **Calibration quality**, walked forward month by month: each month's outcomes (by the month their signal
   opened) are predicted by the calibration estimated from the outcomes that closed before the month began, as
   karma estimates it (``calibrate`` with the config's ``min_samples`` and ``prior_strength``). Reported: the
   Brier score (weighted by uniqueness) against the source's constant base rate before the month, and against
   conviction ÷ 10, as ratios (below 1: karma adds information), overall and per producer. Sources not yet
   calibrated at a month's start are left out of that month.
3. **Sizing**: the two replays' trades, P&L and maximum drawdown, with ``karma.sizing`` on against off.

Without ``../shared/data`` it says so and exits 0 with no figures.
"""

from __future__ import annotations

import argparse
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from common import emit, figure, load_average, note

from b1e55ed.collection import collecting_for_run
from b1e55ed.config import load_config
from b1e55ed.eventlog import codec
from b1e55ed.karma.book import PRODUCERS, KarmaBook, KarmaCycle, NewOpening
from b1e55ed.karma.calibration import Tally, calibrate
from b1e55ed.market.replay import load_history
from b1e55ed.market.state import MarketState
from b1e55ed.messages import CycleStarted, Direction, KarmaScored, SignalRecorded
from b1e55ed.summary import summarize
from b1e55ed.timeframes import INTERVAL_MS
from b1e55ed.trading_config import day_ms

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared" / "data"
SYMBOLS = ("BTC", "ETH", "SOL")
RUNS = 5


def replay(db: Path, start: str, end: str, **settings: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B1E55ED_")}
    env |= {"B1E55ED_API__ENABLED": "false", **settings}
    command = [
        sys.executable, "-m", "b1e55ed", "run", "--db", str(db), "--market", f"replay:{SHARED / 'ohlcv_1h'}",
        "--symbols", *SYMBOLS, "--from", start, "--to", end, "--funding", str(SHARED / "funding"),
    ]  # fmt: skip
    began = time.perf_counter()
    done = subprocess.run(command, cwd=db.parent, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the replay failed ({done.returncode}): {done.stderr[-2000:]}")
    return time.perf_counter() - began


def read_log(db: Path) -> tuple[list[CycleStarted], dict[int, list[SignalRecorded]], list[KarmaScored]]:
    cycles: list[CycleStarted] = []
    signals: dict[int, list[SignalRecorded]] = defaultdict(list)
    karma: list[KarmaScored] = []
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        query = "SELECT payload FROM events WHERE kind IN ('cycle', 'signal', 'karma') ORDER BY seq"
        for (payload,) in conn.execute(query):
            event = codec.decode(payload)
            if isinstance(event, CycleStarted):
                cycles.append(event)
            elif isinstance(event, SignalRecorded) and event.signal.signal != "neutral":
                signals[event.cycle].append(event)
            elif isinstance(event, KarmaScored) and event.book == PRODUCERS:
                karma.append(event)
    return cycles, signals, karma


def scoring_inputs(
    cycles: list[CycleStarted], signals: dict[int, list[SignalRecorded]], start: str, end: str, window: int
) -> list[KarmaCycle]:
    timeframe = INTERVAL_MS["1h"]
    data = load_history(SHARED / "ohlcv_1h", SYMBOLS, day_ms(start), day_ms(end), timeframe)
    state = MarketState(timeframe)
    for symbol, arrays in data.bars.items():
        state.extend(symbol, arrays)
    inputs = []
    for started in cycles:
        view = state.view(started.as_of, window)
        openings = [
            NewOpening(
                s.signal.producer,
                s.signal.symbol,
                cast(Direction, s.signal.signal),  # neutral signals were left out when the log was read
                s.signal.conviction,
                view[s.signal.symbol].last_close,
            )
            for s in signals.get(started.cycle, [])
            if s.signal.symbol in view
        ]
        inputs.append(KarmaCycle(started.cycle, started.as_of, started.ts, view, openings))
    return inputs


def throughput(inputs: list[KarmaCycle], logged: list[KarmaScored], batch: int, period: str) -> None:
    config = load_config(environ={}, env_file=None)
    count = sum(len(c.openings) for c in inputs)
    ours, plain = [], []
    events: list[KarmaScored | None] = []
    with collecting_for_run(driven=True):
        for _ in range(RUNS):
            events = []  # the last run's answers are garbage before the next starts
            book = KarmaBook(PRODUCERS, config.karma, INTERVAL_MS["1h"], config.brain.window_bars)
            began = time.perf_counter()
            events = [
                s.event for start in range(0, len(inputs), batch) for s in book.score(inputs[start : start + batch])
            ]
            ours.append(count / (time.perf_counter() - began))
            began = time.perf_counter()
            total = 0
            for cycle in inputs:
                for opening in cycle.openings:
                    total += opening.conviction
            plain.append(count / (time.perf_counter() - began))
    scored = [e.outcomes for e in events if e is not None]
    if scored != [e.outcomes for e in logged]:
        raise SystemExit("the benchmark's book did not reproduce the outcomes the run logged")
    figure("karma", f"scoring/{period}", "signals/s", ours, plain, "iterating the same signals alone",
           target=200_000, signals=count, cycles=len(inputs), outcomes=sum(map(len, scored)), batch=batch,
           load_avg_1m=load_average())  # fmt: skip


def month_starts(first_ms: int, last_ms: int) -> list[int]:
    day = datetime.fromtimestamp(first_ms / 1000, UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    starts = []
    while (ms := int(day.timestamp() * 1000)) <= last_ms:
        starts.append(ms)
        day = day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)
    return starts


def calibration_quality(logged: list[KarmaScored], period: str) -> None:
    config = load_config(environ={}, env_file=None).karma
    outcomes = [o for event in logged for o in event.outcomes]
    if not outcomes:
        note("no outcomes: nothing to judge")
        return
    starts = month_starts(min(o.opened for o in outcomes), max(o.opened for o in outcomes))
    errors: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    months: dict[str, int] = defaultdict(int)
    for begin, end in zip(starts, [*starts[1:], math.inf], strict=True):
        before = [o for o in outcomes if o.closed < begin]
        judged = [o for o in outcomes if begin <= o.opened < end]
        for source in sorted({o.source for o in judged}):
            tally = Tally()
            for o in before:
                if o.source == source:
                    tally.add(o.conviction, o.weight, o.result == "win")
            table = calibrate(tally, min_samples=config.min_samples, prior_strength=config.prior_strength)
            if table is None:
                continue
            months[source] += 1
            base = sum(tally.wins) / tally.total
            for o in (o for o in judged if o.source == source):
                hit = 1.0 if o.result == "win" else 0.0
                for name, p in (("karma", table[o.conviction - 1]), ("base", base), ("conviction", o.conviction / 10)):
                    errors[source][name].append(o.weight * (p - hit) ** 2)
                errors[source]["weight"].append(o.weight)
    every: dict[str, list[float]] = defaultdict(list)
    for source, found in sorted(errors.items()):
        for name, values in found.items():
            every[name] += values
        report_brier(f"{period}/{source}", found, months[source])
    if every:
        report_brier(f"{period}/all producers", every, max(months.values()))


def report_brier(variant: str, found: dict[str, list[float]], months: int) -> None:
    weight = math.fsum(found["weight"])
    brier = {name: math.fsum(found[name]) / weight for name in ("karma", "base", "conviction")}
    emit(bench="karma", metric="brier_walk_forward", variant=variant, unit="brier", karma=round(brier["karma"], 5),
         vs_base_rate=round(brier["karma"] / brier["base"], 4), base_rate=round(brier["base"], 5),
         vs_conviction_over_10=round(brier["karma"] / brier["conviction"], 4),
         conviction_over_10=round(brier["conviction"], 5), months=months, effective_outcomes=round(weight, 1),
         outcomes=len(found["weight"]), baseline="the base rate before each month; conviction ÷ 10")  # fmt: skip


def sizing(on: Path, off: Path, seconds: Sequence[float], period: str) -> None:
    with_sizing, without = summarize(on), summarize(off)
    for name, summary, took in (
        ("karma.sizing on", with_sizing, seconds[0]),
        ("karma.sizing off", without, seconds[1]),
    ):
        emit(bench="karma", metric="replay", variant=f"{period}/{name}", trades=summary.trades,
             win_rate=round(summary.win_rate, 4), pnl=round(summary.pnl, 2),
             max_drawdown_pct=round(summary.max_drawdown_pct, 2), final_equity=summary.final_equity,
             seconds=round(took, 1), head=summary.head)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="Karma's figures: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="2024 alone instead of 2022-2024")
    args = parser.parse_args()
    if not (SHARED / "ohlcv_1h" / "BTCUSDT.parquet").is_file():
        note(f"{SHARED} not found: karma's figures need the real history")
        return
    start, end = ("2024-01-01", "2025-01-01") if args.quick else ("2022-01-01", "2025-01-01")
    config = load_config(environ={}, env_file=None)
    with tempfile.TemporaryDirectory(prefix="b1e55ed-karma-") as folder:
        on, off = Path(folder) / "on.db", Path(folder) / "off.db"
        note(f"replaying {'/'.join(SYMBOLS)} {start}..{end} with karma.sizing on, then off")
        seconds = [replay(on, start, end), replay(off, start, end, B1E55ED_KARMA__SIZING="false")]
        cycles, signals, logged = read_log(on)
        note(f"{len(cycles)} cycles, {sum(map(len, signals.values()))} directional signals; scoring them again")
        period = f"btc_eth_sol_1h_{start[:4]}_{int(end[:4]) - 1}"
        inputs = scoring_inputs(cycles, signals, start, end, config.brain.window_bars)
        throughput(inputs, logged, config.brain.replay_batch, period)
        calibration_quality(logged, period)
        sizing(on, off, seconds, period)
    note(f"done; medians of {RUNS} runs where timed; load average {statistics.mean(os.getloadavg()):.2f}")


if __name__ == "__main__":
    main()
