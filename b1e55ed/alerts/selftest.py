"""``python -m b1e55ed alerts test``: one test message to every configured channel, and each one's result."""

from __future__ import annotations

import argparse

import httpx
import trio

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.triggers import Notice
from b1e55ed.alerts.wiring import channels
from b1e55ed.clock import WallClock
from b1e55ed.config import Config

TEXT = "test alert from b1e55ed: this channel works"


def add_alerts_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    alerts = commands.add_parser("alerts", help="send one test message to every configured alert channel")
    alerts.add_argument("action", choices=["test"])


async def send_test(config: Config) -> list[tuple[str, str]]:
    """(channel, "sent" or why not) for each channel, every one tried once, within ``alerts.timeout_s``."""
    notice = Notice(trigger="test", severity="info", text=TEXT, ts=WallClock().now_ms())
    results: list[tuple[str, str]] = []
    async with httpx.AsyncClient() as http:
        found, _ = channels(config, http, pages=True)
        for channel in found:
            try:
                with trio.fail_after(config.alerts.timeout_s + 1):
                    await channel.send(notice)
            except DeliveryFailed as exc:
                results.append((channel.name, f"failed: {exc}"))
            except trio.TooSlowError:
                results.append((channel.name, f"failed: no answer within {config.alerts.timeout_s:g} s"))
            else:
                results.append((channel.name, "sent"))
    return results


def alerts_test(config: Config) -> int:
    """Print each channel's result; exit 0 when every one took the message, 1 otherwise."""
    results = trio.run(send_test, config)
    for name, outcome in results:
        print(f"{name}: {outcome}")
    return 0 if all(outcome == "sent" for _, outcome in results) else 1
