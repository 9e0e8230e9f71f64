"""Soak: the simulation at full pace for many cycles, watched from outside for memory and file-descriptor growth.

    python bench/soak.py [--cycles 200000] [--symbols 10] [--quick]

The run is ``python -m b1e55ed run`` in a child process (paper venue, API off), so what is measured is the real
process. Every second its resident memory (``VmRSS``) and open file descriptors (``/proc/<pid>/fd``) are sampled
with the cycles settled so far (from the log, read-only). The figures: RSS growth after the first 10,000 cycles
(goal ≤ 50 MB), the file-descriptor count at 10,000 cycles and at the end (goal: no growth), the cycles per second,
and whether the chain verifies at the end. The baseline is the process's own RSS at 10,000 cycles. Linux only.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path

import common

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.messages import CycleSettled

ROOT = Path(__file__).resolve().parents[1]
WARM_CYCLES = 10_000
RSS_GOAL_MB = 50.0


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_cycles(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1)) as conn:
            row = conn.execute("SELECT payload FROM events WHERE kind = 'settled' ORDER BY seq DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        return 0
    if row is None:
        return 0
    settled = codec.decode(row[0])
    assert isinstance(settled, CycleSettled)
    return settled.cycle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=200_000)
    parser.add_argument("--symbols", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help=f"{2 * WARM_CYCLES:,} cycles, for a smoke run")
    args = parser.parse_args()
    cycles = 2 * WARM_CYCLES if args.quick else args.cycles
    symbols = [f"S{index:02d}" for index in range(args.symbols)]
    with tempfile.TemporaryDirectory(prefix="b1e55ed-soak-") as tmp:
        db = Path(tmp) / "brain.db"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("B1E55ED_")},
            "PYTHONPATH": str(ROOT),
            "B1E55ED_MARKET__SOURCE": "sim",
            "B1E55ED_MARKET__SIM_PACE": "max",
            "B1E55ED_MARKET__SIM_BARS": str(cycles),
            "B1E55ED_SYMBOLS": "[" + ", ".join(symbols) + "]",
            "B1E55ED_API__ENABLED": "false",
            "B1E55ED_DATA_DIR": tmp,
            "B1E55ED_RUNTIME__LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "b1e55ed", "run", "--db", str(db)]
        samples: list[tuple[float, int, float, int]] = []  # (seconds, cycles, rss MB, fds)
        start = time.monotonic()
        with subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
            while child.poll() is None:
                try:
                    sample = (time.monotonic() - start, settled_cycles(db), rss_mb(child.pid), open_fds(child.pid))
                except (FileNotFoundError, ProcessLookupError):
                    break
                samples.append(sample)
                time.sleep(1.0)
            stderr = child.stderr.read().decode(errors="replace") if child.stderr else ""
        elapsed = time.monotonic() - start
        if child.returncode != 0:
            common.note(stderr[-3000:])
            raise SystemExit(f"the soak run exited {child.returncode}")
        verified = verify_database(db)
    warm = next((s for s in samples if s[1] >= WARM_CYCLES), None)
    if warm is None:
        raise SystemExit(f"the run ended before {WARM_CYCLES:,} cycles were sampled")
    later = [s for s in samples if s[1] >= WARM_CYCLES]
    growth = max(s[2] for s in later) - warm[2]
    fds_end = later[-1][3]
    common.emit(
        bench="soak",
        metric="rss_growth_after_warmup",
        unit="MB",
        median=round(growth, 1),
        baseline="the process's own RSS at 10,000 cycles",
        baseline_median=round(warm[2], 1),
        ratio=common.ratio((warm[2] + growth) / warm[2]),
        goal=RSS_GOAL_MB,
        meets_goal=growth <= RSS_GOAL_MB,
        cycles=cycles,
        symbols=len(symbols),
        peak_rss_mb=round(max(s[2] for s in samples), 1),
        fds_at_warmup=warm[3],
        fds_at_end=fds_end,
        fd_growth=fds_end - warm[3],
        cycles_per_s=round(cycles / elapsed, 1),
        seconds=round(elapsed, 1),
        chain_events=verified.count,
        chain_verifies=True,
        load_avg_1m=common.load_average(),
    )
    common.note(
        f"{cycles:,} cycles × {len(symbols)} symbols in {elapsed:.0f} s: RSS {warm[2]:.0f} MB at {WARM_CYCLES:,}"
        f" cycles, +{growth:.1f} MB after; fds {warm[3]} → {fds_end}; chain of {verified.count:,} events verifies"
    )


if __name__ == "__main__":
    main()
