"""Scorecards from scored outcomes: per producer and per strategy rule, overall, by conviction and by symbol; the
patterns of producers that agree; and each strategy's real trades. Every count is effective (the sum of the
outcomes' uniqueness weights), and so is every rate, interval and score computed from them.

- ``hit_rate`` with its Wilson interval (95%, on the effective count);
- ``mean_return``: the weighted mean of the outcomes' signed returns;
- ``brier`` and ``log_loss`` of the calibrated probability each outcome opened with (None when none had one);
- ``ic``: the information coefficient, Spearman's rank correlation between signed conviction (negative for a
  short) and the asset's forward return, weighted;
- ``reliability``: ten bins of calibrated probability, each with its mean prediction, observed rate and count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from msgspec.structs import replace

from b1e55ed.messages import KarmaOutcome

Z = 1.959964  # two-sided 95%
EPSILON = 1e-15
BINS = 10


@dataclass(frozen=True)
class Scored:
    """An outcome with the book it was scored in: ``producers``, or the strategy whose rule it is."""

    book: str
    outcome: KarmaOutcome


def wilson(wins: float, n: float, z: float = Z) -> tuple[float, float]:
    """The Wilson score interval of a rate of ``wins`` in ``n`` (effective) trials; (0, 1) with none."""
    if n <= 0:
        return 0.0, 1.0
    rate = wins / n
    denominator = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denominator
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def score(outcomes: Sequence[KarmaOutcome]) -> dict[str, float | int | None]:
    weights = np.array([o.weight for o in outcomes], dtype=np.float64)
    won = np.array([o.result == "win" for o in outcomes], dtype=np.float64)
    effective = float(weights.sum())
    wins = float((weights * won).sum())
    low, high = wilson(wins, effective)
    rets = np.array([o.ret for o in outcomes], dtype=np.float64)
    calibrated = [(o.p, o.result == "win", o.weight) for o in outcomes if o.p is not None]
    brier = log_loss = None
    if calibrated:
        p, hit, w = (np.array(column, dtype=np.float64) for column in zip(*calibrated, strict=True))
        if w.sum() > 0:
            brier = float(np.average((p - hit) ** 2, weights=w))
            clipped = np.clip(p, EPSILON, 1 - EPSILON)
            log_loss = float(np.average(-(hit * np.log(clipped) + (1 - hit) * np.log(1 - clipped)), weights=w))
    return {
        "count": len(outcomes),
        "effective": round(effective, 6),
        "wins": round(wins, 6),
        "hit_rate": round(wins / effective, 6) if effective > 0 else None,
        "wilson_low": round(low, 6),
        "wilson_high": round(high, 6),
        "mean_return": round(float(np.average(rets, weights=weights)), 8) if effective > 0 else None,
        "brier": _rounded(brier),
        "log_loss": _rounded(log_loss),
        "ic": _rounded(information_coefficient(outcomes)),
    }


def information_coefficient(outcomes: Sequence[KarmaOutcome]) -> float | None:
    """Weighted Spearman between signed conviction and the asset's forward return; None without variation."""
    if len(outcomes) < 3:
        return None
    signs = np.array([1.0 if o.direction == "long" else -1.0 for o in outcomes])
    conviction = signs * np.array([o.conviction for o in outcomes], dtype=np.float64)
    forward = signs * np.array([o.ret for o in outcomes], dtype=np.float64)  # the asset's move, not the position's
    weights = np.array([o.weight for o in outcomes], dtype=np.float64)
    x, y = _ranks(conviction), _ranks(forward)
    if weights.sum() <= 0:
        return None
    x, y = x - np.average(x, weights=weights), y - np.average(y, weights=weights)
    spread = math.sqrt(float(np.average(x * x, weights=weights) * np.average(y * y, weights=weights)))
    return float(np.average(x * y, weights=weights)) / spread if spread > 0 else None


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(1, len(values) + 1)
    unique, inverse = np.unique(values, return_inverse=True)
    if len(unique) < len(values):
        ranks = np.bincount(inverse, weights=ranks)[inverse] / np.bincount(inverse)[inverse]
    return ranks


