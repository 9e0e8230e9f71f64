"""How fast brain.db grows: bytes per cycle and per event, and the size after a year of live 1h cycles. ``[--quick]``

Live, the brain runs one cycle per candle close, so a year of 1h candles is 8,760 cycles. The same cycles come
faster from the seeded simulation at full pace: ``python -m b1e55ed run --market sim`` with the default config
(every producer, strategy and karma; 3 symbols, 1h), ``market.sim_bars`` cycles into a fresh log. The file is
measured after a checkpoint folds the WAL in. Baseline, from the same log: the bytes of the events' payloads alone
(what the chain hashes), so the ratio is what the rest (hashes, projections, indexes, pages) costs on top.
``--quick``: 1,000 cycles instead of 4,000.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
from contextlib import closing
from pathlib import Path

from common import emit, load_average, note

HOURS_A_YEAR = 8_760


def run(workdir: Path, cycles: int) -> Path:
    db = workdir / "brain.db"
    env = {name: value for name, value in os.environ.items() if not name.startswith("B1E55ED_")}
    env |= {"B1E55ED_API__ENABLED": "false", "B1E55ED_MARKET__SIM_PACE": "max", "B1E55ED_MARKET__SIM_BARS": str(cycles)}
    command = [sys.executable, "-m", "b1e55ed", "run", "--market", "sim", "--db", str(db)]
    done = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the run failed ({done.returncode}): {done.stderr[-2000:]}")
    return db


def main() -> None:
    parser = argparse.ArgumentParser(description="brain.db's growth: one JSON line per figure on stdout.")
    parser.add_argument("--quick", action="store_true", help="1,000 cycles instead of 4,000")
    args = parser.parse_args()
    wanted = 1_000 if args.quick else 4_000
    with tempfile.TemporaryDirectory(prefix="b1e55ed-growth-") as folder:
        note(f"{wanted} cycles of the simulation, 3 symbols, 1h, default config")
        db = run(Path(folder), wanted)
        with closing(sqlite3.connect(db)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            events, payload = conn.execute("SELECT COUNT(*), SUM(LENGTH(payload)) FROM events").fetchone()
            cycles = conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'settled'").fetchone()[0]
        size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("brain.db-*"))
    per_cycle = size / cycles
    emit(bench="growth", metric="bytes_per_cycle", variant="sim_3symbols_1h", unit="bytes", median=round(per_cycle),
         baseline="the events' payloads alone", baseline_median=round(payload / cycles),
         ratio=round(size / payload, 2), cycles=cycles, events=events, load_avg_1m=load_average())  # fmt: skip
    emit(bench="growth", metric="bytes_per_event", variant="sim_3symbols_1h", unit="bytes", median=round(size / events),
         baseline_median=round(payload / events), events_per_cycle=round(events / cycles, 1))  # fmt: skip
    emit(bench="growth", metric="size_after_a_year", variant="live_3symbols_1h", unit="MB",
         median=round(per_cycle * HOURS_A_YEAR / 1e6, 1), cycles=HOURS_A_YEAR)  # fmt: skip


if __name__ == "__main__":
    main()
