"""Hypothesis strategies for the event types, derived from their msgspec types, so a new field is covered at once."""

from __future__ import annotations

import typing
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

from b1e55ed.messages import AnyEvent, Event

EVENT_TYPES: tuple[type[Event], ...] = typing.get_args(AnyEvent)
_INT64 = 2**63 - 1
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-_INT64, _INT64) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
"""Any JSON value: what a ``dict[str, Any]`` field such as a signal's metadata may hold."""


def for_type(info: mi.Type) -> st.SearchStrategy[Any]:
    """Values msgspec accepts for ``info`` (finite floats only: the log refuses NaN and infinity)."""
    match info:
        case mi.BoolType():
            return st.booleans()
        case mi.IntType():
            low = info.ge if info.ge is not None else (info.gt + 1 if info.gt is not None else -_INT64)
            high = info.le if info.le is not None else (info.lt - 1 if info.lt is not None else _INT64)
            return st.integers(low, high)
        case mi.FloatType():
            return st.floats(
                min_value=info.ge if info.ge is not None else info.gt,
                max_value=info.le if info.le is not None else info.lt,
                exclude_min=info.gt is not None,
                exclude_max=info.lt is not None,
                allow_nan=False,
                allow_infinity=False,
            )
        case mi.StrType():
            return st.text(min_size=info.min_length or 0, max_size=20)
        case mi.NoneType():
            return st.none()
        case mi.LiteralType():
            return st.sampled_from(info.values)
        case mi.UnionType():
            return st.one_of(*(for_type(member) for member in info.types))
        case mi.ListType() | mi.VarTupleType():
            items = st.lists(for_type(info.item_type), max_size=3)
            return items if isinstance(info, mi.ListType) else items.map(tuple)
        case mi.DictType():
            return st.dictionaries(for_type(info.key_type), for_type(info.value_type), max_size=3)
        case mi.AnyType():
            return JSON
        case mi.StructType():
            fields = {field.name: for_type(field.type) for field in info.fields}
            return st.fixed_dictionaries(fields).map(lambda values: info.cls(**values))
    raise NotImplementedError(f"no strategy for {info!r}: teach tests/properties.py this type")


def events_of(kind: type[Event]) -> st.SearchStrategy[Event]:
    strategy: st.SearchStrategy[Event] = for_type(mi.type_info(kind))
    return strategy


def any_event() -> st.SearchStrategy[Event]:
    return st.sampled_from(EVENT_TYPES).flatmap(events_of)
