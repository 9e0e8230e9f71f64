"""The config sections of the trading loop: market data, the risk policy and the kill switch.

The venues' sections live with their owners: ``PaperConfig`` in ``venues/paper.py``, ``HyperliquidConfig`` in
``hyperliquid/config.py``.

Each is a frozen struct that refuses unknown keys; ``config.py`` composes them into the whole configuration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

_Fraction = Annotated[float, msgspec.Meta(gt=0, le=1)]
_Positive = Annotated[float, msgspec.Meta(gt=0)]
_Day = Annotated[str, msgspec.Meta(pattern=r"^(\d{4}-\d{2}-\d{2})?$")]


class MarketConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    source: Annotated[str, msgspec.Meta(pattern=r"^(auto|sim|hyperliquid|replay:.+)$")] = "auto"
    speed: Annotated[float, msgspec.Meta(ge=0)] = 0.0
    start: _Day = ""
    end: _Day = ""
    sim_seed: Annotated[int, msgspec.Meta(ge=0)] = 7
    sim_pace: Literal["wall", "max"] = "wall"
    sim_bars: Annotated[int, msgspec.Meta(ge=0)] = 0
    history_bars: Annotated[int, msgspec.Meta(ge=1)] = 500
    hyperliquid_url: str = "https://api.hyperliquid.xyz"
    timeout_s: _Positive = 10.0
    funding: str = ""
    fear_greed: str = ""


DEFAULT_SECTORS = {"BTC": "store-of-value", "ETH": "smart-contract-platform", "SOL": "smart-contract-platform"}


class RiskPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_position: _Fraction = 0.15
    max_leverage: _Positive = 3.0
    min_notional: Annotated[float, msgspec.Meta(ge=0)] = 10.0
    restricted_symbols: tuple[str, ...] = ()
    max_open_positions: Annotated[int, msgspec.Meta(ge=1)] = 5
    max_daily_loss_pct: Annotated[float, msgspec.Meta(gt=0, le=100)] = 5.0
    sectors: dict[str, str] = msgspec.field(default_factory=lambda: dict(DEFAULT_SECTORS))
    max_sector_exposure: _Fraction = 0.30


class KillSwitchConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    max_drawdown_pct: Annotated[float, msgspec.Meta(gt=0, le=100)] = 20.0
    max_daily_loss_pct: Annotated[float, msgspec.Meta(gt=0, le=100)] = 10.0
    venue_error_rate: _Fraction = 0.5
    venue_error_window: Annotated[int, msgspec.Meta(ge=1)] = 20
    venue_disconnect_s: _Positive = 60.0
    flatten_on_halt: bool = False
    poll_s: _Positive = 0.5


def is_driven(market: MarketConfig) -> bool:
    """Whether history drives the cycles (replay, or the simulation at full speed) rather than the wall clock."""
    return market.source.startswith("replay:") or (market.source == "sim" and market.sim_pace == "max")


def day_ms(day: str) -> int | None:
    """Midnight UTC of a YYYY-MM-DD day, in ms; None for an empty string."""
    if not day:
        return None
    return int(datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
