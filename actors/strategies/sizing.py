"""Conviction-weighted sizing, and the trade's exits, shared by every strategy.

**Size** (notional ÷ equity) is ``base_size × conviction ÷ reference_conviction``: with the defaults, conviction 7
gives the spec's 5%. The conviction is the mean over the trade's *drivers*, the signals (or the strategy's own
rule) that made it, each counting once.

**Calibration.** When karma has calibrated a driver, ``cycle.calibration[source][conviction]`` is the win
probability ``p`` that this source has earned at the conviction it reported, measured at karma's barriers. Its
*edge* is ``p`` minus the breakeven win rate of this strategy's exits, fees included (``karma.calibration``:
about 0.24 for 3/10 at the paper venue's taker fee). The driver then counts as a conviction-equivalent of
``10 × edge ÷ (1 − breakeven)``: none at breakeven or below, 10 for a certain win. A source reporting 8 whose
measured edge is a tenth of the way from breakeven to certainty sizes like a 1. Uncalibrated drivers count with
their reported conviction. A strategy's own rule (MA crossover, RSI and support: ``Driver(…, rule=True)``) is
looked up in ``calibration.rules`` under the strategy's name. When every driver is calibrated and none has an
edge, the size is 0 and the trade is not taken.

**Kelly cap** (optional, ``kelly_fraction`` 0 = off). ``f* = p − (1 − p) ÷ b`` with the payoff
``b = (target_pct − cost) ÷ (stop_pct + cost)``, ``cost`` the round trip's fees in percent, and the size may not
exceed ``kelly_fraction × f*``. It applies only when *every* driver is calibrated at this strategy's own exits,
with ``p`` their mean win probability. A reported conviction is an opinion, not a probability, so without
calibration it is skipped (``kelly_applied`` 0 in the record).

**Policy cap.** The size never exceeds ``max_size`` (the risk policy's 15%); the risk gate checks it again.

Every number used goes into the decision record (``Candidate.sizing``), so the size can be recomputed by hand.
Stop and target sit ``stop_pct`` and ``target_pct`` from the entry (the spec's -3% / +10%).

**Shared answers.** A size is a function of the rule, the drivers, their calibrated probabilities and the
calibration's fee and barriers, and a replay asks the same few questions over and over: ``size`` keeps its answers
(a ``Sizing`` is shared, so its ``numbers`` are never changed), and with them the words ``candidate`` puts in a
decision, so many candidates carry one record.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

import msgspec

from b1e55ed.cycle import Candidate
from b1e55ed.karma.calibration import Calibration, breakeven
from b1e55ed.messages import Direction, Signal, SignalRef, Trade

SIZE_DECIMALS = 6
_SIZES_KEPT = 4096  # sizes kept (then forgotten all at once): a calibration's few probabilities × drivers


class Driver(msgspec.Struct, frozen=True):
    """One reason for a trade's size: who said it (a producer, or the strategy's own rule) and how strongly. (A
    struct: a replay makes thousands, and each sizing hashes them; a frozen dataclass does both in Python.)"""

    source: str
    conviction: int
    rule: bool = False  # the strategy's own rule: its calibration is ``calibration.rules[source]``


@dataclass(frozen=True)
class Sizing:
    size: float
    conviction: int  # the trade's aggregated conviction: the mean reported conviction, rounded half up
    numbers: dict[str, float]  # shared by every candidate sized alike: never changed
    # The words for it, as ``SizingRule`` puts them (keyed by what they read of the rule), made once.
    words: dict[tuple[str, float, float], str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def has_edge(self) -> bool:
        return self.size > 0


_Positive = Annotated[float, msgspec.Meta(gt=0)]


class SizingRule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The sizing and exit params every strategy takes: a strategy's ``Params`` extends this rule."""

    base_size: _Positive = 0.05
    reference_conviction: _Positive = 7.0
    max_size: _Positive = 0.15
    kelly_fraction: Annotated[float, msgspec.Meta(ge=0, le=1)] = 0.0
    stop_pct: _Positive = 3.0
    target_pct: _Positive = 10.0

    def size(self, drivers: Sequence[Driver], calibration: Calibration) -> Sizing:
        if not drivers:
            raise ValueError("sizing needs at least one driver")
        probabilities = [
            win_probability(calibration.rules if d.rule else calibration, d.source, d.conviction) for d in drivers
        ]
        fee, stop, target = calibration.fee_rate, calibration.stop_pct, calibration.target_pct
        # ±0 are equal keys, but not the same bits: sized afresh.
        if 0.0 in probabilities or not (fee and stop and target) or any(d.conviction == 0 for d in drivers):
            return self._size(drivers, calibration, probabilities)
        key = (id(self), *drivers, *probabilities, fee, stop, target)
        known = _SIZES.get(key)
        if known is None:
            if len(_SIZES) >= _SIZES_KEPT:
                _SIZES.clear()
            known = _SIZES[key] = (self, self._size(drivers, calibration, probabilities))  # ``self`` keeps its id
        return known[1]

    def _size(self, drivers: Sequence[Driver], calibration: Calibration, probabilities: list[float | None]) -> Sizing:
        reported = sum(d.conviction for d in drivers) / len(drivers)
        calibrated = [p for p in probabilities if p is not None]
        even = breakeven(self.stop_pct, self.target_pct, calibration.fee_rate)
        effective = [
            float(d.conviction) if p is None else 10.0 * max(p - even, 0.0) / max(1.0 - even, 1e-12)
            for d, p in zip(drivers, probabilities, strict=True)
        ]
        conviction = sum(effective) / len(effective)
        numbers: dict[str, float] = {"conviction": float(round_half_up(reported))}
        if calibrated:
            p = sum(calibrated) / len(calibrated)
            numbers |= {
                "reported_conviction": reported,
                "win_probability": p,
                "breakeven": even,
                "edge": p - even,
                "calibrated_drivers": float(len(calibrated)),
            }
        raw_size = self.base_size * conviction / self.reference_conviction
        numbers |= {
            "mean_conviction": conviction,
            "base_size": self.base_size,
            "reference_conviction": self.reference_conviction,
            "raw_size": raw_size,
        }
        size = raw_size
        if self.kelly_fraction > 0:
            numbers["kelly_fraction"] = self.kelly_fraction
            kelly_applies = len(calibrated) == len(drivers) and calibration.measured_at(self.stop_pct, self.target_pct)
            numbers["kelly_applied"] = 1.0 if kelly_applies else 0.0
            if kelly_applies:
                p = numbers["win_probability"]
                cost = 2 * calibration.fee_rate * 100
                payoff = (self.target_pct - cost) / (self.stop_pct + cost)
                optimal = p - (1.0 - p) / payoff
                cap = self.kelly_fraction * max(optimal, 0.0)
                numbers |= {"payoff_ratio": payoff, "kelly_optimal": optimal, "kelly_cap": cap}
                size = min(size, cap)
        numbers["max_size"] = self.max_size
        size = round(max(min(size, self.max_size), 0.0), SIZE_DECIMALS)
        numbers["size"] = size
        return Sizing(size=size, conviction=round_half_up(reported), numbers=numbers)

    def trade(
        self, *, symbol: str, direction: Direction, entry: float, sizing: Sizing, rationale: str, strategy: str
    ) -> Trade:
        sign = 1 if direction == "long" else -1
        return Trade(
            symbol=symbol,
            direction=direction,
            size=sizing.size,
            entry=entry,
            stop=round(entry * (1 - sign * self.stop_pct / 100), 8),
            target=round(entry * (1 + sign * self.target_pct / 100), 8),
            rationale=rationale,
            strategy=strategy,
            conviction=sizing.conviction,
        )

    def candidate(
        self,
        *,
        strategy: str,
        symbol: str,
        direction: Direction,
        entry: float,
        sizing: Sizing,
        setup: str,
        rationale: str,
        candle_close: int,
        refs: tuple[SignalRef, ...] = (),
    ) -> Candidate:
        """What a strategy whose rule fired proposes: the sized trade, or why not when the sizing finds no edge.
        ``setup`` says what fired (the decision's reason); ``rationale`` explains the trade, and gets the size."""
        if not sizing.has_edge:
            key = ("no edge", self.target_pct, self.stop_pct)
            if (words := sizing.words.get(key)) is None:
                words = sizing.words[key] = self.no_edge_reason(sizing)
            return Candidate(
                symbol=symbol,
                taken=False,
                reason=f"{setup}, but {words}",
                direction=direction,
                signals=refs,
                sizing=sizing.numbers,
                candle_close=candle_close,
            )
        trade = self.trade(
            symbol=symbol,
            direction=direction,
            entry=entry,
            sizing=sizing,
            rationale=f"{rationale}; {self.describe(sizing)}",
            strategy=strategy,
        )
        return Candidate(
            symbol=symbol,
            taken=True,
            reason=setup,
            direction=direction,
            trade=trade,
            signals=refs,
            sizing=sizing.numbers,
            candle_close=candle_close,
        )

    def describe(self, sizing: Sizing) -> str:
        """The size in words for a rationale: ``conviction 7.0 → size 5.00%`` and what capped it."""
        numbers = sizing.numbers
        text = f"mean conviction {numbers['mean_conviction']:.1f}"
        if "win_probability" in numbers:
            text += f" (calibrated: win probability {numbers['win_probability']:.0%})"
        text += f" → size {sizing.size:.2%}"
        if numbers.get("kelly_applied") and numbers["kelly_cap"] < numbers["raw_size"]:
            text += f" (Kelly cap {numbers['kelly_cap']:.2%})"
        elif numbers["raw_size"] > self.max_size:
            text += f" (capped at {self.max_size:.0%})"
        return text

    def no_edge_reason(self, sizing: Sizing) -> str:
        numbers = sizing.numbers
        exits = f"exits {self.target_pct:g}/{self.stop_pct:g}"
        if "edge" in numbers and numbers["mean_conviction"] <= 0:
            return (
                f"no edge: win probability {numbers['win_probability']:.1%} ≤ breakeven "
                f"{numbers['breakeven']:.1%} at {exits}, fees included"
            )
        return f"no edge: Kelly f* {numbers.get('kelly_optimal', 0.0):+.3f} at {exits}"


