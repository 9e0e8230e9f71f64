"""A run as its event log tells it: the settled cycles, the closes, the trades, the fees, the funding, the halts.

Read-only: the database is opened with ``mode=ro``, so a report can be taken of a live paper book while it runs;
an encrypted one with its key.
Only the kinds the report needs are decoded; decisions and risk verdicts only for the decisions that traded.

A trade is a position from open to close. Its ``position_id`` is its entry order's cloid, which is the id of the
decision that made it (``TradeDecided.decision_id``); a position the OMS adopted from a live venue has no decision,
and its strategy is ``unattributed``. Funding is attributed as the OMS's ledger does: a payment on a symbol goes to
the position open on that symbol.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from b1e55ed.backtest.metrics import Floats, Ints
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.connect import DATABASE_ERRORS, LogKey, connect
from b1e55ed.eventlog.store import StoreError
from b1e55ed.messages import (
    CycleSettled,
    CycleStarted,
    Decision,
    EquitySynced,
    Fill,
    FundingPaid,
    KillSwitchChanged,
    PositionUpdated,
    RiskVerdict,
    RuntimeStarted,
    TradeDecided,
)

UNATTRIBUTED = "unattributed"
_KINDS = ("runtime_started", "cycle", "settled", "fill", "funding", "position", "trade", "killswitch", "equity_synced")
_CHUNK = 500


@dataclass(frozen=True)
class Trade:
    """One position, closed or still open (``status`` open, no exit, ``pnl`` None); ``size`` is the largest it
    held, in units of the asset."""

    position_id: str
    decision_id: str | None
    strategy: str
    symbol: str
    side: str
    status: str
    opened_at: int
    closed_at: int | None
    entry_price: float
    exit_price: float | None
    size: float
    pnl: float | None
    fees: float
    funding: float


@dataclass(frozen=True)
class KillSwitchEvent:
    seq: int
    ts: int
    state: str
    previous: str
    cause: str
    detail: str


@dataclass
class RunHistory:
    """Everything the report is computed from. Arrays are per settled cycle, in cycle order."""

    as_of: Ints
    equity: Floats
    exposure: Floats
    open_positions: Ints
    symbols: list[str]
    closes: Floats  # settled cycles × symbols, NaN where the symbol had no candle
    candles: int
    sources: list[str]
    flow_ts: list[int]
    flow_amounts: list[float]
    trades: list[Trade]
    fees_by_symbol: dict[str, float]
    funding_by_symbol: dict[str, float]  # cash to the account: negative when paid
    killswitch: list[KillSwitchEvent]
    decisions: dict[str, Decision]
    verdicts: dict[str, RiskVerdict]
    rationales: dict[str, str]
    config_hashes: list[str]
    starts: int
    events: int
    head: str


@dataclass
class _Fold:
    """The running state of one pass over the log."""

    started: dict[int, CycleStarted] = field(default_factory=dict)
    settled: list[CycleSettled] = field(default_factory=list)
    trades: dict[str, TradeDecided] = field(default_factory=dict)
    positions: dict[str, PositionUpdated] = field(default_factory=dict)  # by position id, the latest state
    open_by_symbol: dict[str, str] = field(default_factory=dict)
    funding_by_position: dict[str, float] = field(default_factory=dict)
    largest_size: dict[str, float] = field(default_factory=dict)  # partial exits shrink a position's size
    fees_by_symbol: dict[str, float] = field(default_factory=dict)
    funding_by_symbol: dict[str, float] = field(default_factory=dict)
    killswitch: list[KillSwitchEvent] = field(default_factory=list)
    flows: list[EquitySynced] = field(default_factory=list)
    starts: list[RuntimeStarted] = field(default_factory=list)


def connect_readonly(db: Path, key: LogKey | None = None) -> sqlite3.Connection:
    """The database for reading only (``key``: an encrypted one's); ``StoreError`` naming it when it is missing or
    not a b1e55ed event log."""
    if not db.is_file():
        raise StoreError(f"{db}: no such database")
    conn = connect(db, key)
    try:
        conn.execute("SELECT seq, ts, kind, payload, prev_hash, hash FROM events LIMIT 1").fetchall()
    except DATABASE_ERRORS as exc:
        conn.close()
        raise StoreError(f"{db}: not a b1e55ed database ({exc})") from None
    return conn


def read_history(db: Path, key: LogKey | None = None) -> RunHistory:
    with closing(connect_readonly(db, key)) as conn:
        fold = _Fold()
        for seq, payload in _rows(conn, _KINDS):
            _apply(fold, seq, codec.decode(payload))
        position_ids = sorted(fold.positions)
        decisions = {e.decision_id: e for e in _by_decision(conn, "decision", position_ids) if isinstance(e, Decision)}
        verdicts = {e.decision_id: e for e in _by_decision(conn, "verdict", position_ids) if isinstance(e, RiskVerdict)}
        head = conn.execute("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return _history(fold, decisions, verdicts, head)


def _rows(conn: sqlite3.Connection, kinds: Sequence[str]) -> Iterator[tuple[int, bytes]]:
    marks = ", ".join("?" * len(kinds))
    yield from conn.execute(f"SELECT seq, payload FROM events WHERE kind IN ({marks}) ORDER BY seq", list(kinds))


def _by_decision(conn: sqlite3.Connection, kind: str, ids: Sequence[str]) -> Iterator[object]:
    """The ``kind`` events of the decisions ``ids``, in log order (a decision taken twice: its first event wins)."""
    seen: set[str] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        sql = (
            "SELECT payload FROM events WHERE kind = ? AND json_extract(CAST(payload AS TEXT), '$.decision_id') "
            f"IN ({', '.join('?' * len(chunk))}) ORDER BY seq"
        )
        for (payload,) in conn.execute(sql, [kind, *chunk]):
            event = codec.decode(payload)
            key = getattr(event, "decision_id", "")
            if isinstance(event, Decision) and not event.taken:
                continue
            if key not in seen:
                seen.add(key)
                yield event


def _apply(fold: _Fold, seq: int, event: object) -> None:
    match event:
        case CycleStarted():
            fold.started[event.cycle] = event
        case CycleSettled():
            fold.settled.append(event)
        case TradeDecided():
            fold.trades.setdefault(event.decision_id, event)
        case Fill():
            fold.fees_by_symbol[event.symbol] = fold.fees_by_symbol.get(event.symbol, 0.0) + event.fee
        case FundingPaid():
            fold.funding_by_symbol[event.symbol] = fold.funding_by_symbol.get(event.symbol, 0.0) + event.amount
            if (held := fold.open_by_symbol.get(event.symbol)) is not None:
                fold.funding_by_position[held] = fold.funding_by_position.get(held, 0.0) + event.amount
        case PositionUpdated():
            fold.positions[event.position_id] = event
            fold.largest_size[event.position_id] = max(fold.largest_size.get(event.position_id, 0.0), event.size)
            if event.status == "open":
                fold.open_by_symbol[event.symbol] = event.position_id
            elif fold.open_by_symbol.get(event.symbol) == event.position_id:
                del fold.open_by_symbol[event.symbol]
        case KillSwitchChanged():
            fold.killswitch.append(
                KillSwitchEvent(seq, event.ts, event.state, event.previous, event.cause, event.detail)
            )
        case EquitySynced():
            fold.flows.append(event)
        case RuntimeStarted():
            fold.starts.append(event)


def _history(
    fold: _Fold,
    decisions: dict[str, Decision],
    verdicts: dict[str, RiskVerdict],
    head: tuple[int, bytes] | None,
) -> RunHistory:
    settled = fold.settled
    started = [fold.started.get(s.cycle) for s in settled]
    symbols = sorted({symbol for tick in started if tick is not None for symbol in tick.closes})
    closes = np.full((len(settled), len(symbols)), np.nan)
    for row, tick in enumerate(started):
        for column, symbol in enumerate(symbols):
            if tick is not None and symbol in tick.closes:
                closes[row, column] = tick.closes[symbol]
    first_settled = settled[0].ts if settled else 0
    flows = [f for f in fold.flows if f.ts > first_settled]
    hashes: list[str] = []
    for start in fold.starts:
        if start.config_hash not in hashes:
            hashes.append(start.config_hash)
    return RunHistory(
        as_of=np.array([s.as_of for s in settled], np.int64),
        equity=np.array([s.equity for s in settled], np.float64),
        exposure=np.array([s.exposure for s in settled], np.float64),
        open_positions=np.array([s.open_positions for s in settled], np.int64),
        symbols=symbols,
        closes=closes,
        candles=sum(len(tick.closes) for tick in started if tick is not None),
        sources=sorted({tick.source for tick in fold.started.values()}),
        flow_ts=[f.ts for f in flows],
        flow_amounts=[f.adjustment for f in flows],
        trades=[_trade(fold, position) for position in sorted(fold.positions.values(), key=_opening_order)],
        fees_by_symbol=dict(sorted(fold.fees_by_symbol.items())),
        funding_by_symbol=dict(sorted(fold.funding_by_symbol.items())),
        killswitch=fold.killswitch,
        decisions=decisions,
        verdicts=verdicts,
        rationales={did: trade.trade.rationale for did, trade in fold.trades.items() if did in fold.positions},
        config_hashes=hashes,
        starts=len(fold.starts),
        events=head[0] if head else 0,
        head=head[1].hex() if head else "",
    )


def _opening_order(position: PositionUpdated) -> tuple[int, str]:
    return position.opened_at, position.position_id


def _trade(fold: _Fold, position: PositionUpdated) -> Trade:
    decided = fold.trades.get(position.position_id)
    closed = position.status != "open"
    return Trade(
        position_id=position.position_id,
        decision_id=position.position_id if decided is not None else None,
        strategy=decided.trade.strategy if decided is not None else UNATTRIBUTED,
        symbol=position.symbol,
        side=position.side,
        status=position.status,
        opened_at=position.opened_at,
        closed_at=position.closed_at if closed else None,
        entry_price=position.entry_price,
        exit_price=position.exit_price if closed else None,
        size=fold.largest_size.get(position.position_id, position.size),
        pnl=position.pnl if closed else None,
        fees=position.fees,
        funding=fold.funding_by_position.get(position.position_id, 0.0),
    )
