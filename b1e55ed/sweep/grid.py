"""A sweep's grid: each parameter's values, from ``--grid NAME=SPEC`` or a YAML file, and the combinations the
strategy accepts.

A spec is a range ``START:STOP`` or ``START:STOP:STEP`` (inclusive of ``STOP`` when the steps land on it; step 1
by default), or a list ``A,B,C``. Whole numbers stay integers. A YAML file maps each name to a spec string, a
number or a list of numbers. Every name must be one of the strategy's params, and every value must convert to
its type; anything else is an error before any work starts. A combination the strategy's own validation refuses
(``fast`` ≥ ``slow``) is skipped and counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec
import yaml

Value = int | float


class GridError(ValueError):
    """A grid that cannot be swept; the message names the parameter or the spec."""


@dataclass(frozen=True)
class Combinations:
    params: list[Any]  # the strategy's ``Params`` for each accepted combination
    skipped: int  # refused by the strategy's validation
    names: tuple[str, ...]  # the swept parameters, in grid order


def parse_spec(name: str, spec: str) -> list[Value]:
    text = spec.strip()
    try:
        if ":" in text:
            parts = [Decimal(part) for part in text.split(":")]
            if len(parts) not in (2, 3):
                raise GridError(f"{name}={spec}: a range is START:STOP or START:STOP:STEP")
            start, stop, step = parts[0], parts[1], parts[2] if len(parts) == 3 else Decimal(1)
            if step <= 0 or stop < start:
                raise GridError(f"{name}={spec}: a range needs STOP ≥ START and a positive STEP")
            count = int((stop - start) / step) + 1
            values = [start + step * k for k in range(count)]
        else:
            values = [Decimal(part) for part in text.split(",") if part.strip()]
    except InvalidOperation:
        raise GridError(f"{name}={spec}: not numbers") from None
    if not values:
        raise GridError(f"{name}={spec}: no values")
    return [_number(value) for value in values]


def _number(value: Decimal) -> Value:
    return int(value) if value == value.to_integral_value() else float(value)


def load_grid(specs: Sequence[str], file: Path | None = None) -> dict[str, list[Value]]:
    """The grid from ``--grid`` specs, after the YAML ``file``'s (a spec given twice is an error)."""
    grid: dict[str, list[Value]] = {}
    if file is not None:
        try:
            raw = yaml.safe_load(file.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise GridError(f"{file}: {exc}") from None
        if not isinstance(raw, Mapping):
            raise GridError(f"{file}: expected a mapping of parameter names to specs")
        for name, spec in raw.items():
            values = spec if isinstance(spec, list) else [spec] if isinstance(spec, int | float) else None
            key = str(name)
            grid[key] = [_checked_number(file, key, v) for v in values] if values else parse_spec(key, str(spec))
    for item in specs:
        name, equals, spec = item.partition("=")
        if not equals or not name.strip():
            raise GridError(f"--grid {item!r}: expected NAME=START:STOP[:STEP] or NAME=A,B,C")
        if name.strip() in grid:
            raise GridError(f"--grid {name.strip()}: given twice")
        grid[name.strip()] = parse_spec(name.strip(), spec)
    if not grid:
        raise GridError("no grid: give --grid NAME=SPEC (or --grid-file)")
    return grid


def _checked_number(file: Path, name: str, value: object) -> Value:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise GridError(f"{file}: {name}: {value!r} is not a number")
    return value


def combinations(kind: type[msgspec.Struct], base: Mapping[str, Any], grid: Mapping[str, list[Value]]) -> Combinations:
    """Every combination of ``grid`` over the ``base`` params, as ``kind`` (the strategy's ``Params``)."""
    fields = set(kind.__struct_fields__)
    unknown = sorted(set(grid) - fields)
    if unknown:
        known = ", ".join(sorted(fields))
        raise GridError(f"unknown parameter {', '.join(unknown)}; the strategy's params are {known}")
    names = tuple(grid)
    for name in names:  # each value alone must have the param's type and bounds
        for value in grid[name]:
            try:
                msgspec.convert({**base, name: value}, kind)
            except msgspec.ValidationError as exc:
                if f"at `$.{name}`" in str(exc):  # its own type or bounds, not a rule between params
                    raise GridError(f"{name}={value}: {exc}") from None
    accepted, skipped = [], 0
    for values in itertools.product(*(grid[name] for name in names)):
        try:
            accepted.append(msgspec.convert({**base, **dict(zip(names, values, strict=True))}, kind))
        except (msgspec.ValidationError, ValueError):
            skipped += 1
    return Combinations(accepted, skipped, names)