def win_probability(calibration: Mapping[str, Mapping[int, float]], source: str, conviction: int) -> float | None:
    # Karma's calibration is its ``tables``: read them directly (``Mapping.get`` would go through a KeyError).
    table = calibration.tables.get(source) if type(calibration) is Calibration else calibration.get(source)
    if table is None:
        return None
    p = table.get(conviction)
    if p is None:
        return None
    if not 0.0 <= p <= 1.0:  # NaN fails this too
        raise ValueError(f"calibration[{source!r}][{conviction}] is {p!r}, not a probability")
    return float(p)


_SIZES: dict[tuple[object, ...], tuple[SizingRule, Sizing]] = {}


def signal_refs(signals: Iterable[Signal], calibration: Calibration) -> tuple[SignalRef, ...]:
    """The signals a decision looked at, each with its calibrated win probability when karma has one. A signal's
    ref is often cited alone, by several strategies: equal ones are one tuple (one less for the collector)."""
    tables = calibration.tables if type(calibration) is Calibration else calibration
    refs = []
    for s in signals:
        producer, conviction = s.producer, s.conviction
        table = tables.get(producer)
        p = None if table is None else table.get(conviction)
        if p is not None:
            p = win_probability(tables, producer, conviction)  # checked, as a float
        refs.append((producer, s.signal, conviction, p))
    if len(refs) != 1:
        return tuple(SignalRef(*ref) for ref in refs)
    key = refs[0]
    if (known := _REFS.get(key)) is None:
        known = (SignalRef(*key),)
        # Only exact keys: an int conviction (not 7.0), and no probability 0 (equal to −0.0, but not its bits).
        if type(key[2]) is int and key[3] != 0.0:
            if len(_REFS) >= _REFS_KEPT:
                _REFS.clear()
            _REFS[key] = known
    return known


_REFS: dict[tuple[str, str, int, float | None], tuple[SignalRef]] = {}
_REFS_KEPT = 4096


def signal_drivers(signals: Iterable[Signal]) -> list[Driver]:
    return [Driver(s.producer, s.conviction) for s in signals]


def round_half_up(value: float) -> int:
    """6.5 is 7 and 7.5 is 8 (``round`` would say 6 and 8: it rounds half to even)."""
    return math.floor(value + 0.5)
