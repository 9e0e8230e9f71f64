"""``python -m b1e55ed``: run the brain (the default), backtest it, and the offline tools over its event log.

Exit codes: 0 done; 1 the event log failed verification, or a run stopped because its log could not be written;
2 bad configuration or arguments, or a database that cannot be opened, with a message that says what to fix.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import trio
import yaml
from msgspec.structs import replace

from b1e55ed import killswitch_file, logsetup
from b1e55ed.alerts.selftest import alerts_test
from b1e55ed.backtest.karma import karma_report
from b1e55ed.backtest.options import count_cycles, plan_backtest, prepare_folder
from b1e55ed.backtest.report import build_report, write_report
from b1e55ed.backtest.resume import resume_problem, settled_cycles, unfinished, write_manifest
from b1e55ed.bookkind import BookKind, kind_problem, recorded_kind, source_of
from b1e55ed.cliparser import build_parser
from b1e55ed.clock import Clock, ManualClock, WallClock
from b1e55ed.collect.cli import run_collect
from b1e55ed.collection import collecting_for_run
from b1e55ed.config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config, secret_values
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.backup import backup as backup_log
from b1e55ed.eventlog.backup import restore as restore_log
from b1e55ed.eventlog.chain import ChainBroken, Record, Verified
from b1e55ed.eventlog.connect import LogKey, connect, log_key
from b1e55ed.eventlog.sqlite_store import WriterLock, open_offline, rebuild_connection
from b1e55ed.eventlog.store import StorageFailed, StoreError
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.hyperliquid.info import MAINNET_API_URL, TESTNET_API_URL, InfoClient
from b1e55ed.karma.report import render as render_karma
from b1e55ed.market.hyperliquid import reachable
from b1e55ed.market.replay import DataError
from b1e55ed.messages import KillSwitchChanged
from b1e55ed.registry import resolve
from b1e55ed.runtime import Runtime
from b1e55ed.scaffold.new import run_new
from b1e55ed.summary import summarize
from b1e55ed.supervisor import ActorStartupError
from b1e55ed.sweep.cli import run_sweep
from b1e55ed.trading_config import MarketConfig, is_driven

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2
PRIVATE_KEY_VARIABLE = "B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY"

logger = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "new":  # writes files only: needs no config
        return run_new(args)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"b1e55ed: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    command = args.command or "run"
    files = config.logging if command == "run" else None  # the running brain writes the spec's log files
    logsetup.configure(
        config.runtime.log_level,
        secrets=secret_values(config),
        folder=Path(files.dir) if files else None,
        max_bytes=files.max_bytes if files else 0,
        backups=files.backups if files else 0,
    )
    db: Path = getattr(args, "db", None) or Path(config.eventlog.path)
    try:
        if command == "alerts":
            return alerts_test(config)
        if command == "collect":
            return run_collect(args, config)
        if command == "sweep":
            return run_sweep(config, args)
        key = log_key(config.eventlog.encrypt, config.keys.db_password.reveal())  # every other command opens a log
        if command == "verify":
            return verify(db, key)
        if command == "rebuild":
            return rebuild(db, key)
        if command == "backup":
            return said("backed up", backup_log(db, args.dest, key), args.dest)
        if command == "restore":
            return said("restored", restore_log(args.src, db, force=args.force, key=key), db)
        if command == "killswitch":
            return killswitch(db, args.state, key)
        if command == "karma":
            return karma(config, db, args, key)
        if command == "report":
            return report(db, args.out or db.parent, key)
        if command == "backtest":
            return backtest(config, args, key)
        try:
            config = run_overrides(config, args)
        except ValueError as exc:
            print(f"b1e55ed: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if config.mode == "live" and (problem := live_problem(config, args.config or DEFAULT_CONFIG_PATH)):
            print(f"b1e55ed: cannot trade live: {problem}", file=sys.stderr)
            return EXIT_USAGE
        return run(config, db, key)
    except StoreError as exc:
        print(f"b1e55ed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        logsetup.close_files()  # a caller in the same process (a test, a benchmark) gets no open file back


def _last_seq(db: Path, key: LogKey | None) -> int:
    if not db.exists():
        return 0
    with closing(connect(db, key)) as conn:
        row = conn.execute("SELECT max(seq) FROM events").fetchone()
    return int(row[0] or 0)


def _killswitch_change_after(db: Path, seq: int, key: LogKey | None) -> KillSwitchChanged | None:
    if not db.exists():
        return None
    with closing(connect(db, key)) as conn:
        row = conn.execute(
            "SELECT payload FROM events WHERE kind = 'killswitch' AND seq > ? ORDER BY seq DESC LIMIT 1", (seq,)
        ).fetchone()
    event = codec.decode(row[0]) if row else None
    return event if isinstance(event, KillSwitchChanged) else None


def verify(db: Path, key: LogKey | None) -> int:
    if not db.exists():
        raise StoreError(f"{db}: no such database")
    try:
        verified = verify_database(db, key)
    except ChainBroken as exc:
        print(f"FAILED at seq {exc.seq}: {exc.reason}", file=sys.stderr)
        return EXIT_BROKEN
    print(f"OK {verified.count} events, head {verified.head.hash.hex()}")
    return EXIT_OK


def said(what: str, verified: Verified, path: Path) -> int:
    print(f"{what} {path}: {verified.count} events verified, head seq {verified.head.seq} {verified.head.hash.hex()}")
    return EXIT_OK


def rebuild(db: Path, key: LogKey | None) -> int:
    lock = WriterLock(db)
    lock.acquire()
    try:
        conn = open_offline(db, key)
        try:
            replayed = rebuild_connection(conn)
        finally:
            conn.close()
    finally:
        lock.release()
    print(f"rebuilt the projections from {replayed} events")
    return EXIT_OK


def run_overrides(config: Config, args: argparse.Namespace) -> Config:
    """Apply ``run``'s flags on top of the config; a bad value raises ValueError naming the flag."""
    market = config.market
    if getattr(args, "market", None):
        market = replace(market, source=args.market)
    for flag in ("funding", "fear_greed"):
        if value := getattr(args, flag, None):
            if not Path(value).exists():
                raise ValueError(f"--{flag.replace('_', '-')} {value}: no such file or folder")
            market = replace(market, **{flag: value})
    if getattr(args, "start", None):
        market = replace(market, start=args.start)
    if getattr(args, "end", None):
        market = replace(market, end=args.end)
    speed = getattr(args, "speed", None)
    if speed is not None:
        try:
            market = replace(market, speed=0.0 if speed == "max" else float(speed))
        except ValueError:
            raise ValueError(f"--speed {speed!r}: expected max or a number") from None
    try:
        market = msgspec.convert(msgspec.to_builtins(market), MarketConfig)
    except msgspec.ValidationError as exc:
        raise ValueError(
            f"invalid run option: {exc} (--market: auto, sim, hyperliquid or replay:PATH; --from/--to: YYYY-MM-DD)"
        ) from None
    symbols = tuple(getattr(args, "symbols", None) or config.symbols)
    if len(set(symbols)) != len(symbols):
        raise ValueError(f"--symbols {' '.join(symbols)}: a symbol repeats")
    mode = "live" if getattr(args, "live", False) else config.mode
    return replace(config, market=market, symbols=symbols, mode=mode)


