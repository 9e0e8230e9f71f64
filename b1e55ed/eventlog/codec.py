"""The one encoder and decoder of events. Deterministic bytes, so the same event always hashes the same."""

from __future__ import annotations

import msgspec

from b1e55ed.messages import AnyEvent, Event

_encoder = msgspec.json.Encoder(order="deterministic")
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


class Header(msgspec.Struct, frozen=True):
    """The two fields every payload carries; decoding only these is what makes ``verify`` fast."""

    ts: int
    kind: str


_header_decoder = msgspec.json.Decoder(Header)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(payload: bytes) -> AnyEvent:
    return _decoder.decode(payload)


def decode_header(payload: bytes) -> Header:
    return _header_decoder.decode(payload)


def kind_of(event: Event) -> str:
    tag = type(event).__struct_config__.tag
    assert isinstance(tag, str), f"{type(event).__name__} is not a tagged event"
    return tag
