"""The feature store over an in-memory log, with its real writer process: the rows it writes from events handed over
by the log's writer are those it writes from the log read back, whether it follows live, catches up, falls behind
the tap or resumes; and its writer process writes what it was sent when its input ends, as when the actor dies."""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import msgspec
import polars as pl
import pytest
import trio
from msgspec.structs import replace

from actors.featurestore import FeatureStore
from b1e55ed.eventlog.chain import EMPTY_HEAD, Record, extend
from b1e55ed.eventlog.store import MemoryStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.feature_parts import PartWriter, encode_batch
from b1e55ed.features import read_features, snapshot_frame, snapshot_hash
from b1e55ed.messages import Alert, Event, Signal, SignalRecorded, SnapshotRecorded
from tests.eventlog_helpers import running_log

DAY0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR = 3_600_000


def cycle_events(cycle: int) -> list[Event]:
    """One cycle as the enricher logs it: its directional signals, then its snapshot; an alert now and then."""
    as_of = DAY0 + cycle * HOUR
    signals = [
        Signal(symbol=symbol, signal="long" if cycle % 2 else "short", conviction=1 + cycle % 10,
               rationale=f"{producer} on {symbol} at {cycle}", producer=producer, timestamp=as_of // 1000)
        for producer, symbol in (("rsi", "BTC"), ("momentum", "ETH"), ("funding", "BTC"))[: cycle % 4]
    ]  # fmt: skip
    context = {
        symbol: {"price": 100.0 + cycle + i, "fear_greed": 50.0} | ({"atr_pct": 0.01 * i} if cycle > 30 else {})
        for i, symbol in enumerate(("ETH", "BTC"))
    }
    snapshot = SnapshotRecorded(
        ts=as_of, cycle=cycle, as_of=as_of, context=context, producers={"rsi": "ok"},
        features_hash=snapshot_hash(cycle, as_of, context, signals),
    )  # fmt: skip
    alerts: list[Event] = [Alert(ts=as_of, severity="info", source="test", message="m")] if cycle % 5 == 0 else []
    return [*(SignalRecorded(ts=as_of, cycle=cycle, signal=s) for s in signals), snapshot, *alerts]


CYCLES = [cycle_events(c) for c in range(1, 61)]  # 2.5 days: three date folders


class CountingStore(MemoryStore):
    """Notes every read of the records (``after``, ``limit``)."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[int, int]] = []

    async def read(self, after: int = 0, limit: int = 1000) -> list[Record]:
        self.reads.append((after, limit))
        return await super().read(after, limit)


async def follow(log: EventLog, root: Path, stopping: trio.Event, options: dict[str, int]) -> None:
    await FeatureStore(log=log, root=root, stopping=stopping, **options).run()


async def run_live(root: Path, store: MemoryStore, cycles: Sequence[list[Event]], **options: int) -> None:
    """The feature store follows while the cycles are appended one by one; then it is told to stop."""
    stopping = trio.Event()
    async with running_log(store) as log, trio.open_nursery() as nursery:
        nursery.start_soon(follow, log, root, stopping, options)
        for events in cycles:
            await log.append(*events)
            await trio.lowlevel.checkpoint()
        stopping.set()


async def run_after(root: Path, store: MemoryStore, **options: int) -> None:
    """The feature store starts over a log that already holds everything: it reads it all back."""
    stopping = trio.Event()
    stopping.set()
    async with running_log(store) as log:
        await follow(log, root, stopping, options)


def parts(root: Path) -> dict[str, pl.DataFrame]:
    return {f"{p.parent.name}/{p.name}": pl.read_parquet(p) for p in sorted(root.rglob("*.parquet"))}


def same_parts(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> bool:
    return a.keys() == b.keys() and all(a[k].schema == b[k].schema and a[k].equals(b[k]) for k in a)


@pytest.mark.parametrize("part_cycles", [1000, 7])
async def test_following_live_writes_what_reading_the_log_back_writes(tmp_path: Path, part_cycles: int) -> None:
    store = CountingStore()
    await run_live(tmp_path / "live", store, CYCLES, part_cycles=part_cycles)
    # Its first record (the chain's folder), then what committed before the tap opened; the rest came in memory.
    assert [after for after, limit in store.reads if limit > 1] == [0]
    await run_after(tmp_path / "read", store, part_cycles=part_cycles)
    live, read = parts(tmp_path / "live"), parts(tmp_path / "read")
    assert same_parts(live, read)
    assert sorted({name.split("/")[0] for name in live}) == ["date=2024-01-01", "date=2024-01-02", "date=2024-01-03"]
    frame = read_features(tmp_path / "live")
    assert frame.height == 60 * 2
    logged = {e.cycle: e.features_hash for events in CYCLES for e in events if isinstance(e, SnapshotRecorded)}
    assert dict(zip(frame["cycle"], frame["features_hash"], strict=False)) == logged
    btc_31 = frame.filter((pl.col("cycle") == 31) & (pl.col("symbol") == "BTC")).row(0, named=True)
    assert [s["producer"] for s in btc_31["signals"]] == ["funding", "rsi"]  # by producer
    assert btc_31["ctx_atr_pct"] == 0.01


async def test_a_tap_that_overflows_falls_back_to_the_log_and_loses_nothing(tmp_path: Path) -> None:
    store = CountingStore()
    stopping = trio.Event()
    async with running_log(store) as log, trio.open_nursery() as nursery:
        nursery.start_soon(follow, log, tmp_path / "live", stopping, {"tap_limit": 5})
        await log.append(*CYCLES[0])
        await trio.sleep(0.05)
        following = len(store.reads)
        await log.append(*(e for events in CYCLES[1:40] for e in events))  # far more than the tap holds
        for events in CYCLES[40:]:
            await log.append(*events)
            await trio.lowlevel.checkpoint()
        stopping.set()
    read_again = [after for after, _ in store.reads[following:]]
    assert read_again
    assert read_again[0] == len(CYCLES[0])  # from where the tap left off
    await run_after(tmp_path / "read", store)
    assert same_parts(parts(tmp_path / "live"), parts(tmp_path / "read"))
    assert read_features(tmp_path / "live").height == 120


async def test_after_a_lost_part_a_restart_writes_it_again_from_the_log(tmp_path: Path) -> None:
    store = MemoryStore()
    await run_live(tmp_path / "run", store, CYCLES[:50])
    lost = max((tmp_path / "run").rglob("*.parquet"))
    lost.unlink()
    await run_live(tmp_path / "run", store, CYCLES[50:])  # resumes after the last part on disk, then follows live
    await run_after(tmp_path / "read", store)
    assert same_parts(parts(tmp_path / "run"), parts(tmp_path / "read"))
    assert read_features(tmp_path / "run").height == 120


async def test_a_cycle_whose_features_do_not_match_its_logged_hash_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = MemoryStore()
    *signals, snapshot = CYCLES[2][:-1] if isinstance(CYCLES[2][-1], Alert) else CYCLES[2]
    assert isinstance(snapshot, SnapshotRecorded)
    forged = replace(snapshot, features_hash="0" * 64)
    with caplog.at_level(logging.ERROR, logger="actors.featurestore"):
        await run_live(tmp_path, store, [CYCLES[0], [*signals, forged]])
    assert "cycle 3: features do not match the hash in the log" in caplog.text
    frame = read_features(tmp_path)
    assert frame.filter(pl.col("cycle") == 3)["features_hash"].to_list() == [snapshot.features_hash] * 2


def test_snapshot_hash_is_the_sha256_of_its_fields_encoded_with_sorted_keys() -> None:
    for events in CYCLES[:10]:
        *signals, snapshot = [e for e in events if not isinstance(e, Alert)]
        assert isinstance(snapshot, SnapshotRecorded)
        sigs = [e.signal for e in signals if isinstance(e, SignalRecorded)]
        content = {
            "cycle": snapshot.cycle,
            "as_of": snapshot.as_of,
            "context": snapshot.context,
            "signals": sorted((s.producer, s.symbol, s.signal, s.conviction) for s in sigs),
        }
        expected = hashlib.sha256(msgspec.json.Encoder(order="deterministic").encode(content)).hexdigest()
        assert snapshot_hash(snapshot.cycle, snapshot.as_of, snapshot.context, sigs) == expected


def test_snapshot_frame_is_the_row_by_row_frame_and_keeps_a_field_that_first_appears_late() -> None:
    rows, snapshots = [], []
    for i in range(150):
        context = {"BTC": {"price": 1.0 + i} | ({"atr": 0.5} if i >= 120 else {}), "ETH": {"price": 2.0}}
        signals = [Signal(symbol="ETH", signal="long", conviction=3, rationale="r", producer=p, timestamp=i)
                   for p in ("rsi", "funding")][: i % 3]  # fmt: skip
        snapshots.append((i, i * 10, context, signals, f"h{i}"))
        for symbol in sorted(context):
            row = {"cycle": i, "as_of": i * 10, "symbol": symbol, "features_hash": f"h{i}"}
            row.update({f"ctx_{k}": v for k, v in sorted(context[symbol].items())})
            row["signals"] = [
                {"producer": s.producer, "signal": s.signal, "conviction": s.conviction, "rationale": s.rationale}
                for s in sorted(signals, key=lambda s: s.producer)
                if s.symbol == symbol
            ]
            rows.append(row)
    frame = snapshot_frame(snapshots)
    by_rows = pl.DataFrame(rows, infer_schema_length=None)
    assert frame.columns == ["cycle", "as_of", "symbol", "features_hash", "ctx_price", "signals", "ctx_atr"]
    assert frame.equals(by_rows.select(frame.columns))
    assert frame["ctx_atr"].null_count() == 300 - 30
    assert snapshot_frame(snapshots[:40]).equals(pl.DataFrame(rows[:80]))  # the first rows: the very same frame
    assert snapshot_frame([]).is_empty()


async def test_a_part_that_failed_to_write_is_written_before_any_later_one(tmp_path: Path) -> None:
    """A failed write (a full disk, a folder it cannot make) stops the store; the parts on disk must not skip what it
    failed to write, or the resume, which starts after the last part on disk, would never write it."""
    store = MemoryStore()
    async with running_log(store) as log:
        for events in CYCLES:
            await log.append(*events)
    await run_after(tmp_path / "read", store)
    first_day = min(part.parent for part in (tmp_path / "read").rglob("*.parquet"))
    blocked = tmp_path / "run" / first_day.relative_to(tmp_path / "read")
    blocked.parent.mkdir(parents=True)
    blocked.write_text("a file where the first day's folder goes")
    with pytest.raises(ExceptionGroup) as failed:
        await run_after(tmp_path / "run", store)
    assert failed.group_contains(OSError, depth=None)
    blocked.unlink()
    await run_after(tmp_path / "run", store)  # the restart: resumes after the last part on disk
    assert same_parts(parts(tmp_path / "run"), parts(tmp_path / "read"))


def test_the_writer_process_writes_every_cycle_it_was_sent_when_its_input_ends_even_inside_a_frame(
    tmp_path: Path,
) -> None:
    """What the actor's death (a kill -9) looks like to its writer process: its input ends, maybe inside a frame."""
    chained = extend(EMPTY_HEAD, [event for events in CYCLES for event in events])
    records = [record for record in chained if record.kind in ("signal", "snapshot")]
    sent = records[:100]
    frames = b"".join(encode_batch(sent[i : i + 30]) for i in range(0, len(sent), 30))
    cut_short = encode_batch(records[100:])[:-7]
    done = subprocess.run(
        [sys.executable, "-m", "b1e55ed.feature_parts", str(tmp_path / "process"), "7"],
        input=frames + cut_short, capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    expected = PartWriter(tmp_path / "here", 7, io.StringIO())
    expected.follow([(r.seq, e) for r in sent if isinstance(e := r.event(), SignalRecorded | SnapshotRecorded)])
    expected.write_all()
    assert same_parts(parts(tmp_path / "process"), parts(tmp_path / "here"))
    snapshots = sum(record.kind == "snapshot" for record in sent)
    assert read_features(tmp_path / "process").height == snapshots * 2


async def test_a_writer_process_still_writing_for_a_dead_store_is_waited_for(tmp_path: Path) -> None:
    """One that outlived its trading process (kill -9) holds the folder's lock until it has written what it was
    sent; a new store starts after it, from the parts it left, so no two write overlapping parts."""
    store = MemoryStore()
    async with running_log(store) as log:
        for events in CYCLES:
            await log.append(*events)
    await run_after(tmp_path / "read", store)
    chain = next((tmp_path / "read").iterdir()).name
    (tmp_path / "run" / chain).mkdir(parents=True)
    with (tmp_path / "run" / chain / ".lock").open("a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(run_after, tmp_path / "run", store)
            await trio.sleep(0.5)
            assert not parts(tmp_path / "run")
            fcntl.flock(held, fcntl.LOCK_UN)
    assert same_parts(parts(tmp_path / "run"), parts(tmp_path / "read"))
