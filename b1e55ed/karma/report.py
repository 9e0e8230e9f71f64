"""Karma's scorecards folded from its events: what ``python -m b1e55ed karma`` prints (with the real trades,
``backtest/karma.py``) and ``GET /karma`` serves.

The JSON (``--json``, and the API's body) is stable; version 1:

- ``sources``: one scorecard per producer (``kind`` producer) and per strategy rule (``kind`` rule): ``overall``,
  ``by_conviction`` (keys "1" to "10"), ``by_symbol``, each a score (``count``, ``effective``, ``wins``,
  ``hit_rate``, ``wilson_low``, ``wilson_high``, ``mean_return``, ``brier``, ``log_loss``, ``ic``); its
  ``reliability`` bins (``low``, ``high``, ``predicted``, ``observed``, ``count``); its latest ``calibration``
  (win probability at conviction 1 to 10, or null before ``karma.min_samples``);
- ``strategies``: each strategy's real trades, closed ones (``trades``, ``win_rate``, ``profit_factor``,
  ``expectancy``, ``pnl``, ``fees``, ``funding``) and ``attribution``: the P&L of its trades shared among the
  producers of each decision in proportion to conviction (a rule's own trades go to the rule);
- ``patterns``: the top producer sets that agreed on a direction (``producers``, ``score``), ranked by the lower
  Wilson bound, among those with at least ``min_samples`` effective outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from b1e55ed.karma.book import PRODUCERS
from b1e55ed.karma.scorecard import Scored, patterns, scorecard
from b1e55ed.messages import KarmaScored

VERSION = 1


Source = tuple[str, str]  # (kind, name): a producer and a strategy's rule may share a name


@dataclass
class KarmaFold:
    """Every scored outcome in log order, and each source's latest calibration: folded from karma events."""

    scored: list[Scored] = field(default_factory=list)
    calibration: dict[Source, list[float]] = field(default_factory=dict)

    def add(self, event: KarmaScored) -> None:
        self.scored.extend(Scored(event.book, outcome) for outcome in event.outcomes)
        kind = _kind(event.book)
        self.calibration.update({(kind, name): table for name, table in event.calibration.items()})

    def report(
        self, *, producer: str | None = None, strategy: str | None = None, min_samples: float = 30.0, top: int = 10
    ) -> dict[str, Any]:
        """The scorecards and patterns (no real trades: ``backtest.karma`` adds those); ``producer``
        or ``strategy`` keep only that source."""
        by_source: dict[Source, list[Any]] = {}
        for item in self.scored:
            by_source.setdefault((_kind(item.book), item.outcome.source), []).append(item.outcome)
        everything = producer is None and strategy is None
        sources = [
            scorecard(name, kind, outcomes, self.calibration.get((kind, name)))
            for (kind, name), outcomes in sorted(by_source.items())
            if everything or (kind, name) in (("producer", producer), ("rule", strategy))
        ]
        found = patterns(self.scored, min_samples=min_samples, top=top) if strategy is None else []
        return {"version": VERSION, "sources": sources, "strategies": [], "patterns": found}


def _kind(book: str) -> str:
    return "producer" if book == PRODUCERS else "rule"


def render(report: dict[str, Any]) -> str:
    """The scorecards as text, for a terminal."""
    lines: list[str] = []
    columns = ("n", 6), ("eff", 8), ("hit", 6), ("wilson 95%", 14), ("ret", 8), ("brier", 7), ("ic", 6)
    header = f"{'source':<16} {'kind':<9} " + " ".join(f"{name:>{width}}" for name, width in columns)
    lines += ["karma scorecards (effective counts weigh overlapping outcomes by uniqueness)", header]
    for card in report["sources"]:
        lines.append(_score_line(card["name"], card["kind"], card["overall"]))
    for card in report["sources"]:
        lines += ["", f"{card['name']} ({card['kind']}) by conviction", header]
        lines += [_score_line(key, "", value) for key, value in card["by_conviction"].items()]
        if card["calibration"] is not None:
            table = " ".join(f"{c}:{p:.2f}" for c, p in enumerate(card["calibration"], start=1))
            lines.append(f"calibration  {table}")
    if report["strategies"]:
        lines += ["", f"{'strategy':<16} {'trades':>6} {'win':>6} {'PF':>6} {'expect':>9} {'pnl':>10} {'fees':>8}"]
        for s in report["strategies"]:
            pf = "-" if s["profit_factor"] is None else f"{s['profit_factor']:.2f}"
            lines.append(
                f"{s['name']:<16} {s['trades']:>6} {_pct(s['win_rate']):>6} {pf:>6} {s['expectancy'] or 0:>9.2f} "
                f"{s['pnl']:>10.2f} {s['fees']:>8.2f}"
            )
            shares = ", ".join(f"{k} {v:+.2f}" for k, v in s["attribution"].items())
            lines.append(f"{'':<16} attributed: {shares}")
    if report["patterns"]:
        lines += ["", "top patterns (producers agreeing on a direction), by lower Wilson bound", header]
        lines += [_score_line("+".join(p["producers"]), "pattern", p["score"]) for p in report["patterns"]]
    if not report["sources"]:
        lines.append("nothing scored yet: karma scores a signal once its stop, target or time limit is reached")
    return "\n".join(lines)


def _score_line(name: str, kind: str, s: dict[str, Any]) -> str:
    interval = f"{_pct(s['wilson_low'])}–{_pct(s['wilson_high'])}"
    ret = "-" if s["mean_return"] is None else f"{s['mean_return']:+.2%}"
    brier = "-" if s["brier"] is None else f"{s['brier']:.3f}"
    ic = "-" if s["ic"] is None else f"{s['ic']:+.2f}"
    return (
        f"{name:<16} {kind:<9} {s['count']:>6} {s['effective']:>8.1f} {_pct(s['hit_rate']):>6} {interval:>14} "
        f"{ret:>8} {brier:>7} {ic:>6}"
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
