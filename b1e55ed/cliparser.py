"""The command line's words: every command, its flags and their help. ``cli`` carries them out."""

from __future__ import annotations

import argparse
from pathlib import Path

from b1e55ed import killswitch_file
from b1e55ed.alerts.selftest import add_alerts_parser
from b1e55ed.backtest.options import add_backtest_parsers
from b1e55ed.collect.cli import add_collect_parser
from b1e55ed.scaffold.new import add_new_parser
from b1e55ed.sweep.cli import add_sweep_parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m b1e55ed", description="b1e55ed: a crypto trading brain.")
    parser.add_argument("--config", type=Path, default=None, help="YAML config file (default: config/b1e55ed.yaml)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    db_help = "event log database (default: eventlog.path from the config)"

    run = commands.add_parser("run", help="run the brain: paper trading unless the config says live (default)")
    run.add_argument("--db", type=Path, help=db_help)
    run.add_argument("--market", help="auto, sim, hyperliquid or replay:PATH (default: market.source)")
    run.add_argument("--symbols", nargs="+", metavar="SYMBOL", help="assets to trade (default: symbols)")
    run.add_argument("--from", dest="start", metavar="DATE", help="replay from this day, YYYY-MM-DD (UTC)")
    run.add_argument("--to", dest="end", metavar="DATE", help="replay up to this day, YYYY-MM-DD (UTC)")
    run.add_argument("--speed", help="replay pace: max, or a multiple of real time (default: max)")
    run.add_argument("--funding", metavar="PATH", help="funding history folder of <SYMBOL>USDT.parquet (ts, rate)")
    run.add_argument("--fear-greed", dest="fear_greed", metavar="PATH", help="Fear & Greed daily Parquet file")
    run.add_argument(
        "--live",
        action="store_true",
        help="trade real orders on Hyperliquid (mode: live); needs B1E55ED_KEYS__HYPERLIQUID_PRIVATE_KEY and "
        "hyperliquid.is_mainnet",
    )

    verify = commands.add_parser("verify", help="walk the hash chain; exit 1 naming the first bad seq")
    verify.add_argument("--db", type=Path, help=db_help)

    rebuild = commands.add_parser("rebuild", help="recreate the projection tables from the events")
    rebuild.add_argument("--db", type=Path, help=db_help)

    karma = commands.add_parser("karma", help="print karma's scorecards: producers, strategy rules, patterns")
    karma.add_argument("--db", type=Path, help=db_help)
    karma.add_argument("--producer", metavar="NAME", help="only this producer's scorecard")
    karma.add_argument("--strategy", metavar="NAME", help="only this strategy's rule and trades")
    karma.add_argument("--json", action="store_true", help="the stable JSON (version 1) instead of text")

    backup = commands.add_parser(
        "backup", help="copy the event log while the brain runs, verify the copy and print its head"
    )
    backup.add_argument("dest", type=Path, metavar="DEST", help="the copy: a new file")
    backup.add_argument("--db", type=Path, help=db_help)

    restore = commands.add_parser("restore", help="put a verified backup in place of the event log (the brain stopped)")
    restore.add_argument("src", type=Path, metavar="SRC", help="the backup")
    restore.add_argument("--db", type=Path, help=db_help)
    restore.add_argument("--force", action="store_true", help="even over a longer chain than the backup's")

    killswitch = commands.add_parser("killswitch", help="halt, reduce or resume trading in a running process")
    killswitch.add_argument("state", choices=sorted(killswitch_file.COMMANDS))
    killswitch.add_argument("--db", type=Path, help=db_help)
    add_collect_parser(commands)
    add_backtest_parsers(commands)
    add_sweep_parser(commands)
    add_new_parser(commands)
    add_alerts_parser(commands)
    return parser
