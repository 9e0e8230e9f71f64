"""The hash chain: ``hash = sha256(prev_hash || seq as 8 bytes big-endian || payload)`` over the stored bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import msgspec

from b1e55ed.errors import Fault
from b1e55ed.eventlog import codec
from b1e55ed.messages import AnyEvent, Event

GENESIS = bytes(32)


class Record(msgspec.Struct, frozen=True, gc=False):
    """One row of ``events``: exactly what is stored and hashed. Untracked by the cycle collector: it holds only
    numbers, a string and bytes, so it can be part of no reference cycle."""

    seq: int
    ts: int
    kind: str
    payload: bytes
    prev_hash: bytes
    hash: bytes

    def event(self) -> AnyEvent:
        return codec.decode(self.payload)


class ChainHead(msgspec.Struct, frozen=True):
    seq: int
    hash: bytes


EMPTY_HEAD = ChainHead(seq=0, hash=GENESIS)


class ChainBroken(Fault):
    """The log was altered: ``seq`` is the first record that does not follow from the one before."""

    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(f"chain broken at seq {seq}: {reason}")
        self.seq = seq
        self.reason = reason


class Verified(msgspec.Struct, frozen=True):
    count: int
    head: ChainHead


def link(prev_hash: bytes, seq: int, payload: bytes) -> bytes:
    return hashlib.sha256(prev_hash + seq.to_bytes(8, "big") + payload).digest()


class Unstorable(ValueError):
    """An event whose encoding would not decode back to it (NaN or infinity in a float field, say)."""


_UNENCODABLE = (msgspec.EncodeError, msgspec.ValidationError, TypeError)


def extend(head: ChainHead, events: Sequence[Event]) -> list[Record]:
    """Encode ``events`` once and chain them after ``head``. Every payload must decode back to its event."""
    records = []
    prev, seq = head.hash, head.seq
    encode, decode, kinds, kind_of, sha256 = codec.encode, codec.decode, codec.KINDS, codec.kind_of, hashlib.sha256
    for event in events:
        seq += 1
        try:
            payload = encode(event)
            round_trip = decode(payload)
        except _UNENCODABLE as exc:
            raise Unstorable(f"{kind_of(event)} event cannot be stored: {exc}") from None
        if round_trip != event:
            raise Unstorable(f"{kind_of(event)} event does not survive encoding: {event!r}")
        digest = sha256(prev + seq.to_bytes(8, "big") + payload).digest()  # link(), inline: once per event
        records.append(Record(seq, event.ts, kinds[type(event)], payload, prev, digest))
        prev = digest
    return records


Row = tuple[int, int, str, bytes, bytes, bytes]


def verify_rows(rows: Iterable[Row]) -> Verified:
    """Walk ``(seq, ts, kind, payload, prev_hash, hash)`` rows in order; raise ``ChainBroken`` at the first bad one."""
    sha256 = hashlib.sha256
    decode_header = codec.decode_header
    prev, expected_seq = GENESIS, 1
    for seq, ts, kind, payload, prev_hash, digest in rows:
        if seq != expected_seq:
            raise ChainBroken(expected_seq, f"missing; the next stored seq is {seq}")
        if prev_hash != prev:
            raise ChainBroken(seq, "prev_hash does not match the previous record's hash")
        if sha256(prev + seq.to_bytes(8, "big") + payload).digest() != digest:
            raise ChainBroken(seq, "hash does not match the payload")
        try:
            header = decode_header(payload)
        except msgspec.DecodeError as exc:
            raise ChainBroken(seq, f"payload is not a valid event: {exc}") from None
        if header.ts != ts or header.kind != kind:
            raise ChainBroken(seq, f"columns (ts={ts}, kind={kind}) disagree with the payload")
        prev, expected_seq = digest, seq + 1
    return Verified(count=expected_seq - 1, head=ChainHead(seq=expected_seq - 1, hash=prev))
