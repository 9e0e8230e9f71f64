"""The ``hyperliquid`` config section: where the live venue and the info API are, and the account's limits.

Apart from the venue so that loading a config never imports the signing stack.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

_Positive = Annotated[float, msgspec.Meta(gt=0)]


class HyperliquidConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The live venue. The signing key is ``keys.hyperliquid_private_key``, from the environment only."""

    url: str = "https://api.hyperliquid.xyz"
    is_mainnet: bool | None = None
    account_address: Annotated[str, msgspec.Meta(pattern=r"^(0x[0-9a-fA-F]{40})?$")] = ""
    weight_per_min: Annotated[int, msgspec.Meta(ge=1)] = 1200
    timeout_s: _Positive = 10.0
