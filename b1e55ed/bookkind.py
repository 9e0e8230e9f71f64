"""A book keeps its kind: a log whose cycles came from one kind of market (Hyperliquid, a replay, the simulation)
never continues on another, and a paper book never continues live, nor a live one on paper.

The kind is read from the log itself: the source of its last cycle and the mode of the run that made it. A log
with no cycle yet is fresh and takes any kind. A changed config is not a changed kind: the config hash of each
run is recorded, as always.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import NamedTuple

from b1e55ed.eventlog import codec
from b1e55ed.eventlog.connect import OPERATIONAL_ERRORS, LogKey, connect
from b1e55ed.messages import CycleStarted, MarketSource, RuntimeStarted


class BookKind(NamedTuple):
    source: MarketSource
    mode: str

    def __str__(self) -> str:
        return f"a {self.mode} book on {'simulated' if self.source == 'simulated' else self.source} market data"


def source_of(market_source: str) -> MarketSource:
    """The kind of market a ``market.source`` setting (already resolved from ``auto``) gives cycles from."""
    if market_source.startswith("replay:"):
        return "replay"
    if market_source == "sim":
        return "simulated"
    if market_source == "hyperliquid":
        return "hyperliquid"
    raise ValueError(f"market.source {market_source!r} is not resolved")


def recorded_kind(db: Path, key: LogKey | None = None) -> BookKind | None:
    """The kind of the book in ``db`` (``key``: an encrypted one's): its last cycle's source and the mode of the run
    it belongs to; None when there is no database or no cycle in it yet."""
    if not db.exists():
        return None
    with closing(connect(db, key)) as conn:
        try:
            cycle = conn.execute("SELECT seq, payload FROM events WHERE kind = 'cycle' ORDER BY seq DESC LIMIT 1")
            last_cycle = cycle.fetchone()
        except OPERATIONAL_ERRORS:
            return None  # no events table yet: the store creates it
        if last_cycle is None:
            return None
        started = conn.execute(
            "SELECT payload FROM events WHERE kind = 'runtime_started' AND seq < ? ORDER BY seq DESC LIMIT 1",
            (last_cycle[0],),
        ).fetchone()
    tick, run = codec.decode(last_cycle[1]), codec.decode(started[0]) if started else None
    assert isinstance(tick, CycleStarted)
    return BookKind(tick.source, run.mode if isinstance(run, RuntimeStarted) else "paper")


def kind_problem(db: Path, recorded: BookKind | None, today: BookKind) -> str | None:
    """Why this run may not continue the book in ``db``, or None."""
    if recorded is None or recorded == today:
        return None
    return (
        f"{db} holds {recorded}, and this run is {today}: a book never continues on another kind of market or "
        "in another mode. Name another database (--db, or eventlog.path) for this run"
    )