def live_problem(config: Config, config_file: Path) -> str:
    """Why live trading must not start with this configuration, as an instruction; "" when it may."""
    if _file_sets_private_key(config_file):
        return (
            f"{config_file} sets keys.hyperliquid_private_key: remove it from the file; the signing key is read "
            f"from the environment only ({PRIVATE_KEY_VARIABLE})"
        )
    if not config.keys.hyperliquid_private_key:
        return f"no signing key: set {PRIVATE_KEY_VARIABLE} in the environment (an API wallet's key is best)"
    if config.hyperliquid.is_mainnet is None:
        return (
            "hyperliquid.is_mainnet is unset: set it to true (real money) or false (testnet), in the config file or "
            "as B1E55ED_HYPERLIQUID__IS_MAINNET"
        )
    from b1e55ed.hyperliquid.signing import Signer  # the signing stack is slow to import: only live needs it

    try:
        Signer(config.keys.hyperliquid_private_key.reveal(), is_mainnet=config.hyperliquid.is_mainnet)
    except ValueError as exc:
        return f"{PRIVATE_KEY_VARIABLE}: {exc}"
    if config.market.source == "auto":
        return "market.source is auto, which may fall back to a simulation: set market.source (or --market)"
    url, mainnet = config.hyperliquid.url.rstrip("/"), config.hyperliquid.is_mainnet
    if (mainnet and url == TESTNET_API_URL) or (not mainnet and url == MAINNET_API_URL):
        network = "mainnet" if mainnet else "testnet"
        return f"hyperliquid.is_mainnet says {network} but hyperliquid.url is {url}: make them agree"
    return ""


def _file_sets_private_key(config_file: Path) -> bool:
    try:
        raw = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return False  # load_config has already read and parsed it
    keys = raw.get("keys") if isinstance(raw, dict) else None
    return isinstance(keys, dict) and bool(keys.get("hyperliquid_private_key"))


def run(config: Config, db: Path, key: LogKey | None) -> int:
    recorded = recorded_kind(db, key)
    if config.market.source == "auto":
        source = trio.run(resolve_auto, config.market, recorded is None)
        if source is None:
            print(
                f"b1e55ed: cannot start: Hyperliquid is unreachable at {config.market.hyperliquid_url}, and {db} "
                f"holds {recorded}: the simulation stands in only for a fresh database. Start again once "
                "Hyperliquid answers, or name another database (--db) for a simulated run",
                file=sys.stderr,
            )
            return EXIT_USAGE
        config = replace(config, market=replace(config.market, source=source))
    if problem := kind_problem(db, recorded, BookKind(source_of(config.market.source), config.mode)):
        print(f"b1e55ed: cannot start: {problem}", file=sys.stderr)
        return EXIT_USAGE
    code = run_pipeline(config, db)
    if code == EXIT_OK and is_driven(config.market):
        print(summarize(db, key).render())
    return code