def reliability(outcomes: Sequence[KarmaOutcome]) -> list[dict[str, float | None]]:
    """Ten bins of the calibrated probability: its weighted mean, the observed win rate, the effective count."""
    rows: list[dict[str, float | None]] = []
    for index in range(BINS):
        low, high = index / BINS, (index + 1) / BINS
        inside = [
            o for o in outcomes if o.p is not None and (low <= o.p < high or (index == BINS - 1 and o.p == 1.0))
        ]
        weight = sum(o.weight for o in inside)
        predicted = observed = None
        if weight > 0:
            predicted = round(sum(o.p * o.weight for o in inside if o.p is not None) / weight, 6)
            observed = round(sum(o.weight for o in inside if o.result == "win") / weight, 6)
        rows.append({"low": low, "high": high, "predicted": predicted, "observed": observed, "count": round(weight, 6)})
    return rows


def scorecard(
    name: str, kind: str, outcomes: Sequence[KarmaOutcome], calibration: Sequence[float] | None
) -> dict[str, Any]:
    by_conviction = _grouped(outcomes, lambda o: str(o.conviction))
    by_symbol = _grouped(outcomes, lambda o: o.symbol)
    convictions = sorted(by_conviction.items(), key=lambda kv: int(kv[0]))
    return {
        "name": name,
        "kind": kind,
        "overall": score(outcomes),
        "by_conviction": {key: score(group) for key, group in convictions},
        "by_symbol": {key: score(group) for key, group in sorted(by_symbol.items())},
        "reliability": reliability(outcomes),
        "calibration": list(calibration) if calibration is not None else None,
    }


def patterns(scored: Iterable[Scored], *, min_samples: float, top: int) -> list[dict[str, Any]]:
    """The sets of two or more producers that agreed on a direction for a symbol in one cycle, each scored as one
    source (the members' positions are the same virtual position; its weight is their mean), ranked by the lower
    Wilson bound among those with ``min_samples`` effective outcomes."""
    agreeing: dict[tuple[str, int, str], list[KarmaOutcome]] = {}
    for item in scored:
        if item.book == "producers":
            o = item.outcome
            agreeing.setdefault((o.symbol, o.opened, o.direction), []).append(o)
    by_pattern: dict[tuple[str, ...], list[KarmaOutcome]] = {}
    for members in agreeing.values():
        if len(members) < 2:
            continue
        sources = tuple(sorted(o.source for o in members))
        first = members[0]
        weight = round(sum(o.weight for o in members) / len(members), 6)
        conviction = round(sum(o.conviction for o in members) / len(members))
        merged = replace(first, source="+".join(sources), weight=weight, conviction=conviction, p=None)
        by_pattern.setdefault(sources, []).append(merged)
    ranked: list[tuple[float, list[str], dict[str, float | int | None]]] = []
    for sources, outcomes in by_pattern.items():
        result = score(outcomes)
        if float(result["effective"] or 0) >= min_samples:
            ranked.append((float(result["wilson_low"] or 0), list(sources), result))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    return [{"producers": producers, "score": result} for _, producers, result in ranked[:top]]


def _grouped(outcomes: Iterable[KarmaOutcome], key: Callable[[KarmaOutcome], str]) -> dict[str, list[KarmaOutcome]]:
    groups: dict[str, list[KarmaOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return groups


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def trade_scores(trades: Sequence[tuple[float, float, float]]) -> dict[str, float | int | None]:
    """Real trades' ``(pnl, fees, funding)``: win rate, profit factor (gross profit ÷ gross loss), expectancy."""
    pnls = [pnl for pnl, _, _ in trades]
    gains = sum(p for p in pnls if p > 0)
    losses = -sum(p for p in pnls if p < 0)
    return {
        "trades": len(trades),
        "win_rate": round(sum(1 for p in pnls if p > 0) / len(pnls), 6) if pnls else None,
        "profit_factor": round(gains / losses, 6) if losses > 0 else None,
        "expectancy": round(sum(pnls) / len(pnls), 8) if pnls else None,
        "pnl": round(sum(pnls), 8),
        "fees": round(sum(fees for _, fees, _ in trades), 8),
        "funding": round(sum(funding for _, _, funding in trades), 8),
    }


def attribute(pnl: float, drivers: Mapping[str, float]) -> dict[str, float]:
    """A trade's P&L shared among its decision's drivers in proportion to their conviction."""
    total = sum(drivers.values())
    if total <= 0:
        return {}
    return {name: pnl * conviction / total for name, conviction in drivers.items()}
