"""From scored outcomes to ``P(win | source, conviction)``: a Beta prior shrunk toward the source's base rate,
made monotone in conviction, and what a strategy's sizing reads.

A source (a producer, or a strategy's own rule) is calibrated once it has ``min_samples`` effective outcomes.
At conviction ``c`` with ``n_c`` effective outcomes of which ``w_c`` won, and the source's base rate
``b = Σw ÷ Σn``::

    p_c = (w_c + k·b) ÷ (n_c + k)        # the mean of Beta(w_c + k·b, n_c − w_c + k·(1 − b)); k = prior_strength

so a conviction with few outcomes reads close to the base rate. Pool-adjacent-violators (weights ``n_c + k``)
then makes ``p`` non-decreasing in conviction: a higher conviction never claims a lower chance.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

CONVICTIONS = tuple(range(1, 11))


@dataclass
class Tally:
    """A source's effective outcomes and effective wins, by conviction 1–10."""

    outcomes: list[float] = field(default_factory=lambda: [0.0] * len(CONVICTIONS))
    wins: list[float] = field(default_factory=lambda: [0.0] * len(CONVICTIONS))

    def add(self, conviction: int, weight: float, won: bool) -> None:
        self.outcomes[conviction - 1] += weight
        if won:
            self.wins[conviction - 1] += weight

    def extend(self, convictions: Iterable[int], weights: Iterable[float], won: Iterable[bool]) -> None:
        """``add`` each outcome, in order."""
        outcomes, wins = self.outcomes, self.wins
        for conviction, weight, win in zip(convictions, weights, won, strict=True):
            outcomes[conviction - 1] += weight
            if win:
                wins[conviction - 1] += weight

    @property
    def total(self) -> float:
        return sum(self.outcomes)


def calibrate(tally: Tally, *, min_samples: float, prior_strength: float) -> tuple[float, ...] | None:
    """The win probability at each conviction 1–10, or None before ``min_samples`` effective outcomes."""
    total = sum(tally.outcomes)
    if total <= 0 or total < min_samples:
        return None
    prior = prior_strength * (sum(tally.wins) / total)  # k × the base rate
    pairs = zip(tally.outcomes, tally.wins, strict=True)
    return tuple(_pooled([((wins + prior) / (weight := n + prior_strength), weight) for n, wins in pairs]))


def monotone(values: Sequence[float], weights: Sequence[float]) -> list[float]:
    """Weighted pool-adjacent-violators: the non-decreasing sequence closest to ``values`` in weighted squares."""
    return _pooled(zip(values, weights, strict=True))


def _pooled(points: Iterable[tuple[float, float]]) -> list[float]:
    """``monotone`` of (value, weight) points. Left to right, each value joins as a block of its own, then pools
    with the block before it while that block's mean is higher: the pooled mean is ``(m₁·w₁ + m₂·w₂) ÷ (w₁ + w₂)``.
    """
    blocks: list[tuple[float, float, int]] = []  # (weighted mean, weight, length)
    for value, weight in points:
        mean, total, length = value, weight, 1
        while blocks and blocks[-1][0] > mean:
            before, weight_before, length_before = blocks.pop()
            pooled = weight_before + total
            mean = (before * weight_before + mean * total) / pooled
            total, length = pooled, length + length_before
        blocks.append((mean, total, length))
    fitted: list[float] = []
    for mean, _, length in blocks:
        fitted += [mean] * length
    return fitted


def breakeven(stop_pct: float, target_pct: float, fee_rate: float) -> float:
    """The win rate at which exits at ``stop_pct`` and ``target_pct`` break even, a taker fee of ``fee_rate`` paid
    on entry and exit: ``p × (target − cost) = (1 − p) × (stop + cost)``. 3/10 without fees: 3/13 ≈ 0.23."""
    cost = 2 * fee_rate * 100
    return (stop_pct + cost) / (stop_pct + target_pct)


@dataclass(frozen=True)
class Calibration(Mapping[str, Mapping[int, float]]):
    """What sizing reads: producer → conviction → win probability for the producers karma has calibrated (the
    mapping itself), a strategy's own rule in ``rules`` under the strategy's name, the barriers those
    probabilities were measured at, and the fee rate a trade pays per side."""

    tables: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    rules: Mapping[str, Mapping[int, float]] = field(default_factory=dict)
    stop_pct: float = 0.0
    target_pct: float = 0.0
    fee_rate: float = 0.0

    def __getitem__(self, source: str) -> Mapping[int, float]:
        return self.tables[source]

    def __iter__(self) -> Iterator[str]:
        return iter(self.tables)

    def __len__(self) -> int:
        return len(self.tables)

    def measured_at(self, stop_pct: float, target_pct: float) -> bool:
        """Whether these probabilities were measured at these exits (so Kelly may use them)."""
        return (self.stop_pct, self.target_pct) == (stop_pct, target_pct)

    def with_tables(self, tables: Mapping[str, Mapping[int, float]]) -> Calibration:
        return replace(self, tables=tables)

    def with_rule(self, strategy: str, probabilities: Mapping[int, float]) -> Calibration:
        return replace(self, rules={**self.rules, strategy: probabilities})


def table(probabilities: Sequence[float]) -> dict[int, float]:
    return dict(zip(CONVICTIONS, probabilities, strict=True))
