"""Order ids: a decision's idempotency key, and the ids of the orders derived from it."""

from __future__ import annotations

import hashlib


def decision_id(strategy: str, symbol: str, direction: str | None, candle_close: int) -> str:
    """The idempotency key: a Hyperliquid cloid (16 bytes, hex) from what the decision was about.

    The same strategy deciding the same direction on the same latest candle is the same decision, however often
    it is evaluated: across retries, restarts and manual scans.
    """
    key = f"{strategy}|{symbol}|{direction or 'none'}|{candle_close}".encode()
    return "0x" + hashlib.sha256(key).digest()[:16].hex()


def child_id(parent: str, role: str) -> str:
    """A stop's or target's cloid, derived from its entry order's."""
    return "0x" + hashlib.sha256(f"{parent}|{role}".encode()).digest()[:16].hex()
