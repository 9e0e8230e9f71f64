"""Commanding trading from Telegram: ``/status``, ``/positions``, ``/pnl``, ``/halt``, ``/reduce``, ``/resume``,
``/why <decision id>``.

Long polling (``getUpdates``). The offset after each update is stored in ``alerts.db`` before the command runs, so
a restart never runs a command twice (one cut short by a crash is lost rather than repeated). Only the chats in
``alerts.telegram_allowed_chats`` (by default the alert chat) are obeyed; any other gets no answer, and the attempt
is logged. ``/halt``, ``/reduce`` and ``/resume`` write the same request file as ``python -m b1e55ed killswitch``,
which the kill-switch actor applies and logs. The answers come from the API's read model.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

import trio

from b1e55ed import killswitch_file
from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.channels.telegram import TelegramApi, Update
from b1e55ed.alerts.delivery import Backoff
from b1e55ed.alerts.store import TELEGRAM_OFFSET, AlertStore
from b1e55ed.health import ActorHealth

logger = logging.getLogger(__name__)


class Reads(Protocol):
    """What the commands read: the API's read model (``b1e55ed.api.queries.ReadModel``) answers them all."""

    async def health(self) -> dict[str, Any]: ...

    async def positions(self) -> list[dict[str, Any]]: ...

    async def strategies(self) -> list[dict[str, Any]]: ...

    async def equity_curve(self, *, limit: int = 500) -> list[dict[str, Any]]: ...

    async def decision(self, decision_id: str) -> dict[str, Any] | None: ...


HELP = "commands: /status /positions /pnl /halt /reduce /resume /why <decision id>"


