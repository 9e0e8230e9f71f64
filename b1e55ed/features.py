"""The feature store's format: one frozen row per cycle and symbol, Parquet partitioned by date, and its hash.

A row holds the symbol's PCS context (one column per field) and the cycle's signals for it. The enricher records
``snapshot_hash`` of each cycle in the event log; the feature store writes the rows from the log, so a snapshot on
disk can always be checked against the chain.

Layout: ``<data_dir>/features/chain=<first record's hash>/date=YYYY-MM-DD/<first seq>-<last seq>.parquet``: one folder
per event log, so runs into different databases never mix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from b1e55ed.messages import Signal

_encoder = msgspec.json.Encoder(order="deterministic")


class _Hashed(msgspec.Struct):
    """What ``snapshot_hash`` encodes: its fields in name order, so it encodes as the dict of them sorted would
    (a struct keeps its fields' order; only dicts are sorted), without sorting four keys every cycle."""

    as_of: int
    context: Mapping[str, Mapping[str, float]]
    cycle: int
    signals: list[tuple[str, str, str, int]]


def snapshot_hash(cycle: int, as_of: int, context: Mapping[str, Mapping[str, float]], signals: Sequence[Signal]) -> str:
    """sha256 hex of the cycle's features: its context and its signals (producer, symbol, direction, conviction).
    The bytes hashed are those of ``{"as_of", "context", "cycle", "signals"}`` encoded with sorted keys."""
    content = _Hashed(as_of, context, cycle, sorted((s.producer, s.symbol, s.signal, s.conviction) for s in signals))
    return hashlib.sha256(_encoder.encode(content)).hexdigest()


Snapshot = tuple[int, int, Mapping[str, Mapping[str, float]], Sequence[Signal], str]
"""One cycle as the feature store keeps it: cycle, as_of, context (per symbol), its signals, its features hash."""


def snapshot_frame(snapshots: Iterable[Snapshot]) -> pl.DataFrame:
    """The rows of these cycles, one per cycle and symbol (symbols in order), built column by column.

    A row is ``cycle, as_of, symbol, features_hash``, then ``ctx_<field>`` for each context field in name order,
    then ``signals`` (the cycle's signals on the symbol, by producer: producer, signal, conviction, rationale).
    Columns come in the order they first appear; a row without some field has null there."""
    columns: dict[str, list[Any]] = {"cycle": [], "as_of": [], "symbol": [], "features_hash": []}
    cycles, as_ofs, symbols, hashes = columns["cycle"], columns["as_of"], columns["symbol"], columns["features_hash"]
    listed: list[Any] | None = None  # the signals column, made after the first row's context fields
    rows = 0
    for cycle, as_of, context, signals, features_hash in snapshots:
        by_producer = sorted(signals, key=lambda s: s.producer) if len(signals) > 1 else signals
        for symbol in sorted(context):
            cycles.append(cycle)
            as_ofs.append(as_of)
            symbols.append(symbol)
            hashes.append(features_hash)
            fields = context[symbol]
            for key in sorted(fields):
                name = f"ctx_{key}"
                column = columns.get(name)
                if column is None:
                    column = columns[name] = [None] * rows
                column.append(fields[key])
            if listed is None:
                listed = columns["signals"] = []
            listed.append(
                [
                    {"producer": s.producer, "signal": s.signal, "conviction": s.conviction, "rationale": s.rationale}
                    for s in by_producer
                    if s.symbol == symbol
                ]
            )
            rows += 1
            if len(fields) + 5 != len(columns):  # a field this row lacks: null there
                for column in columns.values():
                    if len(column) < rows:
                        column.append(None)
    return pl.DataFrame(columns) if rows else pl.DataFrame()


def read_features(root: Path, start_ms: int | None = None, end_ms: int | None = None) -> pl.DataFrame:
    """Every snapshot row under ``root`` (one chain's folder, or all of them) with ``start_ms <= as_of < end_ms``,
    ordered by cycle and symbol. For research."""
    files = sorted(root.rglob("date=*/*.parquet"))
    if not files:
        return pl.DataFrame()
    frame = pl.concat([pl.read_parquet(file) for file in files], how="diagonal_relaxed")
    if start_ms is not None:
        frame = frame.filter(pl.col("as_of") >= start_ms)
    if end_ms is not None:
        frame = frame.filter(pl.col("as_of") < end_ms)
    return frame.sort("cycle", "symbol")
