"""Helpers for the alert tests (no tests here): a runtime with alerts on a fake Telegram, and waiting for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from b1e55ed.alerts.store import AlertStore, alerts_db_path
from b1e55ed.clock import WallClock
from b1e55ed.config import Config, load_config
from b1e55ed.messages import Alert
from b1e55ed.runtime import ActorsBuilder, Runtime, Supervised, no_actors

TOKEN = "123456:TEST-token-4f1b"
CHAT = 4242


def alerts_config(tmp_path: Path, url: str, *, token: str = TOKEN, **env: str) -> Config:
    environ = {
        "B1E55ED_API__ENABLED": "false",
        "B1E55ED_KEYS__TELEGRAM_BOT_TOKEN": token,
        "B1E55ED_ALERTS__TELEGRAM_CHAT_ID": str(CHAT),
        "B1E55ED_ALERTS__TELEGRAM_URL": url,
        "B1E55ED_LOGGING__DIR": str(tmp_path / "logs"),
        "B1E55ED_ALERTS__BACKOFF_INITIAL_S": "0.05",
        "B1E55ED_ALERTS__BACKOFF_MAX_S": "0.4",
        "B1E55ED_ALERTS__TIMEOUT_S": "1",
        "B1E55ED_ALERTS__RATE_PER_MIN": "1000",
        "B1E55ED_ALERTS__TELEGRAM_POLL_S": "1",
        "B1E55ED_RUNTIME__SHUTDOWN_TIMEOUT_S": "3",
    }
    return load_config(environ=environ | {f"B1E55ED_{k.upper()}": v for k, v in env.items()}, env_file=None)


def smtp_settings(port: int) -> dict[str, str]:
    """Email through the loopback SMTP server on ``port``, as the user ``bot``, in clear (a loopback relay)."""
    return {
        "alerts__smtp__host": "127.0.0.1",
        "alerts__smtp__port": str(port),
        "alerts__smtp__security": "none",
        "alerts__smtp__username": "bot",
        "alerts__smtp__sender": "brain@example.com",
        "alerts__smtp__recipients": "[owner@example.com]",
    }


def alert(n: int, text: str = "fill for an order the log does not know") -> Alert:
    return Alert(ts=1_700_000_000_000 + n, severity="critical", source="oms", message=f"{text} #{n}")


async def until(condition: Callable[[], bool], timeout_s: float = 10.0, what: str = "the condition") -> None:
    with trio.move_on_after(timeout_s):
        while not condition():  # noqa: ASYNC110 - what it waits for happens in another thread (the fake server)
            await trio.sleep(0.01)
    assert condition(), f"{what} did not happen within {timeout_s} s"


@asynccontextmanager
async def running(config: Config, db: Path, actors: ActorsBuilder = no_actors) -> AsyncIterator[Runtime]:
    """A runtime with the given actors, stopped (and its alerter finished) when the block ends."""
    runtime = Runtime(config, db_path=db, clock=WallClock())
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run, actors)
        yield runtime
        runtime.request_stop("test over")


def with_actors(*members: Callable[[Runtime], Supervised]) -> ActorsBuilder:
    def build(runtime: Runtime) -> Sequence[Supervised]:
        return [member(runtime) for member in members]

    return build


async def deliveries(db: Path) -> list[dict[str, object]]:
    """Every alert in alerts.db with its delivery state per channel, oldest first."""
    store = await AlertStore.open(alerts_db_path(db))
    try:
        return list(reversed(await store.latest(100_000)))
    finally:
        await store.close()
