"""Funding producer: perpetual funding-rate extremes, read as a contrarian signal.

Funding is what one side of a perpetual pays the other to keep it near spot. When shorts pay (the rate is negative)
the crowd is short and a squeeze is the likelier surprise: long. When longs pay unusually much, the crowd is
over-levered long: short. "Unusually" is measured against the symbol's own recent past, since a normal rate
differs by venue and era: the latest rate's z-score against the ``lookback`` rates before it (their mean and
population standard deviation; the latest is left out so an extreme does not dilute itself).

Rules:
- z <= -``z_threshold`` and the rate is negative (shorts really pay) is long; z >= ``z_threshold`` and the rate is
  positive is short. A fall from +0.10% to +0.01% is a cooling, not shorts paying: neutral.
- Conviction is 5 at the threshold and grows by one per 0.5 σ past it, capped at 10: with the default threshold
  2.0, z -2.4 is 5, z -3.0 is 7, z -4.5 is 10. z is rounded to 4 decimals, as recorded, before it is judged.
- The standard deviation has a floor, ``min_std`` per 8 h (scaled to the series' own interval): long calm
  stretches pin Binance's rate at exactly 0.0100%, and a std near zero would turn a 0.0005% wobble into z = 10.
- ``lookback`` counts settlements, not time: 90 is 30 days of Binance's 8 h rates but under 4 days of Hyperliquid's
  hourly ones (use 720 there for 30 days; ``LiveFunding`` keeps 31 days).
- "No data" (None): no funding source, fewer than ``min_history`` earlier rates, or a latest rate older than
  ``max_age_hours`` (the data ended; a stale rate is not today's crowd).

Sources: ``setup.services.funding``, the collected or replayed history the pipeline loads (``--funding PATH`` or
``data/funding``). Without it, and with ``services.info`` outside an offline replay, the producer keeps its own
``LiveFunding`` of Hyperliquid's hourly settlements, which ``refresh`` brings up to date before each cycle (a
source the pipeline built with a ``refresh`` of its own is refreshed the same way). It never reads the clock:
every answer is as of the cycle's ``as_of``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, NamedTuple, Protocol, runtime_checkable

import msgspec
import numpy as np
from msgspec.structs import replace

from b1e55ed.market.bars import BarsView
from b1e55ed.market.funding import FundingRates, FundingSeries, LiveFunding
from b1e55ed.market.windows import rows
from b1e55ed.messages import Direction, Signal
from b1e55ed.plugins import PluginSetup

DECIMALS = 4
HOUR_MS = 3_600_000
_Positive = Annotated[float, msgspec.Meta(gt=0)]
EIGHT_HOURS_MS = 8 * HOUR_MS
DISABLED = "disabled: no funding data"
_EPSILON = 1e-9  # whole conviction steps, robust to the float error of the division


class _Reading(NamedTuple):
    """What a window of rates says, whatever the cycle's time: the numbers a signal is made from."""

    latest_ts: int
    rate: float
    mean: float
    std: float
    z: float
    n: int
    interval_ms: int


@runtime_checkable
class RefreshableFunding(FundingRates, Protocol):
    """A funding source that fetches new rates before a cycle (``LiveFunding``)."""

    async def refresh(self, symbols: Sequence[str], now_ms: int) -> None: ...


