"""Karma's report of a database: the scorecards from its karma events, and each strategy's real trades with their
P&L attributed to the producers that drove them (``python -m b1e55ed karma``)."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

from b1e55ed.backtest.history import connect_readonly, read_history
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.connect import LogKey
from b1e55ed.karma.report import KarmaFold
from b1e55ed.karma.scorecard import attribute, trade_scores
from b1e55ed.messages import KarmaScored


def karma_report(
    db: Path,
    *,
    producer: str | None = None,
    strategy: str | None = None,
    min_samples: float = 30.0,
    top: int = 10,
    key: LogKey | None = None,
) -> dict[str, Any]:
    """The scorecards of the log at ``db`` (``key``: an encrypted one's), with each strategy's real trades."""
    fold = KarmaFold()
    with closing(connect_readonly(db, key)) as conn:
        for (payload,) in conn.execute("SELECT payload FROM events WHERE kind = 'karma' ORDER BY seq"):
            if isinstance(event := codec.decode(payload), KarmaScored):
                fold.add(event)
    found = fold.report(producer=producer, strategy=strategy, min_samples=min_samples, top=top)
    if producer is None:
        found["strategies"] = [s for s in _strategies(db, key) if strategy is None or s["name"] == strategy]
    return found


def _strategies(db: Path, key: LogKey | None) -> list[dict[str, Any]]:
    history = read_history(db, key)
    closed: dict[str, list[tuple[float, float, float]]] = {}
    shares: dict[str, dict[str, float]] = {}
    for trade in history.trades:
        if trade.pnl is None:
            continue
        closed.setdefault(trade.strategy, []).append((trade.pnl, trade.fees, trade.funding))
        decision = history.decisions.get(trade.decision_id or "")
        drivers: dict[str, float] = {}
        if decision is not None:
            for ref in decision.signals:
                if ref.signal == trade.side:
                    drivers[ref.producer] = drivers.get(ref.producer, 0.0) + ref.conviction
        for name, pnl in attribute(trade.pnl, drivers or {trade.strategy: 1.0}).items():
            bucket = shares.setdefault(trade.strategy, {})
            bucket[name] = bucket.get(name, 0.0) + pnl
    return [
        {
            "name": name,
            **trade_scores(trades),
            "attribution": {k: round(v, 8) for k, v in sorted(shares.get(name, {}).items())},
        }
        for name, trades in sorted(closed.items())
    ]
