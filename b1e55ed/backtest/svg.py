"""Line and area charts as inline SVG text: no script, no font file, nothing fetched, so a report works offline.

Inline SVG in HTML5 needs no namespace declaration, and none is written (the report holds no URL at all).
Colours come from CSS classes, which the report's stylesheet sets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import NamedTuple

WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 12, 28


class Series(NamedTuple):
    label: str
    values: Sequence[float]
    css_class: str
    area: bool = False  # filled down to zero (a drawdown)


def chart(
    times: Sequence[int],
    series: Sequence[Series],
    *,
    label: str,
    fmt: Callable[[float], str],
    marks: Sequence[tuple[int, str]] = (),
) -> str:
    """One chart of ``series`` against ``times`` (ms, UTC), with a horizontal grid, a dated x axis, and a dashed
    vertical line at each of ``marks`` (time, text), such as a kill-switch halt."""
    if not times:
        return f'<p class="empty">{escape(label)}: no settled cycle</p>'
    values = [v for s in series for v in s.values if math.isfinite(v)]
    if any(s.area for s in series):
        values.append(0.0)
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    ticks = axis_ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    t0, t1 = times[0], max(times[-1], times[0] + 1)

    def x(t: int) -> float:
        return LEFT + (t - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT)

    def y(v: float) -> float:
        return TOP + (high - v) / (high - low) * (HEIGHT - TOP - BOTTOM)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}">']
    for tick in ticks:
        parts.append(f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>')
        parts.append(f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{fmt(tick)}</text>')
    stamps = _time_ticks(t0, t1)
    for index, t in enumerate(stamps):
        day = datetime.fromtimestamp(t / 1000, UTC).strftime("%Y-%m-%d")
        anchor = "start" if index == 0 else "end" if index == len(stamps) - 1 else "middle"
        parts.append(f'<text class="axis" x="{x(t):.1f}" y="{HEIGHT - 8}" text-anchor="{anchor}">{day}</text>')
    for s in series:
        points = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, s.values, strict=True) if math.isfinite(v))
        if s.area:
            base = f"{x(times[0]):.1f},{y(0):.1f}"
            parts.append(f'<polygon class="{s.css_class}" points="{base} {points} {x(times[-1]):.1f},{y(0):.1f}"/>')
        else:
            parts.append(f'<polyline class="{s.css_class}" fill="none" points="{points}"/>')
    for t, text in marks:
        if t0 <= t <= t1:
            parts.append(f'<line class="mark" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}"/>')
            parts.append(f'<text class="mark" x="{x(t) + 4:.1f}" y="{TOP + 12}">{escape(text)}</text>')
    parts.append("</svg>")
    legend = "".join(f'<span class="key {s.css_class}">{escape(s.label)}</span>' for s in series)
    return f"<figure>{''.join(parts)}<figcaption>{legend}</figcaption></figure>"


def axis_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round values spanning [low, high]: steps of 1, 2 or 5 times a power of ten."""
    if not high > low:
        low, high = low - 1.0, high + 1.0
    raw = (high - low) / (count - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step + 1e-9) * step
    count = math.ceil((high - first) / step - 1e-9)
    return [round(first + i * step, 12) + 0.0 for i in range(count + 1)]  # + 0.0: no "-0"


def _time_ticks(t0: int, t1: int, count: int = 6) -> list[int]:
    return [round(t0 + (t1 - t0) * i / (count - 1)) for i in range(count)]
