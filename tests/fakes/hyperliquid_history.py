"""The fake Hyperliquid ``/info`` server (``FakeHyperliquidInfo``) with what the collectors' tests need on top.

The base answers ``fundingHistory`` (at most 500 from ``startTime``) and a ``metaAndAssetCtxs`` built from its
funding and mids. This adds ``add_asset``: a universe entry with its own ``szDecimals``, ``maxLeverage`` and
``isDelisted`` and an asset context with its own mark, open interest and volume, served in place of the base's
answer once any asset is added; and ``crash_at(n)``, which raises ``FakeCrash`` at the n-th ``fundingHistory``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.fakes.binance import FakeCrash
from tests.fakes.hyperliquid_info import FakeHyperliquidInfo


class FakeHyperliquidHistory(FakeHyperliquidInfo):
    def __init__(self, *, now_ms: Callable[[], int] | None = None) -> None:
        super().__init__(now_ms=now_ms)
        self.universe: list[dict[str, Any]] = []
        self.contexts: list[dict[str, Any]] = []
        self._crash_at: int | None = None
        self._base_funding_history = self.answers["fundingHistory"]
        self._base_meta_and_asset_ctxs = self.answers["metaAndAssetCtxs"]
        self.answers["fundingHistory"] = self._funding_history_or_crash
        self.answers["metaAndAssetCtxs"] = self._meta_and_added_assets

    def add_asset(
        self,
        name: str,
        *,
        sz_decimals: int,
        max_leverage: int,
        mark_px: float | None,
        open_interest: float = 1000.0,
        day_ntl_vlm: float = 5e6,
        funding: float = 0.0000125,
        delisted: bool = False,
    ) -> None:
        asset: dict[str, Any] = {"name": name, "szDecimals": sz_decimals, "maxLeverage": max_leverage}
        if delisted:
            asset["isDelisted"] = True
        self.universe.append(asset)
        mark = None if mark_px is None else repr(mark_px)
        self.contexts.append(
            {
                "dayNtlVlm": repr(day_ntl_vlm),
                "funding": repr(funding),
                "impactPxs": None if mark_px is None else [repr(mark_px * 0.9999), repr(mark_px * 1.0001)],
                "markPx": mark,
                "midPx": mark,
                "openInterest": repr(open_interest),
                "oraclePx": mark or "1.0",
                "premium": "0.0001",
                "prevDayPx": mark or "1.0",
            }
        )

    def crash_at(self, funding_request_number: int) -> None:
        self._crash_at = funding_request_number

    def _funding_history_or_crash(self, body: dict[str, Any]) -> httpx.Response:
        if self._crash_at is not None and self.count("fundingHistory") == self._crash_at:
            raise FakeCrash(f"crash injected at fundingHistory request {self._crash_at}")
        return self._base_funding_history(body)

    def _meta_and_added_assets(self, body: dict[str, Any]) -> httpx.Response:
        if not self.universe:
            return self._base_meta_and_asset_ctxs(body)
        self.weight_charged += 20
        return httpx.Response(200, json=[{"universe": self.universe, "marginTables": []}, self.contexts])
