"""Hyperliquid's perpetuals as they are now into ``metadata/hyperliquid.parquet``: what sizing and risk need.

``szDecimals`` (order size precision) and ``maxLeverage`` come from the universe; open interest, 24 h notional
volume, mark price and the current funding rate from the asset contexts of the same ``metaAndAssetCtxs`` answer,
so they are consistent with each other. The file is a snapshot: each run replaces it whole (atomically), keeping
the previous one when nothing usable came back. Delisted assets are left out: they cannot be traded.
"""

from __future__ import annotations

from .hyperliquid import HyperliquidMarketData
from .layout import metadata_path
from .session import Session
from .store import write_atomic
from .validate import METADATA_CHECKS, check_rows


async def collect_metadata(session: Session, hyperliquid: HyperliquidMarketData) -> None:
    path = metadata_path(session.data_dir)
    report = session.report(path)
    requests_before = session.fetcher.requests
    frame, delisted = await hyperliquid.asset_contexts()
    report.requests = session.fetcher.requests - requests_before
    good = check_rows(frame, METADATA_CHECKS, report.rejects, key=None)
    duplicated = good["symbol"].is_duplicated()
    report.rejects.add("duplicate symbol", int(duplicated.sum()))
    good = good.filter(~duplicated)
    if good.is_empty():
        report.note = "no usable asset in the answer; the previous snapshot is kept"
        return
    write_atomic(path, good.sort("symbol"), session.writer)
    report.added = report.rows = good.height
    report.note = f"snapshot of {good.height} perpetuals" + (f", {delisted} delisted left out" if delisted else "")