def run_pipeline(config: Config, db: Path, *, listen: Callable[[Sequence[Record]], None] | None = None) -> int:
    """Run the trading pipeline until it stops (``market.source`` already resolved from ``auto``); ``listen`` sees
    every committed batch of records."""
    if config.mode == "live" and config.market.source != "hyperliquid":
        logger.warning("LIVE ORDERS on %s while the market data is %s", config.hyperliquid.url, config.market.source)
    if config.mode == "live" and not config.hyperliquid.account_address:
        logger.warning(
            "hyperliquid.account_address is empty: orders, fills and positions are read for the signing key's own "
            "address, which is wrong if the key is an API wallet's"
        )
    driven = is_driven(config.market)
    clock: Clock = ManualClock() if driven else WallClock()
    runtime = Runtime(config, db_path=db, clock=clock)
    if listen is not None:
        runtime.hub.listen(listen)
    pipeline = resolve(config.runtime.pipeline)
    refused: list[BaseException] = []
    failed: list[BaseException] = []
    try:
        with collecting_for_run(driven=driven):
            trio.run(runtime.run, lambda rt: pipeline(rt).stages())
    except* StorageFailed as group:
        failed.extend(_leaves(group))
    except* (ActorStartupError, StoreError, DataError) as group:
        refused.extend(_leaves(group))
    for exc in refused:
        print(f"b1e55ed: cannot start: {exc}", file=sys.stderr)
    for exc in failed:
        print(f"b1e55ed: stopped: {exc}", file=sys.stderr)
    return EXIT_USAGE if refused else EXIT_BROKEN if failed else EXIT_OK


def backtest(config: Config, args: argparse.Namespace, key: LogKey | None) -> int:
    """Replay into the report folder's database (resumed only if it matches), then write the report there."""
    try:
        plan = plan_backtest(run_overrides(config, args), args, now=datetime.now(UTC))
    except ValueError as exc:
        print(f"b1e55ed: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if problem := resume_problem(plan.db, plan.config, key):
        print(f"b1e55ed: {problem}", file=sys.stderr)
        return EXIT_USAGE
    prepare_folder(plan)
    write_manifest(plan.db, plan.config)
    from b1e55ed.backtest.progress import BacktestProgress  # rich: only a backtest draws a bar

    with BacktestProgress(count_cycles(plan), already=settled_cycles(plan.db, key)) as progress:
        code = run_pipeline(plan.config, plan.db, listen=progress.on_records)
    if code != EXIT_OK:
        return code
    print(summarize(plan.db, key).render())
    json_path, html_path = write_report(build_report(plan.db, key), plan.report_dir)
    print(f"report        {html_path}\n              {json_path}")
    if why := unfinished(plan.db, key):
        print(
            f"b1e55ed: the replay stopped before the end of its data ({why}): the report covers what it did; "
            "the same command resumes it",
            file=sys.stderr,
        )
    return EXIT_OK


def karma(config: Config, db: Path, args: argparse.Namespace, key: LogKey | None) -> int:
    found = karma_report(
        db, producer=args.producer, strategy=args.strategy, min_samples=config.karma.min_samples, key=key
    )
    print(json.dumps(found, indent=2) if args.json else render_karma(found))
    return EXIT_OK


def report(db: Path, out: Path, key: LogKey | None) -> int:
    """The backtest report of any event log, from the log alone."""
    json_path, html_path = write_report(build_report(db, key), out)
    print(f"report        {html_path}\n              {json_path}")
    return EXIT_OK


def _leaves(group: BaseExceptionGroup[BaseException]) -> list[BaseException]:
    return [
        leaf for exc in group.exceptions for leaf in (_leaves(exc) if isinstance(exc, BaseExceptionGroup) else [exc])
    ]


async def resolve_auto(market: MarketConfig, fresh: bool) -> str | None:
    """Paper trading's ``auto``: Hyperliquid's live prices if it answers now, else, for a ``fresh`` database only,
    the simulation, loudly; None when neither."""
    async with httpx.AsyncClient() as http:
        if await reachable(InfoClient(http, base_url=market.hyperliquid_url, timeout_s=market.timeout_s)):
            return "hyperliquid"
    if not fresh:
        return None
    logger.warning(
        "Hyperliquid is unreachable at %s: FALLING BACK TO THE SIMULATED MARKET (paper trading only)",
        market.hyperliquid_url,
    )
    return "sim"


def killswitch(db: Path, command: str, key: LogKey | None) -> int:
    """Ask the running process to change state; wait up to 5 s to see it applied."""
    before = _last_seq(db, key)
    path = killswitch_file.request(db, command)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if not path.exists():
            change = _killswitch_change_after(db, before, key)
            if change is None:
                print(f"trading state was already {killswitch_file.COMMANDS[command]}")
            else:
                print(f"trading state {change.previous} → {change.state}")
            return EXIT_OK
        time.sleep(0.05)
    print(f"no running b1e55ed applied it within 5 s; {path} will be applied at the next start", file=sys.stderr)
    return EXIT_BROKEN
