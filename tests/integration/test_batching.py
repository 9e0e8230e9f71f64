"""Batched cycles change nothing but speed, on real history.

A history-driven run hands the stages up to ``brain.replay_batch`` cycles in one message and commits once per batch
(DESIGN.md, "Batched cycles"). These tests hold it to that: the same chain, byte for byte and to the head hash,
for every batch size; prices as of each cycle, never the batch's last bar; and a ``kill -9`` in the middle of a
batch, then a resume, ends with the chain an uninterrupted run writes.
"""

from __future__ import annotations

import math
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import TypeVar

import polars as pl
import pytest

from actors.oms.ledger import Ledger
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.messages import CycleSettled, CycleStarted, Event, RiskVerdict
from tests.integration.loop_helpers import child_env
from tests.integration.replay_support import (
    SYMBOLS,
    Record,
    assert_same_payloads,
    cycle_payloads,
    isolate,
    last_settled_cycle,
    of_cycles,
    read_events,
    replay,
    replay_args,
    through_cycle,
    write_config,
)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


# -- the same chain for every batch size ---------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.shared_data
def test_the_chain_is_byte_identical_for_batches_of_1_7_and_512(tmp_path: Path, shared_data: Path) -> None:
    # July and August 2024, with the crash of 5 August: trades, stops, targets and funding payments.
    args = replay_args(shared_data, start="2024-07-01", end="2024-09-01")
    chains = {
        batch: replay(write_config(tmp_path / f"batch{batch}", replay_batch=batch), tmp_path / f"{batch}.db", args)
        for batch in (1, 7, 512)
    }
    one = chains[1]
    assert last_settled_cycle(one) == 62 * 24
    kinds = {record.kind for record in one}
    assert {"signal", "decision", "verdict", "order", "fill", "position", "funding", "settled"} <= kinds
    assert any(record.kind == "position" and record.body["status"] == "stopped" for record in one)
    for batch in (7, 512):
        assert_same_payloads(one, chains[batch], f"batch 1 vs batch {batch}")
        assert [(r.seq, r.kind, r.hash) for r in chains[batch]] == [(r.seq, r.kind, r.hash) for r in one]
        assert verify_database(tmp_path / f"{batch}.db").head == verify_database(tmp_path / "1.db").head


# -- prices as of the cycle, never the batch's end -----------------------------------------------------------------

# 2024-06-17 16:00 UTC, cycle 400 of a replay from 1 June: two positions are open, and ma_crossover's ETH entry is
# refused with every risk check written out. From the next bar on, the test's copy of the market trades at 3× the
# price. A batch of 512 holds cycles 1 to 512: it reaches 112 bars into the tripled market.
MOVE_START, MOVE_END = "2024-06-01", "2024-06-25"
T = 1_718_640_000_000
T_CYCLE = 400
MOVE = 3.0

E = TypeVar("E", bound=Event)


def tripled_after(source: Path, target: Path, after: int) -> Path:
    """A copy of ``source``'s candles for ``SYMBOLS`` whose prices are ``MOVE`` times the real ones for every
    candle that opens at ``after`` or later: a huge move right after the cycle that closes at ``after``."""
    target.mkdir()
    prices = ("open", "high", "low", "close")
    for symbol in SYMBOLS:
        frame = pl.read_parquet(source / f"{symbol}USDT.parquet")
        moved = frame.with_columns(
            [pl.when(pl.col("ts") >= after).then(pl.col(c) * MOVE).otherwise(pl.col(c)).alias(c) for c in prices]
        )
        moved.write_parquet(target / f"{symbol}USDT.parquet")
    return target


def event_of(records: list[Record], kind: type[E], cycle: int) -> E:
    """Cycle ``cycle``'s one event of type ``kind``, decoded."""
    events = [codec.decode(r.payload) for r in of_cycles(records, cycle, cycle)]
    (event,) = [event for event in events if isinstance(event, kind)]
    return event


def book_after(records: list[Record]) -> Ledger:
    ledger = Ledger(10_000.0)
    ledger.fold(codec.decode(record.payload) for record in records)
    return ledger


