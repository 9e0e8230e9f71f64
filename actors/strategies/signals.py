"""A batch's directional signals, gathered once for every strategy that reads them.

Confluence reads every long and short signal of a cycle by symbol; momentum and combined read one producer's.
Each decision cites the signals it looked at, with their calibrated win probability (``sizing.signal_refs``), and
the same signal is cited by several strategies. So a batch's directional signals are gathered in one pass, each
one's ref made once, and every strategy of a replay (they receive the same batch: one tuple) reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from actors.strategies.batch import PerBatch
from actors.strategies.sizing import signal_refs
from b1e55ed.cycle import EnrichedCycle
from b1e55ed.karma.calibration import Calibration
from b1e55ed.messages import Signal, SignalRef


class BatchSignals:
    """Each cycle's long and short signals by symbol (in the cycle's order), and the ref of each. A cycle's
    mappings are read-only: the cycles without any share one."""

    __slots__ = ("_by_producer", "_directional", "_refs", "by_symbol")

    def __init__(self, cycles: Sequence[EnrichedCycle]) -> None:
        self.by_symbol: list[Mapping[str, list[Signal]]] = [_NONE] * len(cycles)
        # Each cycle's refs, by the signal's id (a signal lives as long as its batch; one may be in two cycles).
        self._refs: list[Mapping[int, tuple[SignalRef, ...]]] = [_NONE] * len(cycles)
        self._by_producer: dict[str, list[Mapping[str, Signal]]] = {}
        directional = [(i, s) for i, cycle in enumerate(cycles) for s in cycle.signals if s.signal != "neutral"]
        found: dict[str, list[Signal]] = {}
        refs: dict[int, tuple[SignalRef, ...]] = {}
        at = -1
        calibration: Calibration | None = None
        known: dict[tuple[str, str, int], tuple[SignalRef, ...]] = {}  # refs under ``calibration``, by int conviction
        for index, signal in directional:
            if index != at:
                at, found, refs = index, {}, {}
                self.by_symbol[index], self._refs[index] = found, refs
                if cycles[index].calibration is not calibration:  # consecutive cycles often share one
                    calibration, known = cycles[index].calibration, {}
            if (same := found.get(signal.symbol)) is None:
                found[signal.symbol] = [signal]
            else:
                same.append(signal)
            key = (signal.producer, signal.signal, signal.conviction)
            if (ref := known.get(key)) is None:
                ref = signal_refs((signal,), cycles[index].calibration)
                if type(signal.conviction) is int:  # 7.0 is an equal key, but not the same ref
                    known[key] = ref
            refs[id(signal)] = ref
        self._directional: list[tuple[int, Signal]] = directional

    def refs(self, index: int, signals: Sequence[Signal]) -> tuple[SignalRef, ...]:
        """What ``signal_refs(signals, calibration)`` gives for directional signals of the batch's cycle
        ``index``, under its calibration."""
        refs = self._refs[index]
        if len(signals) == 1:
            return refs[id(signals[0])]
        return tuple(refs[id(signal)][0] for signal in signals)

    def of_producer(self, producer: str) -> list[Mapping[str, Signal]]:
        """Each cycle's long or short signal from ``producer``, by symbol (the last, should it say two)."""
        found = self._by_producer.get(producer)
        if found is None:
            found = self._by_producer[producer] = [_NONE] * len(self.by_symbol)
            mine: dict[str, Signal] = {}
            at = -1
            for index, signal in self._directional:
                if signal.producer == producer:
                    if index != at:
                        at, mine = index, {}
                        found[index] = mine
                    mine[signal.symbol] = signal
        return found


_NONE: Mapping[Any, Any] = MappingProxyType({})


batch_signals = PerBatch(BatchSignals)
"""The directional signals of a batch of cycles."""
