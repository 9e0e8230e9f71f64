"""Signed ``/exchange`` payloads, built with the Hyperliquid SDK's own helpers and sent by us (httpx, in trio).

The SDK builds the order wire (``order_request_to_order_wire``: prices and sizes as its canonical decimal strings,
``c`` the cloid), the action (``order_wires_to_order_action``) and the signature (``sign_l1_action``: msgpack of the
action, the nonce, the vault flag, keccak, an EIP-712 "Agent" message). We pass ``is_mainnet`` explicitly: the SDK
would infer it from the URL, which is wrong behind a mock or a proxy. With ``coincurve`` installed, eth_keys signs
in well under a millisecond.

The key may be an API wallet's (an agent): it signs, while ``/info`` queries name the trading account.
"""

from __future__ import annotations

import time
from typing import Any, Literal

from eth_account import Account
from hyperliquid.utils.signing import (
    order_request_to_order_wire,
    order_wires_to_order_action,
    sign_l1_action,
)
from hyperliquid.utils.types import Cloid

Tpsl = Literal["tp", "sl"]
Action = dict[str, Any]
EXCHANGE_BATCH_WEIGHT_STEP = 40  # an action weighs 1 + floor(batch length / 40)


def order_wire(
    *,
    asset: int,
    is_buy: bool,
    size: float,
    limit_price: float,
    reduce_only: bool,
    cloid: str,
    tif: Literal["Ioc", "Gtc", "Alo"] = "Ioc",
    trigger: tuple[float, Tpsl] | None = None,
) -> dict[str, Any]:
    """One order as Hyperliquid's wire wants it. ``trigger`` = (trigger price, "tp"|"sl") makes it a market
    trigger order (a stop or a take-profit), ``limit_price`` then being its worst acceptable execution price."""
    order_type: dict[str, Any]
    if trigger is None:
        order_type = {"limit": {"tif": tif}}
    else:
        order_type = {"trigger": {"triggerPx": trigger[0], "isMarket": True, "tpsl": trigger[1]}}
    request = {
        "coin": "",  # the wire names the asset by index; the SDK's request type still wants a coin
        "is_buy": is_buy,
        "sz": size,
        "limit_px": limit_price,
        "order_type": order_type,
        "reduce_only": reduce_only,
        "cloid": Cloid.from_str(cloid),
    }
    wire: dict[str, Any] = order_request_to_order_wire(request, asset)
    return wire


Grouping = Literal["na", "normalTpsl", "positionTpsl"]


def order_action(wires: list[dict[str, Any]], grouping: Grouping = "na") -> Action:
    """``positionTpsl``: take-profit/stop-loss orders tied to the position, which the exchange cancels when the
    position closes (so a stop never outlives its position, even if we crash)."""
    action: Action = order_wires_to_order_action(wires, None, grouping)
    return action


def cancel_by_cloid_action(asset: int, cloid: str) -> Action:
    return {"type": "cancelByCloid", "cancels": [{"asset": asset, "cloid": cloid}]}


def modify_action(cloid: str, wire: dict[str, Any]) -> Action:
    """Change a resting order, named by its cloid, to ``wire`` (which keeps the same cloid)."""
    return {"type": "batchModify", "modifies": [{"oid": cloid, "order": wire}]}


def action_weight(action: Action) -> int:
    batch = action.get("orders") or action.get("cancels") or action.get("modifies") or []
    return 1 + len(batch) // EXCHANGE_BATCH_WEIGHT_STEP


class Signer:
    """Signs L1 actions with one key; never shows the key (repr names only the address)."""

    def __init__(self, private_key: str, *, is_mainnet: bool) -> None:
        if not private_key:
            raise ValueError("no Hyperliquid private key: set B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY")
        try:
            self._wallet = Account.from_key(private_key)
        except (ValueError, TypeError) as exc:
            kind = type(exc).__name__
            raise ValueError(f"the Hyperliquid private key is not a valid secp256k1 key ({kind})") from None
        self.address: str = self._wallet.address
        self.is_mainnet = is_mainnet
        self._last_nonce = 0

    def __repr__(self) -> str:
        return f"Signer(address={self.address}, is_mainnet={self.is_mainnet})"

    def next_nonce(self) -> int:
        """Milliseconds, strictly increasing: Hyperliquid refuses a nonce it has seen."""
        self._last_nonce = max(int(time.time() * 1000), self._last_nonce + 1)
        return self._last_nonce

    def payload(self, action: Action, nonce: int | None = None) -> dict[str, Any]:
        """The ``/exchange`` request body: the action, its nonce and its signature."""
        nonce = self.next_nonce() if nonce is None else nonce
        signature = sign_l1_action(self._wallet, action, None, nonce, None, self.is_mainnet)
        return {"action": action, "nonce": nonce, "signature": signature, "vaultAddress": None, "expiresAfter": None}