@pytest.mark.slow
@pytest.mark.shared_data
def test_a_cycles_settled_equity_and_risk_checks_use_its_own_closes_not_the_batchs_last(
    tmp_path: Path, shared_data: Path
) -> None:
    moved = tripled_after(shared_data / "ohlcv_1h", tmp_path / "moved", after=T)
    real_args = replay_args(shared_data, start=MOVE_START, end=MOVE_END)
    moved_args = replay_args(shared_data, start=MOVE_START, end=MOVE_END, ohlcv=moved)
    real = replay(write_config(tmp_path / "real", replay_batch=512), tmp_path / "real.db", real_args)
    batched = replay(write_config(tmp_path / "b512", replay_batch=512), tmp_path / "b512.db", moved_args)
    single = replay(write_config(tmp_path / "b1", replay_batch=1), tmp_path / "b1.db", moved_args)

    settled = event_of(batched, CycleSettled, T_CYCLE)
    assert settled.as_of == T
    assert settled.open_positions > 0, "the book should hold positions at T, or there is nothing to mark"
    closes_at_t = event_of(batched, CycleStarted, T_CYCLE).closes
    assert sorted(closes_at_t) == sorted(SYMBOLS)

    # The move is there, right after T, inside the batch: the next cycle marks the same book at triple prices.
    book = book_after(through_cycle(batched, T_CYCLE))
    closes_after_t = event_of(batched, CycleStarted, T_CYCLE + 1).closes
    assert all(math.isclose(closes_after_t[s] / closes_at_t[s], MOVE, rel_tol=0.1) for s in SYMBOLS)
    assert abs(book.exposure(closes_after_t) - book.exposure(closes_at_t)) > 1_000

    # Cycle T's settlement marks the book at T's closes: cash plus the open positions' P&L at those prices.
    assert settled.cash == round(book.cash, 8)
    assert settled.equity == round(book.equity(closes_at_t), 8)
    assert settled.exposure == round(book.exposure(closes_at_t), 8)
    # Its risk checks state the same exposure and equity.
    verdict = event_of(batched, RiskVerdict, T_CYCLE)
    (leverage,) = [check.detail for check in verdict.checks if check.name == "max_leverage"]
    assert f"open ${settled.exposure:,.2f}" in leverage
    assert f"equity ${settled.equity:,.2f}" in leverage

    # And so everything up to T is what batch 1 logs, and what the real market, without the move, logs.
    assert_same_payloads(through_cycle(single, T_CYCLE), through_cycle(batched, T_CYCLE), "batch 1 vs batch 512")
    assert_same_payloads(through_cycle(real, T_CYCLE), through_cycle(batched, T_CYCLE), "real vs moved market")


# -- kill -9 in the middle of a batch, then resume -----------------------------------------------------------------

KILL_START, KILL_END = "2024-03-01", "2024-07-01"  # 122 days: 2,928 cycles, six batches of 512
KILL_BATCH = 512
KILLS = 4


def settled_cycles(db: Path) -> int:
    """How many cycles the database holds settled (committed): 0 before the first commit."""
    if not db.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            row = conn.execute("SELECT count(*) FROM events WHERE kind = 'settled'").fetchone()
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0
    return int(row[0])


def kill_mid_batch(command: list[str], db: Path, stderr: Path, delay_s: float) -> int | None:
    """Start the run; once it has committed a batch of its own, SIGKILL it ``delay_s`` later, in the middle of a
    later batch. Returns the cycles settled by then, or None when the run finished before the kill."""
    before = settled_cycles(db)
    with (
        stderr.open("w") as errors,
        subprocess.Popen(command, cwd=db.parent, env=child_env(), stdout=subprocess.DEVNULL, stderr=errors) as child,
    ):
        deadline = time.monotonic() + 120
        while settled_cycles(db) == before and child.poll() is None:
            if time.monotonic() > deadline:
                child.kill()
                pytest.fail(f"no batch committed in 120 s:\n{stderr.read_text()[-3000:]}")
            time.sleep(0.005)
        time.sleep(delay_s)
        if child.poll() is not None:
            assert child.returncode == 0, stderr.read_text()[-3000:]
            return None
        child.send_signal(signal.SIGKILL)
    return settled_cycles(db)


@pytest.mark.slow
@pytest.mark.shared_data
def test_kill_9_in_the_middle_of_batches_then_resume_gives_the_uninterrupted_chain(
    tmp_path: Path, shared_data: Path
) -> None:
    # Two folders with the same config: each run keeps its own feature store (data/ beside its config).
    args = replay_args(shared_data, start=KILL_START, end=KILL_END)
    began = time.monotonic()
    reference = replay(write_config(tmp_path / "reference", replay_batch=KILL_BATCH), tmp_path / "reference.db", args)
    cycles = last_settled_cycle(reference)
    seconds_per_batch = (time.monotonic() - began) / math.ceil(cycles / KILL_BATCH)

    config = write_config(tmp_path / "crashed", replay_batch=KILL_BATCH)
    db = config.parent / "brain.db"
    command = [sys.executable, "-m", "b1e55ed", "--config", str(config), "run", "--db", str(db), *args]
    rng = random.Random(9)
    killed_at: list[int] = []  # the cycles settled when each kill landed
    finished_first = False
    for attempt in range(KILLS):
        stderr = config.parent / f"attempt{attempt}.stderr"
        settled = kill_mid_batch(command, db, stderr, delay_s=rng.uniform(0.05, 0.95) * seconds_per_batch)
        if settled is None:
            finished_first = True  # the run completed before the kill: one more start in the log
            break
        killed_at.append(settled)
    mid_run = [cycle for cycle in killed_at if 0 < cycle < cycles]
    assert len(mid_run) >= 3, f"too few kills landed mid-run: settled cycles at each kill {killed_at} of {cycles}"

    finish = subprocess.run(
        command, cwd=config.parent, env=child_env(), capture_output=True, text=True, timeout=600, check=False
    )
    assert finish.returncode == 0, finish.stderr[-3000:]
    verify_database(db)
    crashed = read_events(db)
    assert sum(r.kind == "runtime_started" for r in crashed) == len(killed_at) + finished_first + 1
    # One runtime_started more per start: the cycles' events are the same, with the seq numbers they cite moved.
    assert_same_payloads(cycle_payloads(reference), cycle_payloads(crashed), "uninterrupted vs killed and resumed")
