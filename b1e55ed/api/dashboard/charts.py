"""The equity curve and karma's reliability diagrams as inline SVG, computed on the server: no chart library
reaches the browser."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 600.0
HEIGHT = 150.0
PAD = 6.0


@dataclass(frozen=True)
class EquityChart:
    """Paths in a ``0 0 WIDTH HEIGHT`` viewBox, plus the figures printed around the chart."""

    line: str
    area: str
    baseline_y: float
    first: float
    last: float
    low: float
    high: float
    points: int
    start_ms: int
    end_ms: int

    @property
    def change(self) -> float:
        return self.last - self.first

    @property
    def change_pct(self) -> float | None:
        return (self.last / self.first - 1.0) * 100.0 if self.first else None


def equity_chart(curve: Sequence[Mapping[str, Any]], *, baseline: float | None = None) -> EquityChart | None:
    """Scale ``curve`` (``ts``, ``equity``; oldest first) to the viewBox; None when there is nothing to draw.

    ``baseline`` (the starting equity) is drawn as a dashed rule when it falls inside the range.
    """
    values = [float(point["equity"]) for point in curve]
    if not values:
        return None
    first_value = baseline if baseline is not None else values[0]
    low = min([*values, first_value])
    high = max([*values, first_value])
    floor, spread = low, high - low
    if spread == 0:  # a flat curve sits mid-chart, not on the floor
        spread = max(abs(high) * 0.002, 2.0)
        floor = low - spread / 2
    step = (WIDTH - 2 * PAD) / max(len(values) - 1, 1)

    def y(value: float) -> float:
        return round(HEIGHT - PAD - (value - floor) / spread * (HEIGHT - 2 * PAD), 2)

    xs = [round(PAD + i * step, 2) for i in range(len(values))]
    if len(values) == 1:
        xs = [PAD, WIDTH - PAD]
        values = values * 2
    coords = " ".join(f"{x},{y(v)}" for x, v in zip(xs, values, strict=True))
    line = f"M{coords}"
    area = f"M{xs[0]},{HEIGHT - PAD} L{coords} L{xs[-1]},{HEIGHT - PAD} Z"
    return EquityChart(
        line=line,
        area=area,
        baseline_y=y(first_value),
        first=first_value,
        last=values[-1],
        low=low,
        high=high,
        points=len(curve),
        start_ms=int(curve[0]["ts"]),
        end_ms=int(curve[-1]["ts"]),
    )


@dataclass(frozen=True)
class ReliabilityPoint:
    """One bin of a reliability diagram in a ``0 0 100 100`` viewBox: predicted across, observed up."""

    x: float
    y: float
    r: float
    predicted: float
    observed: float
    count: float


def reliability_points(bins: Sequence[Mapping[str, Any]]) -> list[ReliabilityPoint]:
    """The bins that hold outcomes, each a dot whose area grows with its effective count."""
    filled = [b for b in bins if b["predicted"] is not None and b["observed"] is not None and b["count"] > 0]
    largest = max((float(b["count"]) for b in filled), default=1.0)
    return [
        ReliabilityPoint(
            x=round(float(b["predicted"]) * 100, 2),
            y=round(100 - float(b["observed"]) * 100, 2),
            r=round(1.5 + 4.5 * (float(b["count"]) / largest) ** 0.5, 2),
            predicted=float(b["predicted"]),
            observed=float(b["observed"]),
            count=float(b["count"]),
        )
        for b in filled
    ]
