"""Telegram's Bot API over httpx (``JsonClient``): ``sendMessage`` for alerts, ``getUpdates`` for commands.

The token is in the URL path (``/bot<TOKEN>/method``), so every message this module builds masks it; the base URL
is ``alerts.telegram_url`` (a loopback fake in tests). Telegram says how long to wait after a 429 in the body's
``parameters.retry_after``; it is honoured.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.triggers import Notice
from b1e55ed.httperrors import EndpointError, EndpointUnavailable
from b1e55ed.jsonhttp import JsonClient, RetryPolicy
from b1e55ed.secret import Secret

MAX_TEXT = 4096  # Telegram's limit on a message's length
_RETRY_AFTER = re.compile(r'"retry_after"\s*:\s*(\d+(?:\.\d+)?)')
_REFUSED = frozenset({400, 401, 403, 404})


class Chat(msgspec.Struct, frozen=True):
    id: int


class Message(msgspec.Struct, frozen=True):
    chat: Chat
    text: str = ""


class Update(msgspec.Struct, frozen=True):
    update_id: int
    message: Message | None = None


class _Sent(msgspec.Struct, frozen=True):
    ok: bool
    description: str = ""


class _Updates(msgspec.Struct, frozen=True):
    ok: bool
    result: list[Update] = msgspec.field(default_factory=list)
    description: str = ""


_SENT = msgspec.json.Decoder(_Sent)
_UPDATES = msgspec.json.Decoder(_Updates)


class TelegramApi:
    """One bot: ``send`` a message to a chat, read ``updates`` by long polling. Failures are ``DeliveryFailed``."""

    def __init__(self, http: httpx.AsyncClient, *, base_url: str, token: Secret, timeout_s: float) -> None:
        self._base = f"{base_url.rstrip('/')}/bot"
        self._token = token

        def redact(text: str) -> str:
            return text.replace(token.reveal(), "***") if token else text

        self._redact = redact
        self._client = JsonClient(http, RetryPolicy(max_retries=0, timeout_s=timeout_s), redact=redact)
        self._http = http
        self._timeout_s = timeout_s

    async def send(self, chat_id: int, text: str) -> None:
        body = {"chat_id": chat_id, "text": text[:MAX_TEXT], "disable_web_page_preview": True}
        answer: _Sent = await self._call("sendMessage", _SENT, body, self._client)
        if not answer.ok:
            raise DeliveryFailed(f"telegram sendMessage: {self._redact(answer.description)}", permanent=True)

    async def updates(self, offset: int, poll_s: int) -> list[Update]:
        """Updates from ``offset`` on, waiting up to ``poll_s`` seconds for one (long polling)."""
        client = JsonClient(
            self._http, RetryPolicy(max_retries=0, timeout_s=self._timeout_s + poll_s), redact=self._redact
        )
        body = {"offset": offset, "timeout": poll_s, "allowed_updates": ["message"]}
        answer: _Updates = await self._call("getUpdates", _UPDATES, body, client)
        if not answer.ok:
            raise DeliveryFailed(f"telegram getUpdates: {self._redact(answer.description)}", permanent=True)
        return answer.result

    async def _call(self, method: str, decoder: msgspec.json.Decoder[Any], body: Any, client: JsonClient) -> Any:
        url = f"{self._base}{self._token.reveal()}/{method}"
        try:
            return await client.send("POST", url, f"telegram {method}", decoder, body=body)
        except EndpointError as exc:
            found = _RETRY_AFTER.search(exc.detail)
            retry_after = float(found[1]) if found else None
            permanent = not isinstance(exc, EndpointUnavailable) and exc.status in _REFUSED
            raise DeliveryFailed(str(exc), retry_after=retry_after, permanent=permanent) from None


class TelegramChannel:
    name = "telegram"
    limited = True

    def __init__(self, api: TelegramApi, chat_id: int) -> None:
        self._api = api
        self._chat_id = chat_id

    async def send(self, notice: Notice) -> None:
        await self._api.send(self._chat_id, notice.render())
