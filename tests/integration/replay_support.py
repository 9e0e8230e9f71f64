"""Replays of real history run in-process, and the events they leave: for the look-ahead and batching tests.

A replay here is ``python -m b1e55ed run --market replay:...`` called as ``cli.main`` in this process (no process
start-up, no kill), with a config file written beside the database: the repository's defaults, the API off, the
data folder inside the test's folder, one choice of producers and strategies, and one ``brain.replay_batch``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from contextlib import chdir, closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import yaml

from b1e55ed.cli import main
from b1e55ed.config import DEFAULT_CONFIG_PATH

PRODUCERS = ("rsi", "momentum", "funding", "social", "whale")
STRATEGIES = ("confluence", "momentum", "ma_crossover", "combined", "rsi_oversold")
SYMBOLS = ("BTC", "ETH", "SOL")
RUN_KINDS = ("runtime_started", "runtime_stopped")  # a process's start and stop: not part of any cycle


@dataclass(frozen=True)
class Record:
    """One row of the ``events`` table, as stored."""

    seq: int
    kind: str
    payload: bytes
    hash: bytes

    @cached_property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.payload)
        return body

    @property
    def cycle(self) -> int | None:
        cycle = self.body.get("cycle")
        return cycle if isinstance(cycle, int) else None


def isolate(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """Run in ``folder`` (no ``.env`` of the user's) with no ``B1E55ED_*`` variable from the outside."""
    monkeypatch.chdir(folder)
    for name in [name for name in os.environ if name.startswith("B1E55ED_")]:
        monkeypatch.delenv(name)


def write_config(
    folder: Path,
    *,
    replay_batch: int,
    producers: Collection[str] = PRODUCERS,
    strategies: Collection[str] = STRATEGIES,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    own: Path | None = None,
) -> Path:
    """The default config with only ``producers`` and ``strategies`` enabled, saved as ``folder/config.yaml``.
    ``own`` names a YAML file of one's own plug-ins (``brain.producers``, ``strategies``, ``enrichers``, as a
    ``new`` snippet or docs/examples/examples.yaml has them): its entries are added to the lists.

    Its data folder is the default, ``data``, relative to where the run starts: ``replay`` starts it in ``folder``.
    (A path naming the folder would put the folder in the config hash, and two folders' runs would differ.)
    ``sections`` overrides settings by section: ``{"karma": {"min_samples": 3}}``."""
    unknown = (set(producers) - set(PRODUCERS)) | (set(strategies) - set(STRATEGIES))
    assert not unknown, f"no such plug-in: {unknown}"
    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    raw["api"]["enabled"] = False
    raw["brain"]["replay_batch"] = replay_batch
    for section, settings in (sections or {}).items():
        raw[section].update(settings)
    for spec in raw["brain"]["producers"]:
        spec["enabled"] = spec["name"] in producers
    for spec in raw["brain"]["strategies"]:
        spec["enabled"] = spec["name"] in strategies
    for section, entries in own_plugins(own).items():
        raw["brain"][section] = [*raw["brain"].get(section, []), *entries]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def own_plugins(own: Path | None) -> dict[str, list[dict[str, Any]]]:
    """The plug-in entries of the YAML file ``own`` by section (producers, strategies, enrichers); none for None."""
    if own is None:
        return {}
    brain = yaml.safe_load(own.read_text(encoding="utf-8")).get("brain", {})
    return {section: list(brain.get(section, [])) for section in ("producers", "strategies", "enrichers")}


def replay_args(
    shared_data: Path, *, start: str, end: str, symbols: Sequence[str] = SYMBOLS, ohlcv: Path | None = None
) -> list[str]:
    """``run``'s options for a replay of ``ohlcv`` (default: the real hourly candles), with funding and Fear & Greed."""
    candles = ohlcv if ohlcv is not None else shared_data / "ohlcv_1h"
    return [
        "--market", f"replay:{candles}", "--symbols", *symbols, "--from", start, "--to", end,
        "--funding", str(shared_data / "funding"), "--fear-greed", str(shared_data / "fear_greed"),
    ]  # fmt: skip


def replay(config: Path, db: Path, args: Sequence[str]) -> list[Record]:
    """Run the replay to its end in this process, in ``config``'s folder, and return every event it logged."""
    with chdir(config.parent):
        status = main(["--config", str(config), "run", "--db", str(db), *args])
    assert status == 0, f"the replay exited {status}"
    return read_events(db)


def read_events(db: Path) -> list[Record]:
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT seq, kind, payload, hash FROM events ORDER BY seq").fetchall()
    return [Record(seq, kind, bytes(payload), bytes(hash_)) for seq, kind, payload, hash_ in rows]


def last_settled_cycle(records: Sequence[Record]) -> int:
    settled = [r.cycle for r in records if r.kind == "settled"]
    assert settled, "the run settled no cycle"
    last = settled[-1]
    assert last is not None
    return last


def through_cycle(records: Sequence[Record], cycle: int) -> list[Record]:
    """The records from the first cycle's start through the ``settled`` record of ``cycle``: what the cycles up to
    and including ``cycle`` logged (the run's ``runtime_started``, whose config hash names the window, left out)."""
    first = next(i for i, r in enumerate(records) if r.kind == "cycle")
    last = next(i for i, r in enumerate(records) if r.kind == "settled" and r.cycle == cycle)
    return list(records[first : last + 1])


def of_cycles(records: Sequence[Record], first: int, last: int) -> list[Record]:
    """The records that cycles ``first`` to ``last`` logged, as the segments between their ``cycle`` records."""
    chosen: list[Record] = []
    current: int | None = None
    for record in records:
        if record.kind == "cycle":
            current = record.cycle
        if current is not None and first <= current <= last and record.kind not in RUN_KINDS:
            chosen.append(record)
    return chosen


def assert_same_payloads(expected: Sequence[Record], actual: Sequence[Record], what: str) -> None:
    """The two runs logged the same events, byte for byte; a failure names the first that differs."""
    for index, (want, got) in enumerate(zip(expected, actual, strict=False)):
        if want.payload != got.payload:
            raise AssertionError(
                f"{what}: event {index} differs (seq {want.seq} {want.kind} vs seq {got.seq} {got.kind}):\n"
                f"  expected {want.payload[:1500]!r}\n  actual   {got.payload[:1500]!r}"
            )
    assert len(expected) == len(actual), f"{what}: {len(expected)} events expected, {len(actual)} logged"


def cycle_payloads(records: Sequence[Record]) -> list[Record]:
    """The records of the cycles alone, as if one process had written them all: a run's starts and stops left out
    and the seq numbers that orders cite (``trade_seq``) renumbered to count only what is left."""
    kept = [record for record in records if record.kind not in RUN_KINDS]
    position = {record.seq: index for index, record in enumerate(kept, start=1)}
    renumbered = []
    for record in kept:
        payload = record.payload
        trade_seq = record.body.get("trade_seq") if record.kind == "order" else None
        if isinstance(trade_seq, int):
            cited, own = b'"trade_seq":%d,' % trade_seq, b'"trade_seq":%d,' % position[trade_seq]
            assert payload.count(cited) == 1, payload
            payload = payload.replace(cited, own)
        renumbered.append(Record(position[record.seq], record.kind, payload, b""))
    return renumbered


def signals_of(records: Sequence[Record], producer: str) -> list[Record]:
    return [r for r in records if r.kind == "signal" and r.body["signal"]["producer"] == producer]


def taken_decisions_of(records: Sequence[Record], strategy: str) -> list[Record]:
    return [r for r in records if r.kind == "decision" and r.body["strategy"] == strategy and r.body["taken"]]


def producer_statuses(records: Sequence[Record], producer: str) -> set[str]:
    return {r.body["producers"].get(producer, "absent") for r in records if r.kind == "snapshot"}
