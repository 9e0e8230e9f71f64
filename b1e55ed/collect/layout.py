"""Where collected data lives under ``data_dir``, its columns, and loaders for the code that uses it.

::

    ohlcv/<tf>/<SYMBOL>USDT.parquet         ts, open, high, low, close, volume   Binance spot; ts = candle open
    funding/binance/<SYMBOL>USDT.parquet    ts, rate                             USD-M perpetual, every 8 h
    funding/hyperliquid/<SYMBOL>.parquet    ts, rate                             Hyperliquid perpetual, hourly
    fear_greed/fear_greed_daily.parquet     ts, value, classification            alternative.me, daily
    basis/<SYMBOL>.parquet                  ts, spot, perp, premium              hourly closes; ts = the close
    metadata/hyperliquid.parquet            symbol, sz_decimals, max_leverage, open_interest,
                                            day_notional_volume, mark_price, funding   (a snapshot, replaced)

Every ``ts`` is ms since the epoch, UTC; the ohlcv files are the format ``b1e55ed.market.replay`` reads (so
``run --market replay:data/ohlcv/1h`` replays them). Time series are sorted by ``ts`` with no duplicates; gaps are
real (exchange outages). Basis rows are stamped with the hour's *close*, the moment the values are known, so a
consumer at time ``t`` may use every row with ``ts <= t`` without looking ahead::

    basis = load_basis(config.data_dir, "BTC")
    latest = basis.filter(pl.col("ts") <= now_ms).tail(1)   # premium = perp / spot - 1

Loaders raise ``DataError`` naming the file and the command that collects it when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import polars as pl

from b1e55ed.market.replay import DataError

from .store import Schema, read_table

Venue = Literal["binance", "hyperliquid"]
VENUES: Final[tuple[Venue, ...]] = ("binance", "hyperliquid")
QUOTE: Final = "USDT"

CANDLE_SCHEMA: Final[Schema] = {
    "ts": pl.Int64,
    "open": pl.Float64,
    "high": pl.Float64,
    "low": pl.Float64,
    "close": pl.Float64,
    "volume": pl.Float64,
}
FUNDING_SCHEMA: Final[Schema] = {"ts": pl.Int64, "rate": pl.Float64}
FEAR_GREED_SCHEMA: Final[Schema] = {"ts": pl.Int64, "value": pl.Int64, "classification": pl.String}
BASIS_SCHEMA: Final[Schema] = {"ts": pl.Int64, "spot": pl.Float64, "perp": pl.Float64, "premium": pl.Float64}
METADATA_SCHEMA: Final[Schema] = {
    "symbol": pl.String,
    "sz_decimals": pl.Int64,
    "max_leverage": pl.Int64,
    "open_interest": pl.Float64,
    "day_notional_volume": pl.Float64,
    "mark_price": pl.Float64,
    "funding": pl.Float64,
}


def ohlcv_path(data_dir: str | Path, symbol: str, timeframe: str) -> Path:
    return Path(data_dir) / "ohlcv" / timeframe / f"{symbol}{QUOTE}.parquet"


def funding_path(data_dir: str | Path, symbol: str, venue: Venue = "binance") -> Path:
    name = f"{symbol}{QUOTE}" if venue == "binance" else symbol
    return Path(data_dir) / "funding" / venue / f"{name}.parquet"


def fear_greed_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "fear_greed" / "fear_greed_daily.parquet"


def basis_path(data_dir: str | Path, symbol: str) -> Path:
    return Path(data_dir) / "basis" / f"{symbol}.parquet"


def metadata_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / "metadata" / "hyperliquid.parquet"


def load_ohlcv(data_dir: str | Path, symbol: str, timeframe: str = "1h") -> pl.DataFrame:
    command = f"collect ohlcv --symbols {symbol} --timeframes {timeframe}"
    return _load(ohlcv_path(data_dir, symbol, timeframe), CANDLE_SCHEMA, command)


def load_funding(data_dir: str | Path, symbol: str, venue: Venue = "binance") -> pl.DataFrame:
    """Funding rates per period (0.0001 = 0.01%): every 8 h on Binance, every hour on Hyperliquid."""
    command = f"collect funding --symbols {symbol} --venues {venue}"
    return _load(funding_path(data_dir, symbol, venue), FUNDING_SCHEMA, command)


def load_fear_greed(data_dir: str | Path) -> pl.DataFrame:
    return _load(fear_greed_path(data_dir), FEAR_GREED_SCHEMA, "collect fear-greed")


def load_basis(data_dir: str | Path, symbol: str) -> pl.DataFrame:
    """Hourly perpetual-versus-spot closes and ``premium`` (perp / spot - 1), ``ts`` = the close (see above)."""
    return _load(basis_path(data_dir, symbol), BASIS_SCHEMA, f"collect basis --symbols {symbol}")


def load_metadata(data_dir: str | Path) -> pl.DataFrame:
    """Hyperliquid's perpetuals as of the last ``collect metadata``: one row per listed symbol."""
    return _load(metadata_path(data_dir), METADATA_SCHEMA, "collect metadata")


def _load(path: Path, schema: Schema, command: str) -> pl.DataFrame:
    if not path.is_file():
        raise DataError(f"{path}: no such file; run `python -m b1e55ed {command}`")
    return read_table(path, schema)
