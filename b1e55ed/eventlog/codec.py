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


_kinds: dict[type[Event], str] = {}


def kind_of(event: Event) -> str:
    try:
        return _kinds[type(event)]
    except KeyError:
        tag = type(event).__struct_config__.tag
        assert isinstance(tag, str), f"{type(event).__name__} is not a tagged event"
        _kinds[type(event)] = tag
        return tag
