"""``python -m b1e55ed collect SOURCE``: the argparse wiring, the checks on the flags, and the run.

Exit codes: 0 done (rejected rows are reported, not failures); 1 a source failed after the retries or answered
something unusable, with a message naming the endpoint (everything collected before the failure is kept, and the
next run resumes from it); 2 bad arguments, with a message naming the flag.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, TextIO

import httpx
import trio

from b1e55ed.clock import Clock, WallClock
from b1e55ed.config import Config
from b1e55ed.jsonhttp import RetryPolicy
from b1e55ed.market.replay import DataError
from b1e55ed.timeframes import BINANCE_INTERVALS

from .basis import collect_basis
from .binance import BinanceMarketData
from .fear_greed import collect_fear_greed
from .funding import collect_funding
from .http import COLLECT_POLICY, CollectError, JsonFetcher
from .hyperliquid import HyperliquidMarketData
from .layout import VENUES, Venue
from .metadata import collect_metadata
from .ohlcv import collect_ohlcv
from .session import FileReport, Session
from .store import DEFAULT_FLUSH_INTERVAL_S

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SOURCES: Final = ("ohlcv", "funding", "fear-greed", "basis", "metadata")
USER_AGENT: Final = "b1e55ed-collect"
_SYMBOL = re.compile(r"[A-Z0-9]{2,20}")


@dataclass(frozen=True)
class CollectRequest:
    """The flags, checked: what to collect and where."""

    source: str
    data_dir: Path
    symbols: tuple[str, ...] = ()
    timeframes: tuple[str, ...] = ()
    venues: tuple[Venue, ...] = VENUES
    since_ms: int | None = None
    incremental: bool = False


def add_collect_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    collect = commands.add_parser("collect", help="download market data into data_dir (Parquet): " + ", ".join(SOURCES))
    sources = collect.add_subparsers(dest="source", metavar="SOURCE", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="where the files go (default: data_dir from the config)")
    symbols = argparse.ArgumentParser(add_help=False)
    symbols.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="assets, e.g. BTC ETH (default: symbols)")
    symbols.add_argument("--since", metavar="YYYY-MM-DD", help="start of a new file's history, UTC")

    ohlcv = sources.add_parser("ohlcv", parents=[common, symbols], help="Binance spot candles, paginated")
    ohlcv.add_argument(
        "--timeframes", nargs="+", metavar="TF", choices=BINANCE_INTERVALS, help="e.g. 5m 1h 1d (default: timeframe)"
    )
    ohlcv.add_argument("--incremental", action="store_true", help="only candles after the last stored one")
    funding = sources.add_parser("funding", parents=[common, symbols], help="perpetual funding rate history")
    funding.add_argument("--venues", nargs="+", choices=VENUES, help="binance, hyperliquid (default: both)")
    sources.add_parser("fear-greed", parents=[common], help="the alternative.me Fear & Greed index, all history")
    sources.add_parser("basis", parents=[common, symbols], help="hourly perpetual-versus-spot premium (Binance)")
    sources.add_parser("metadata", parents=[common], help="Hyperliquid asset metadata and liquidity, a snapshot")


def collect_request(args: argparse.Namespace, config: Config, now_ms: int) -> CollectRequest:
    """The checked flags; a bad value raises ValueError naming the flag."""
    data_dir = args.data_dir if getattr(args, "data_dir", None) is not None else Path(config.data_dir)
    symbols = tuple(symbol.upper() for symbol in (getattr(args, "symbols", None) or config.symbols))
    for symbol in symbols:
        if not _SYMBOL.fullmatch(symbol):
            raise ValueError(f"--symbols {symbol!r}: expected a ticker such as BTC (2-20 letters or digits)")
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"--symbols {' '.join(symbols)}: a symbol repeats")
    timeframes = tuple(getattr(args, "timeframes", None) or (config.timeframe,))
    if args.source == "ohlcv":
        for timeframe in timeframes:
            if timeframe not in BINANCE_INTERVALS:
                raise ValueError(f"--timeframes {timeframe!r}: Binance offers {', '.join(BINANCE_INTERVALS)}")
        if len(set(timeframes)) != len(timeframes):
            raise ValueError(f"--timeframes {' '.join(timeframes)}: a timeframe repeats")
    venues = tuple(dict.fromkeys(getattr(args, "venues", None) or VENUES))
    since = getattr(args, "since", None)
    return CollectRequest(
        source=args.source,
        data_dir=data_dir,
        symbols=symbols,
        timeframes=timeframes,
        venues=venues,
        since_ms=None if since is None else _day_ms(since, now_ms),
        incremental=bool(getattr(args, "incremental", False)),
    )


def _day_ms(text: str, now_ms: int) -> int:
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(f"--since {text!r}: expected a day as YYYY-MM-DD") from None
    ms = int(day.timestamp() * 1000)
    if ms >= now_ms:
        raise ValueError(f"--since {text}: that day has not ended yet, there is nothing to collect")
    return ms


async def execute(request: CollectRequest, session: Session) -> None:
    """Run one ``collect`` command; the reports accumulate in ``session.reports`` even when it raises."""
    binance = BinanceMarketData(session.fetcher)
    hyperliquid = HyperliquidMarketData(session.fetcher)
    if request.source == "ohlcv":
        await collect_ohlcv(
            session,
            binance,
            request.symbols,
            request.timeframes,
            since_ms=request.since_ms,
            incremental=request.incremental,
        )
    elif request.source == "funding":
        await collect_funding(session, binance, hyperliquid, request.symbols, request.venues, since_ms=request.since_ms)
    elif request.source == "fear-greed":
        await collect_fear_greed(session)
    elif request.source == "basis":
        await collect_basis(session, binance, request.symbols, since_ms=request.since_ms)
    elif request.source == "metadata":
        await collect_metadata(session, hyperliquid)
    else:
        raise ValueError(f"unknown source {request.source!r}; expected one of {', '.join(SOURCES)}")


def run_collect(
    args: argparse.Namespace,
    config: Config,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    policy: RetryPolicy = COLLECT_POLICY,
    flush_interval_s: float = DEFAULT_FLUSH_INTERVAL_S,
) -> int:
    """The ``collect`` command. Tests inject the transport (an ``httpx.MockTransport``), the clock and streams."""
    clock = clock if clock is not None else WallClock()
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    try:
        request = collect_request(args, config, clock.now_ms())
    except ValueError as exc:
        print(f"b1e55ed: {exc}", file=err)
        return EXIT_USAGE

    async def main() -> int:
        async with httpx.AsyncClient(transport=transport, headers={"User-Agent": USER_AGENT}) as http:
            fetcher = JsonFetcher(http, policy)
            session = Session(request.data_dir, fetcher, clock, progress_stream=err, flush_interval_s=flush_interval_s)
            try:
                await execute(request, session)
            except (CollectError, DataError, OSError) as exc:
                return _failed(session, f"failed: {exc}")
            except KeyboardInterrupt:  # Ctrl-C: every open file has been written out on the way here
                return _failed(session, "interrupted")
            print_reports(session.reports, out)
            return EXIT_OK

    def _failed(session: Session, why: str) -> int:
        print_reports(session.reports, out)
        print(f"b1e55ed: collect {request.source} {why}", file=err)
        if any(report.added for report in session.reports):
            print("b1e55ed: the rows collected before that are kept; rerun to resume", file=err)
        return EXIT_FAILED

    return trio.run(main)


def print_reports(reports: Sequence[FileReport], out: TextIO) -> None:
    for report in reports:
        print(report.render(), file=out)
