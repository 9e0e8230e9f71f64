"""Collectors: public market data from Binance, Hyperliquid and alternative.me into Parquet under ``data_dir``.

``python -m b1e55ed collect {ohlcv,funding,fear-greed,basis,metadata}`` (``cli``) runs one collector. The layers,
bottom up: ``http`` (JSON requests inside a weight budget, retried on 429/418/5xx), ``store`` (atomic Parquet
writes, a series flushed as it grows), ``validate`` (row checks, rejects counted by reason), ``progress`` (a bar
on a terminal), ``session`` (what one run shares, and the paging loop), the two sources (``binance``,
``hyperliquid``), one module per collector, ``layout`` (the file layout, and loaders for the rest of the code) and
``asof`` (a collected series looked up as of a time, for the cycle's context).
"""

from b1e55ed.collect.asof import AsOf, basis_premium
from b1e55ed.collect.http import CollectError, CollectUnavailable
from b1e55ed.collect.layout import (
    basis_path,
    fear_greed_path,
    funding_path,
    load_basis,
    load_fear_greed,
    load_funding,
    load_metadata,
    load_ohlcv,
    metadata_path,
    ohlcv_path,
)

__all__ = [
    "AsOf",
    "CollectError",
    "CollectUnavailable",
    "basis_path",
    "basis_premium",
    "fear_greed_path",
    "funding_path",
    "load_basis",
    "load_fear_greed",
    "load_funding",
    "load_metadata",
    "load_ohlcv",
    "metadata_path",
    "ohlcv_path",
]