class TelegramControl:
    def __init__(
        self,
        api: TelegramApi,
        *,
        read: Reads,
        db: Path,
        store_path: Path,
        allowed_chats: frozenset[int],
        poll_s: int,
        backoff: Backoff,
        rng: random.Random,
        health: ActorHealth,
    ) -> None:
        self._api = api
        self._read = read
        self._db = db
        self._store_path = store_path
        self._allowed = allowed_chats
        self._poll_s = poll_s
        self._backoff = backoff
        self._rng = rng
        self._health = health
        self._commands: dict[str, Callable[[str], Awaitable[str]]] = {
            "/status": self._status,
            "/positions": self._positions,
            "/pnl": self._pnl,
            "/halt": self._request("halt"),
            "/reduce": self._request("reduce"),
            "/resume": self._request("resume"),
            "/why": self._why,
            "/help": self._help,
            "/start": self._help,
        }

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        store = await AlertStore.open(self._store_path)  # its own connection: the offset is its alone
        try:
            task_status.started()
            await self._poll(store)
        finally:
            with trio.CancelScope(shield=True):
                await store.close()

    async def _poll(self, store: AlertStore) -> None:
        failures = 0
        while True:
            offset = await store.cursor(TELEGRAM_OFFSET)
            try:
                updates = await self._api.updates(offset, self._poll_s)
            except DeliveryFailed as exc:
                failures += 1
                delay = (
                    exc.retry_after
                    if exc.retry_after is not None
                    else self._backoff.delay_s(failures, self._rng.random())
                )
                self._health.degraded(f"getUpdates failed: {exc}")
                logger.warning("telegram commands: getUpdates failed (next in %.1f s): %s", delay, exc)
                await trio.sleep(delay)
                continue
            failures = 0
            self._health.recovered()
            for update in updates:
                await store.set_cursor(TELEGRAM_OFFSET, update.update_id + 1)  # before it runs: never twice
                await self._handle(update)

    async def _handle(self, update: Update) -> None:
        message = update.message
        if message is None or not message.text.startswith("/"):
            return
        chat = message.chat.id
        command, _, argument = message.text.strip().partition(" ")
        command = command.split("@", 1)[0].lower()  # "/status@SomeBot" in groups
        if chat not in self._allowed:
            logger.warning("telegram: %s from chat %d refused: not in alerts.telegram_allowed_chats", command, chat)
            return
        handler = self._commands.get(command)
        try:
            answer = await handler(argument.strip()) if handler else f"unknown command {command}; {HELP}"
        except Exception as exc:  # a read that failed is said to the person, and the poller carries on
            logger.exception("telegram: %s failed", command)
            answer = f"{command} failed: {type(exc).__name__}"
        logger.info("telegram: %s from chat %d", command, chat)
        try:
            await self._api.send(chat, answer)
        except DeliveryFailed as exc:
            logger.warning("telegram: could not answer %s: %s", command, exc)

    async def _help(self, argument: str) -> str:
        return HELP

    async def _status(self, argument: str) -> str:
        health = await self._read.health()
        cycle = health["last_cycle"]
        lines = [f"trading {health['killswitch']}, {health['status']}"]
        if cycle is not None:
            lines.append(
                f"cycle {cycle['cycle']} (as of {cycle['as_of']}): equity {cycle['equity']:,.2f}, "
                f"exposure {cycle['exposure']:.2f}, {cycle['open_positions']} open"
            )
        troubled = [f"{name} {snap['state']}" for name, snap in health["actors"].items() if snap["state"] != "running"]
        if troubled:
            lines.append("not running: " + ", ".join(troubled))
        return "\n".join(lines)

    async def _positions(self, argument: str) -> str:
        positions = await self._read.positions()
        if not positions:
            return "no open positions"
        return "\n".join(_position(p) for p in positions)

    async def _pnl(self, argument: str) -> str:
        strategies = await self._read.strategies()
        positions = await self._read.positions()
        realised = sum(s["pnl"] for s in strategies)
        unrealised = sum(p["pnl"] or 0.0 for p in positions)
        curve = await self._read.equity_curve(limit=1)
        equity = f"equity {curve[-1]['equity']:,.2f}; " if curve else ""
        per = ", ".join(f"{s['name']} {s['pnl']:+,.2f} ({s['trades']} trades)" for s in strategies if s["trades"])
        return f"{equity}realised {realised:+,.2f}, unrealised {unrealised:+,.2f}" + (f"\n{per}" if per else "")

    def _request(self, command: str) -> Callable[[str], Awaitable[str]]:
        async def request(argument: str) -> str:
            killswitch_file.request(self._db, command, note="requested from Telegram")
            state = killswitch_file.COMMANDS[command]
            return f"{command} requested: trading goes {state} at the kill switch's next poll"

        return request

    async def _why(self, argument: str) -> str:
        if not argument:
            return "usage: /why <decision id>"
        found = await self._read.decision(argument)
        if found is None:
            return f"no decision {argument}"
        return _decision(found)


def _position(p: dict[str, Any]) -> str:
    pnl = "?" if p["pnl"] is None else f"{p['pnl']:+,.2f}"
    mark = "?" if p["mark"] is None else f"{p['mark']:,.6g}"
    return (
        f"{p['symbol']} {p['side']} {p['size']:g} @ {p['entry_price']:,.6g}, mark {mark}, P&L {pnl}, "
        f"stop {p['stop']:,.6g}, target {p['target']:,.6g}; decision {p['position_id']}"
    )


def _decision(d: dict[str, Any]) -> str:
    taken = "taken" if d["taken"] else "not taken"
    lines = [f"{d['strategy']} {d['symbol']} {d['direction'] or ''} cycle {d['cycle']}: {taken} ({d['reason']})"]
    for p in d["producers"]:
        calibrated = "" if p["calibrated"] is None else f", P(win) {p['calibrated']:.2f}"
        lines.append(f"- {p['producer']}: {p['signal']} conviction {p['conviction']}{calibrated}")
    if d["sizing"]:
        lines.append("sizing: " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(d["sizing"].items())))
    for check in d["checks"]:
        lines.append(f"{'✓' if check['passed'] else '✗'} {check['name']}: {check['detail']}")
    return "\n".join(lines)
