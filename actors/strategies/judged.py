"""A strategy's judgment before its size: for a strategy whose own rule drives its size (``sizes_by_rule``).

Whether and which way such a rule fires never depends on calibration, only its size does. So the strategy judges
a cycle once (``judge``, ``judge_batch``): each symbol's answer is either a final ``Candidate`` (not fired, or fired
and refused for a reason that is not its size) or ``Fired``, what ``SizingRule.candidate`` takes besides the
sizing. ``sized`` makes the candidate under a calibration. The actor (``actor.py``) judges each batch once and
sizes each cycle's judgments with its calibration, and again with the rule's own calibration in force once karma
has scored the rule's firings: the same candidates ``evaluate`` gives each cycle under each calibration.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import NamedTuple, Protocol, runtime_checkable

from actors.strategies.sizing import Driver, SizingRule
from b1e55ed.cycle import Candidate, EnrichedCycle
from b1e55ed.karma.calibration import Calibration
from b1e55ed.messages import Direction, SignalRef


class Fired(NamedTuple):
    """A rule that fired on ``symbol``: the trade it proposes, to be sized by ``drivers``."""

    symbol: str
    direction: Direction
    entry: float
    drivers: tuple[Driver, ...]
    setup: str
    rationale: str
    candle_close: int
    refs: tuple[SignalRef, ...] = ()


Judgment = Candidate | Fired


def sized(strategy: str, rule: SizingRule, judgment: Judgment, calibration: Calibration) -> Candidate:
    """The candidate a judgment makes under ``calibration``."""
    if isinstance(judgment, Candidate):
        return judgment
    return rule.candidate(
        strategy=strategy,
        symbol=judgment.symbol,
        direction=judgment.direction,
        entry=judgment.entry,
        sizing=rule.size(judgment.drivers, calibration),
        setup=judgment.setup,
        rationale=judgment.rationale,
        candle_close=judgment.candle_close,
        refs=judgment.refs,
    )


@runtime_checkable
class JudgingStrategy(Protocol):
    """A strategy that judges cycles apart from their calibration: ``evaluate(cycle)`` is ``sized`` of each of
    ``judge(cycle)`` under ``cycle.calibration``, and ``judge_batch`` is ``judge`` of each cycle."""

    name: str
    rule: SizingRule

    def judge(self, cycle: EnrichedCycle) -> list[Judgment]: ...

    def judge_batch(self, cycles: Sequence[EnrichedCycle]) -> list[list[Judgment]]: ...


class SizedJudgments(ABC):
    """``evaluate`` and ``evaluate_batch`` for a strategy that judges (``JudgingStrategy``): its judgments, each
    sized under its cycle's calibration. A subclass gives ``judge`` and ``judge_batch``."""

    name: str
    rule: SizingRule
    sizes_by_rule = True  # its own rule drives the size: karma calibrates it

    @abstractmethod
    def judge(self, cycle: EnrichedCycle) -> list[Judgment]: ...

    @abstractmethod
    def judge_batch(self, cycles: Sequence[EnrichedCycle]) -> list[list[Judgment]]: ...

    def evaluate(self, cycle: EnrichedCycle) -> Sequence[Candidate]:
        return [sized(self.name, self.rule, judgment, cycle.calibration) for judgment in self.judge(cycle)]

    def evaluate_batch(self, cycles: Sequence[EnrichedCycle]) -> list[Sequence[Candidate]]:
        return [
            [sized(self.name, self.rule, judgment, cycle.calibration) for judgment in judgments]
            for cycle, judgments in zip(cycles, self.judge_batch(cycles), strict=True)
        ]
