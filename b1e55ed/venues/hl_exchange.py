"""Hyperliquid's ``POST /exchange``: signed actions sent with httpx inside trio, within the request-weight budget.

Errors, mapped to the venue's typed errors (``venues/base.py``)::

    VenueUnavailable       timeouts, 5xx and 429, still failing after ``max_retries`` retries
    └── VenueDisconnected  the connection could not be made, or was dropped without an answer
    ExchangeRefused        an answer that refuses the action: ``{"status": "err"}`` or a 4xx. Final; the caller
                           turns it into a rejected ``Ack``

Each retry signs the same action again with a fresh nonce (Hyperliquid refuses a nonce it has seen): an order
keeps its cloid, so a retry of an order that did get through is refused as a duplicate, never placed twice.
The request body, which holds the signature, is never logged.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import httpx
import msgspec
import trio

from b1e55ed.httperrors import excerpt, retry_after_s
from b1e55ed.hyperliquid.signing import Action, Signer, action_weight
from b1e55ed.ratelimit import WeightBudget
from b1e55ed.venues.base import VenueDisconnected, VenueUnavailable

logger = logging.getLogger(__name__)

_RETRY_AFTER_CAP_S: Final = 10.0
_JSON: Final = msgspec.json.Decoder()


class ExchangeRefused(Exception):
    """Hyperliquid answered and said no to the whole action."""


class ExchangeAnswer(msgspec.Struct, frozen=True):
    """``response`` is the ``response`` object of an ``{"status": "ok"}`` answer; ``attempts`` how many sends it
    took (more than one: an earlier attempt may have reached the exchange)."""

    response: dict[str, Any]
    attempts: int

    def statuses(self) -> list[Any]:
        data = self.response.get("data") or {}
        statuses = data.get("statuses", []) if isinstance(data, dict) else []
        return statuses if isinstance(statuses, list) else []


class ExchangeClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        signer: Signer,
        *,
        base_url: str,
        budget: WeightBudget,
        timeout_s: float = 10.0,
        max_retries: int = 2,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
    ) -> None:
        self._http = http
        self.signer = signer
        self.url = base_url.rstrip("/") + "/exchange"
        self.budget = budget
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s

    async def send(self, action: Action) -> ExchangeAnswer:
        kind = str(action.get("type"))
        disconnected = False
        failure = ""
        for attempt in range(1, self._max_retries + 2):
            await self.budget.spend(action_weight(action))
            body = msgspec.json.encode(self.signer.payload(action))
            retry_in = min(self._backoff_max_s, self._backoff_initial_s * 2.0 ** (attempt - 1))
            try:
                response = await self._http.post(
                    self.url, content=body, headers={"Content-Type": "application/json"}, timeout=self._timeout_s
                )
            except httpx.TimeoutException as exc:
                disconnected, failure = False, f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:  # refused, reset, closed without an answer
                disconnected, failure = True, f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status == 200:
                    return ExchangeAnswer(self._decode(kind, response.content), attempt)
                disconnected, failure = False, f"HTTP {status}: {excerpt(response.text)}"
                if status == 429:
                    self.budget.drain()
                    retry_in = retry_after_s(response.headers, _RETRY_AFTER_CAP_S) or retry_in
                elif status < 500:
                    raise ExchangeRefused(f"/exchange {kind}: {failure}")
            if attempt <= self._max_retries:
                logger.warning("/exchange %s failed (%s); retry %d/%d", kind, failure, attempt, self._max_retries)
                await trio.sleep(retry_in)
        error = VenueDisconnected if disconnected else VenueUnavailable
        raise error(f"/exchange {kind}: {failure} (gave up after {self._max_retries} retries)")

    @staticmethod
    def _decode(kind: str, content: bytes) -> dict[str, Any]:
        try:
            answer = _JSON.decode(content)
        except msgspec.DecodeError:
            raise VenueUnavailable(f"/exchange {kind}: answer is not JSON: {excerpt(content)}") from None
        if not isinstance(answer, dict):
            raise VenueUnavailable(f"/exchange {kind}: unexpected answer {excerpt(content)}")
        if answer.get("status") != "ok":
            raise ExchangeRefused(f"/exchange {kind}: {answer.get('response')}")
        response = answer.get("response")
        return response if isinstance(response, dict) else {"type": kind, "data": {}}
