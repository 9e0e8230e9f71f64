"""``python -m b1e55ed``: run the brain (the default), and the offline tools over its event log.

Exit codes: 0 done; 1 the event log failed verification; 2 bad configuration or arguments, or a database that
cannot be opened, with a message that says what to fix.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import trio

from b1e55ed import logsetup
from b1e55ed.clock import WallClock
from b1e55ed.config import Config, ConfigError, load_config
from b1e55ed.eventlog.chain import ChainBroken
from b1e55ed.eventlog.sqlite_store import WriterLock, open_offline, rebuild_connection
from b1e55ed.eventlog.store import StoreError
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.runtime import Runtime
from b1e55ed.supervisor import ActorStartupError

EXIT_OK, EXIT_BROKEN, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m b1e55ed", description="b1e55ed: a crypto trading brain.")
    parser.add_argument("--config", type=Path, default=None, help="YAML config file (default: config/b1e55ed.yaml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    db_help = "event log database (default: eventlog.path from the config)"

    run = commands.add_parser("run", help="run the brain: paper trading unless the config says live (default)")
    run.add_argument("--db", type=Path, help=db_help)

    verify = commands.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad seq")
    verify.add_argument("--db", type=Path, help=db_help)

    rebuild = commands.add_parser("rebuild", help="recreate the projection tables from the events")
    rebuild.add_argument("--db", type=Path, help=db_help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"b1e55ed: invalid configuration: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logsetup.configure(config.runtime.log_level, secrets=[config.api.auth_token.reveal()])
    db: Path = getattr(args, "db", None) or Path(config.eventlog.path)
    command = args.command or "run"
    try:
        if command == "verify":
            return verify(db)
        if command == "rebuild":
            return rebuild(db)
        return run(config, db)
    except StoreError as exc:
        print(f"b1e55ed: {exc}", file=sys.stderr)
        return EXIT_USAGE


def verify(db: Path) -> int:
    if not db.exists():
        raise StoreError(f"{db}: no such database")
    try:
        verified = verify_database(db)
    except ChainBroken as exc:
        print(f"FAILED at seq {exc.seq}: {exc.reason}", file=sys.stderr)
        return EXIT_BROKEN
    print(f"OK {verified.count} events, head {verified.head.hash.hex()}")
    return EXIT_OK


def rebuild(db: Path) -> int:
    lock = WriterLock(db)
    lock.acquire()
    try:
        conn = open_offline(db)
        try:
            replayed = rebuild_connection(conn)
        finally:
            conn.close()
    finally:
        lock.release()
    print(f"rebuilt the projections from {replayed} events")
    return EXIT_OK


def run(config: Config, db: Path) -> int:
    runtime = Runtime(config, db_path=db, clock=WallClock())
    refused: list[BaseException] = []
    try:
        trio.run(runtime.run)
    except* (ActorStartupError, StoreError) as group:
        refused.extend(group.exceptions)
    for exc in refused:
        print(f"b1e55ed: cannot start: {exc}", file=sys.stderr)
    return EXIT_USAGE if refused else EXIT_OK
