"""A data source: Binance USD-M open interest, hourly, into ``data/open_interest/<SYMBOL>USDT.parquet``.

It writes the spec's layout the way every built-in collector does (``b1e55ed/collect/layout.py``): one Parquet
file per symbol, ``ts`` in ms UTC sorted without duplicates, written atomically (a temp file, then a rename),
resumed after the last stored row, each row checked before it reaches disk and every reject counted by reason.

=======================  ===================================================================================
column                   meaning
=======================  ===================================================================================
``ts``                   the 5-minute or hourly period's timestamp as Binance stamps it (ms since the epoch)
``open_interest``        contracts open (``sumOpenInterest``), in the base asset
``open_interest_usd``    their value in USDT (``sumOpenInterestValue``)
=======================  ===================================================================================

Wire format (``GET /futures/data/openInterestHist?symbol=BTCUSDT&period=1h&limit=500&startTime=MS``): a JSON list
``[{"symbol", "sumOpenInterest": "…", "sumOpenInterestValue": "…", "timestamp": MS}]``, oldest first, at most
``limit`` rows from ``startTime``. Binance keeps only the last 30 days of it.

Run it with ``python -m docs.examples.my_collector --symbols BTC ETH`` (``--data-dir``, default ``data``). A
producer or enrichment plug-in reads the file back by time, never past its ``as_of``
(``b1e55ed.collect.asof.AsOf`` does exactly that).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import httpx
import msgspec
import polars as pl
import trio

from b1e55ed.clock import WallClock
from b1e55ed.collect.http import CollectError, JsonFetcher
from b1e55ed.collect.session import Page, Session, fill_forward
from b1e55ed.collect.store import Schema
from b1e55ed.collect.validate import Check
from b1e55ed.ratelimit import WeightBudget

OPEN_INTEREST_URL: Final = "https://fapi.binance.com/futures/data/openInterestHist"
OPEN_INTEREST_SCHEMA: Final[Schema] = {"ts": pl.Int64, "open_interest": pl.Float64, "open_interest_usd": pl.Float64}
OPEN_INTEREST_CHECKS: Final[Sequence[Check]] = (
    ("NaN or negative open interest", lambda c: ~((c["open_interest"] >= 0) & (c["open_interest_usd"] >= 0))),
)
PAGE_ROWS: Final = 500
DAY_MS: Final = 86_400_000


class _Row(msgspec.Struct, frozen=True, kw_only=True):
    open_interest: float = msgspec.field(name="sumOpenInterest")
    open_interest_usd: float = msgspec.field(name="sumOpenInterestValue")
    timestamp: int


_ANSWER: Final = msgspec.json.Decoder(list[_Row], strict=False)  # strict=False: the numbers come as strings


def open_interest_path(data_dir: str | Path, symbol: str) -> Path:
    return Path(data_dir) / "open_interest" / f"{symbol}USDT.parquet"


async def collect_open_interest(
    session: Session, symbol: str, *, since_ms: int, url: str = OPEN_INTEREST_URL, budget: WeightBudget | None = None
) -> None:
    """Fetch ``symbol``'s hourly open interest from ``since_ms`` (or after the last stored row) to now."""
    budget = budget if budget is not None else WeightBudget(1000, 300.0)  # 1,000 requests per 5 minutes, per IP
    path = open_interest_path(session.data_dir, symbol)
    with session.series(path, OPEN_INTEREST_SCHEMA) as (series, report):

        async def page(start_ms: int) -> Page:
            params: dict[str, str | int] = {
                "symbol": f"{symbol}USDT",
                "period": "1h",
                "limit": PAGE_ROWS,
                "startTime": start_ms,
            }
            rows = await session.fetcher.get(url, params, _ANSWER, budget=budget, weight=1)
            frame = pl.DataFrame(
                [(row.timestamp, row.open_interest, row.open_interest_usd) for row in rows],
                schema=dict(OPEN_INTEREST_SCHEMA),
                orient="row",
            )
            full = len(rows) == PAGE_ROWS
            return Page(frame, rows[-1].timestamp + 1 if full else None)

        start = since_ms if series.last_ts is None else series.last_ts + 1
        await fill_forward(
            session, series, report, page, start_ms=start, checks=OPEN_INTEREST_CHECKS, label=f"{symbol} OI"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m docs.examples.my_collector")
    parser.add_argument("--symbols", nargs="+", required=True, metavar="SYMBOL")
    parser.add_argument("--data-dir", type=Path, default=Path("data"))
    parser.add_argument("--days", type=int, default=30, help="how far back a new file starts (Binance keeps 30)")
    args = parser.parse_args(argv)
    clock = WallClock()

    async def run() -> int:
        async with httpx.AsyncClient() as http:
            session = Session(args.data_dir, JsonFetcher(http), clock, progress_stream=sys.stderr)
            try:
                for symbol in args.symbols:
                    await collect_open_interest(session, symbol, since_ms=clock.now_ms() - args.days * DAY_MS)
            except CollectError as exc:
                print(f"open interest: {exc}", file=sys.stderr)
                return 1
            finally:
                for report in session.reports:
                    print(report.render())
        return 0

    return trio.run(run)


if __name__ == "__main__":
    sys.exit(main())
