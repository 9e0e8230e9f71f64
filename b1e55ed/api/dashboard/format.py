"""Jinja filters: how the dashboard writes numbers and times. Missing values render as an em dash, never "None"."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

MISSING = "—"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def price(value: Any) -> str:
    """A price with the decimals its size calls for: 97,412.50, 3.4210, 0.0012345."""
    number = _number(value)
    if number is None:
        return MISSING
    magnitude = abs(number)
    if magnitude >= 1000:
        return f"{number:,.2f}"
    if magnitude >= 1:
        return f"{number:,.4f}"
    return f"{number:.6g}"


def money(value: Any) -> str:
    """Signed dollars: +1,234.56 or -12.00."""
    number = _number(value)
    return MISSING if number is None else f"{number:+,.2f}"


def usd(value: Any) -> str:
    number = _number(value)
    return MISSING if number is None else f"{number:,.2f}"


def pct(value: Any, digits: int = 2) -> str:
    """A signed percentage of a value already in percent: +1.25%."""
    number = _number(value)
    return MISSING if number is None else f"{number:+.{digits}f}%"


def share(value: Any) -> str:
    """A fraction in [0, 1] as a percentage: 0.55 → 55.0%."""
    number = _number(value)
    return MISSING if number is None else f"{number * 100:.1f}%"


def fixed(value: Any, digits: int = 2) -> str:
    number = _number(value)
    return MISSING if number is None else f"{number:,.{digits}f}"


def qty(value: Any) -> str:
    """A position or order size, up to six significant digits."""
    number = _number(value)
    return MISSING if number is None else f"{number:.6g}"


def sign(value: Any) -> str:
    """The CSS class for a value's direction: up, down, or muted for zero and missing."""
    number = _number(value)
    if number is None or number == 0:
        return "muted"
    return "up" if number > 0 else "down"


def utc(ms: Any) -> str:
    """Milliseconds since the epoch as ``2026-11-27 09:37:29``, in UTC."""
    number = _number(ms)
    if number is None:
        return MISSING
    return dt.datetime.fromtimestamp(number / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def hms(ms: Any) -> str:
    number = _number(ms)
    if number is None:
        return MISSING
    return dt.datetime.fromtimestamp(number / 1000, tz=dt.UTC).strftime("%H:%M:%S")


def unix(seconds: Any) -> str:
    """Unix seconds (a signal's ``timestamp``) as ``11-27 09:00``, in UTC."""
    number = _number(seconds)
    if number is None:
        return MISSING
    return dt.datetime.fromtimestamp(number, tz=dt.UTC).strftime("%m-%d %H:%M")


def span(ms: Any) -> str:
    """A duration in milliseconds, coarsely: 850 ms, 42 s, 7 min, 3 h, 2 d."""
    number = _number(ms)
    if number is None:
        return MISSING
    seconds = abs(number) / 1000
    if seconds < 1:
        return f"{abs(number):.0f} ms"
    for limit, unit, size in ((60, "s", 1), (3600, "min", 60), (86400, "h", 3600)):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


def label(value: Any) -> str:
    """An identifier as words: ``max_position`` → ``max position``."""
    return MISSING if value is None else str(value).replace("_", " ")


FILTERS: dict[str, Callable[..., str]] = {
    "price": price,
    "money": money,
    "usd": usd,
    "pct": pct,
    "share": share,
    "fixed": fixed,
    "qty": qty,
    "sign": sign,
    "utc": utc,
    "hms": hms,
    "unix": unix,
    "span": span,
    "label": label,
}
