"""The one encoder and decoder of events. Deterministic bytes, so the same event always hashes the same."""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from b1e55ed.messages import AnyEvent, Event

_encoder = msgspec.json.Encoder(order="deterministic")
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


class Header(msgspec.Struct, frozen=True):
    """The two fields every payload carries; decoding only these is what makes ``verify`` fast."""

    ts: int
    kind: str


_header_decoder = msgspec.json.Decoder(Header)


# The codec's own methods, not wrappers: every event passes through both at least once (chain.extend).
encode: Callable[[Event], bytes] = _encoder.encode
decode: Callable[[bytes], AnyEvent] = _decoder.decode
decode_header: Callable[[bytes], Header] = _header_decoder.decode


class _Kinds(dict[type[Event], str]):
    """Each event class's tag, read from the class the first time it is looked up."""

    def __missing__(self, cls: type[Event]) -> str:
        tag = cls.__struct_config__.tag
        assert isinstance(tag, str), f"{cls.__name__} is not a tagged event"
        self[cls] = tag
        return tag


KINDS = _Kinds()
"""``KINDS[type(event)]`` is ``kind_of(event)`` without a call: for loops over many events."""


def kind_of(event: Event) -> str:
    return KINDS[type(event)]
