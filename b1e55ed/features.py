"""The feature store's format: one frozen row per cycle and symbol, Parquet partitioned by date, and its hash.

A row holds the symbol's PCS context (one column per field) and the cycle's signals for it. The enricher records
``snapshot_hash`` of each cycle in the event log; the feature store writes the rows from the log, so a snapshot on
disk can always be checked against the chain.

Layout: ``<data_dir>/features/chain=<first record's hash>/date=YYYY-MM-DD/<first seq>-<last seq>.parquet``: one folder
per event log, so runs into different databases never mix.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec
import polars as pl

from b1e55ed.messages import Signal

_encoder = msgspec.json.Encoder(order="deterministic")


def snapshot_hash(cycle: int, as_of: int, context: Mapping[str, Mapping[str, float]], signals: Sequence[Signal]) -> str:
    """sha256 hex of the cycle's features: its context and its signals (producer, symbol, direction, conviction)."""
    content = {
        "cycle": cycle,
        "as_of": as_of,
        "context": context,
        "signals": sorted((s.producer, s.symbol, s.signal, s.conviction) for s in signals),
    }
    return hashlib.sha256(_encoder.encode(content)).hexdigest()


def snapshot_rows(
    cycle: int, as_of: int, context: Mapping[str, Mapping[str, float]], signals: Sequence[Signal], features_hash: str
) -> list[dict[str, Any]]:
    rows = []
    for symbol in sorted(context):
        row: dict[str, Any] = {"cycle": cycle, "as_of": as_of, "symbol": symbol, "features_hash": features_hash}
        row.update({f"ctx_{key}": value for key, value in sorted(context[symbol].items())})
        row["signals"] = [
            {"producer": s.producer, "signal": s.signal, "conviction": s.conviction, "rationale": s.rationale}
            for s in sorted(signals, key=lambda s: s.producer)
            if s.symbol == symbol
        ]
        rows.append(row)
    return rows


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