class FundingProducer:
    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        lookback: Annotated[int, msgspec.Meta(ge=2)] = 90
        z_threshold: _Positive = 2.0
        min_history: Annotated[int, msgspec.Meta(ge=2)] = 30
        min_std: _Positive = 0.00002
        max_age_hours: _Positive = 24.0

        def __post_init__(self) -> None:
            if self.min_history > self.lookback:
                raise ValueError(f"`min_history` ({self.min_history}) must not exceed lookback ({self.lookback})")

    def __init__(self, setup: PluginSetup) -> None:
        self.name = setup.name
        params = setup.params_as(self.Params)
        self.lookback, self.z_threshold, self.min_history = params.lookback, params.z_threshold, params.min_history
        self.min_std_8h = params.min_std
        self.max_age_ms = round(params.max_age_hours * HOUR_MS)
        services = setup.services
        self.source: FundingRates | None = services.funding
        if self.source is None and services.info is not None and not services.offline:
            self.source = LiveFunding(services.info, history_ms=max(31 * 24, self.lookback + 2) * HOUR_MS)
        self._offline = services.offline

    def availability(self) -> str | None:
        return None if self.source is not None else DISABLED

    async def refresh(self, symbols: Sequence[str], as_of: int) -> None:
        """Bring a live source up to ``as_of``; history loaded from files needs nothing."""
        if isinstance(self.source, RefreshableFunding) and not self._offline:
            await self.source.refresh(symbols, as_of)

    def produce(self, symbol: str, bars: BarsView, as_of: int) -> Signal | None:
        if self.source is None:
            return None
        reading = self.reading(self.source.rates(symbol, as_of))
        return None if reading is None else self.signal(symbol, reading, as_of)

    def produce_batch(self, symbol: str, windows: Sequence[BarsView], as_ofs: Sequence[int]) -> list[Signal | None]:
        """``produce`` for each cycle. Funding settles every few hours, so consecutive hourly cycles mostly see the
        same rates: each distinct set (the same latest settlement, as many before it) is read once, and full
        windows of rates are read together."""
        if self.source is None:
            return [None] * len(as_ofs)
        keys, distinct = self._rates_by_cycle(self.source, symbol, as_ofs)
        readings = dict(zip(distinct, self.readings(list(distinct.values())), strict=True))
        made: dict[int, Signal] = {}  # a reading's signal differs from cycle to cycle only in its timestamp
        found: list[Signal | None] = []
        for key, as_of in zip(keys, as_ofs, strict=True):
            reading, earlier = readings[key], made.get(key)
            if reading is None or as_of - reading.latest_ts > self.max_age_ms:
                found.append(None)
            elif earlier is not None:
                found.append(replace(earlier, timestamp=as_of // 1000))
            else:
                found.append(made.setdefault(key, self._signal(symbol, reading, as_of)))
        return found

    @staticmethod
    def _rates_by_cycle(
        source: FundingRates, symbol: str, as_ofs: Sequence[int]
    ) -> tuple[list[int], dict[int, Sequence[tuple[int, float]]]]:
        """How many rates each cycle sees, and the rates seen, by that count. A cycle sees every settlement at or
        before its as-of time: a prefix of what the batch's last cycle sees, so the count tells the rates apart,
        and a ``FundingSeries`` is cut for every cycle by one search."""
        latest = source.rates(symbol, max(as_ofs))
        if isinstance(latest, FundingSeries):
            stops: list[int] = latest.ts.searchsorted(np.asarray(as_ofs, dtype=np.int64), side="right").tolist()
            return stops, {stop: latest[:stop] for stop in dict.fromkeys(stops)}
        seen = [source.rates(symbol, as_of) for as_of in as_ofs]
        return [len(rates) for rates in seen], {len(rates): rates for rates in seen}

    def reading(self, rates: Sequence[tuple[int, float]]) -> _Reading | None:
        """The latest rate against the ones before it; None with too few."""
        window = self._window(rates)
        if window is None:
            return None
        if isinstance(window, FundingSeries):  # the same numbers, without a tuple per rate
            ts, values = window.ts, window.rate
        else:
            ts = np.fromiter((t for t, _ in window), dtype=np.int64, count=len(window))
            values = np.fromiter((r for _, r in window), dtype=np.float64, count=len(window))
        interval_ms = int(np.median(np.diff(ts)))
        history = values[:-1]
        mean, std = float(history.mean()), float(history.std())
        return self._judged(int(ts[-1]), float(values[-1]), mean, std, len(history), interval_ms)

    def readings(self, many: Sequence[Sequence[tuple[int, float]]]) -> list[_Reading | None]:
        """``reading`` of each. Full windows of a ``FundingSeries`` are the rows of one array, summed along each
        row as ``reading`` sums a window; the others are read one by one."""
        found: list[_Reading | None] = []
        full: list[tuple[int, FundingSeries]] = []
        for rates in many:
            window = self._window(rates)
            if isinstance(window, FundingSeries) and len(window) == self.lookback + 1:
                full.append((len(found), window))
                found.append(None)
            else:
                found.append(self.reading(rates))
        if not full:
            return found
        ts, values = rows([w.ts for _, w in full]), rows([w.rate for _, w in full])
        history = values[:, :-1]
        columns = (
            ts[:, -1].tolist(),
            values[:, -1].tolist(),
            np.mean(history, axis=-1).tolist(),
            np.std(history, axis=-1).tolist(),
            np.median(np.diff(ts, axis=-1), axis=-1).tolist(),
        )
        for (index, _), (latest_ts, rate, mean, std, interval) in zip(full, zip(*columns, strict=True), strict=True):
            found[index] = self._judged(latest_ts, rate, mean, std, self.lookback, int(interval))
        return found

    def _window(self, rates: Sequence[tuple[int, float]]) -> Sequence[tuple[int, float]] | None:
        """The latest rate and the ``lookback`` before it, or None with fewer than ``min_history`` before it."""
        window = rates[max(0, len(rates) - self.lookback - 1) :]
        return window if len(window) >= self.min_history + 1 else None

    def _judged(self, latest_ts: int, rate: float, mean: float, std: float, n: int, interval_ms: int) -> _Reading:
        """The reading from a window's numbers: the standard deviation floored, and the z-score."""
        floor = self.min_std_8h * interval_ms / EIGHT_HOURS_MS
        std = max(std, floor)
        z = round((rate - mean) / std, DECIMALS)
        return _Reading(latest_ts, rate, mean, std, z, n, interval_ms)

    def signal(self, symbol: str, reading: _Reading, as_of: int) -> Signal | None:
        """The signal for ``reading`` as of ``as_of``; None when its latest rate is too old."""
        return None if as_of - reading.latest_ts > self.max_age_ms else self._signal(symbol, reading, as_of)

    def _signal(self, symbol: str, reading: _Reading, as_of: int) -> Signal:
        latest_ts, rate, mean, std, z, n, interval_ms = reading
        per = _interval_label(interval_ms)
        metadata = {
            "rate": rate,
            "mean": mean,
            "std": std,
            "z": z,
            "n": n,
            "interval_hours": interval_ms / HOUR_MS,
            "rate_ts": latest_ts,
        }
        quote = f"{symbol} funding {rate * 100:+.4f}%/{per} (z {z:+.1f} vs {n})"
        direction: Direction
        if z <= -self.z_threshold and rate < 0:
            direction, crowd = "long", "shorts paying"
        elif z >= self.z_threshold and rate > 0:
            direction, crowd = "short", "longs paying"
        else:
            payer = "shorts paying" if rate < 0 else "longs paying" if rate > 0 else "nobody paying"
            why = f"within ±{self.z_threshold:g} σ" if abs(z) < self.z_threshold else "extreme, but on the other side"
            return Signal(
                symbol=symbol,
                signal="neutral",
                conviction=1,
                rationale=f"{quote}: {payer}, {why}",
                producer=self.name,
                timestamp=as_of // 1000,
                metadata=metadata,
            )
        conviction = min(10, 5 + math.floor((abs(z) - self.z_threshold) / 0.5 + _EPSILON))
        return Signal(
            symbol=symbol,
            signal=direction,
            conviction=conviction,
            rationale=f"{quote}: {crowd}, contrarian {direction}",
            producer=self.name,
            timestamp=as_of // 1000,
            metadata=metadata,
        )


def _interval_label(interval_ms: int) -> str:
    hours = interval_ms / HOUR_MS
    return f"{hours:g}h" if hours >= 1 else f"{interval_ms // 60_000}m"
