"""JSON over HTTP with one retry policy: what every client of an outside API sends its requests through.

A request waits for its weight in a ``WeightBudget`` when it has one, is sent over an injected
``httpx.AsyncClient`` (a ``MockTransport`` in tests), and its answer is decoded with msgspec into typed structs.
What a retry can cure is retried, a bounded number of times, in trio time (autojump-clock tests never really sleep):

- 429 and the policy's other ``retry_statuses`` (Binance's 418 ban), after ``Retry-After`` when the server says,
  and with the budget drained (our count was optimistic: another process on this IP?);
- 5xx, connection faults, timeouts, and an answer that does not come within ``timeout_s`` of trio time;
- a ``Retry-After`` beyond ``max_retry_after_s`` is not waited out: the error says when to come back.

Anything else is the request's fault, raised at once. Each client keeps its own error names (``InfoError``,
``SourceError``, ``CollectError`` …): ``ErrorNames`` says which to raise, and every message names the endpoint, the
status when there was one, and never a secret (``redact``). Cancellation is never retried: only httpx's errors are.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import httpx
import msgspec
import trio

from b1e55ed.httperrors import EndpointError, EndpointUnavailable, excerpt, retry_after_s
from b1e55ed.ratelimit import WeightBudget

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying: ``max_retries`` retries after doubling backoff, each attempt within ``timeout_s``."""

    max_retries: int = 3
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 30.0
    timeout_s: float = 10.0
    retry_after_cap_s: float = math.inf  # a longer Retry-After is waited as this (a feed must not sleep for hours)
    max_retry_after_s: float = 900.0  # a longer Retry-After is not waited at all: unavailable, come back later
    retry_statuses: frozenset[int] = frozenset({429, 418})  # besides 5xx: rate limited, or banned for ignoring it

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.timeout_s <= 0 or not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ValueError("RetryPolicy needs max_retries >= 0, timeout_s > 0 and 0 < backoff_initial_s <= max")

    def backoff_s(self, attempt: int) -> float:
        """The wait after attempt ``attempt`` (0-based) failed."""
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempt, 32))


class ErrorFactory(Protocol):
    def __call__(self, endpoint: str, detail: str, *, status: int | None = None) -> EndpointError: ...


@dataclass(frozen=True, slots=True)
class ErrorNames:
    """A client's own errors: ``refused`` (a retry will not cure it) and ``unavailable`` (the world failed)."""

    refused: ErrorFactory = EndpointError
    unavailable: ErrorFactory = EndpointUnavailable


def _as_is(text: str) -> str:
    return text


class JsonClient:
    """Sends JSON requests by one ``RetryPolicy`` and decodes the answers; ``requests`` counts what was sent.

    ``observe`` sees the headers of every answer (Reddit paces itself on its ``X-Ratelimit-*`` headers)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        policy: RetryPolicy | None = None,
        *,
        errors: ErrorNames | None = None,
        redact: Callable[[str], str] = _as_is,
        observe: Callable[[httpx.Headers], None] | None = None,
    ) -> None:
        self.http = http
        self.policy = policy if policy is not None else RetryPolicy()
        self._errors = errors if errors is not None else ErrorNames()
        self._redact = redact
        self._observe = observe
        self.requests = 0

    async def send(
        self,
        method: str,
        url: str,
        endpoint: str,
        decoder: msgspec.json.Decoder[T],
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        budget: WeightBudget | None = None,
        weight: int = 0,
    ) -> T:
        """Send one request (``endpoint`` names it in messages and logs) and decode its answer."""
        policy, errors = self.policy, self._errors
        all_headers = dict(headers or {})
        content = None
        if body is not None:
            content = msgspec.json.encode(body)
            all_headers["Content-Type"] = "application/json"
        request = self.http.build_request(
            method, url, params=params, content=content, headers=all_headers, timeout=policy.timeout_s
        )
        for attempt in range(policy.max_retries + 1):
            if budget is not None:
                await budget.spend(weight)
            self.requests += 1
            retry_in = policy.backoff_s(attempt)
            response, failure = await self._exchange(endpoint, request)
            status = None if response is None else response.status_code
            if response is not None:
                if response.is_success:
                    return self._decode(endpoint, response.content, decoder)
                if response.status_code < 500 and response.status_code not in policy.retry_statuses:
                    raise errors.refused(endpoint, failure, status=status)
                if response.status_code in policy.retry_statuses and budget is not None:
                    budget.drain()
                retry_after = retry_after_s(response.headers)
                if retry_after is not None and retry_after > policy.max_retry_after_s:
                    detail = f"told to wait {retry_after:.0f} s (Retry-After); try again later"
                    raise errors.unavailable(endpoint, detail, status=status)
                if retry_after is not None:
                    retry_in = min(retry_after, policy.retry_after_cap_s)
            if attempt == policy.max_retries:
                raise errors.unavailable(endpoint, f"{failure} (gave up after {attempt} retries)", status=status)
            why = f"HTTP {status}" if status is not None else failure
            retry = f"{attempt + 1}/{policy.max_retries}"
            logger.warning("%s failed (%s); retry %s in %.1f s", endpoint, why, retry, retry_in)
            await trio.sleep(retry_in)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _exchange(self, endpoint: str, request: httpx.Request) -> tuple[httpx.Response | None, str]:
        """The response and, for messages, why it is a failure; or None and why there was no response."""
        try:
            # trio's deadline besides httpx's: it also bounds a transport that ignores httpx's timeouts
            with trio.move_on_after(self.policy.timeout_s):
                response = await self.http.send(request)
                if self._observe is not None:
                    self._observe(response.headers)
                if response.is_success:
                    return response, ""
                return response, self._redact(excerpt(response.text)) or response.reason_phrase
        except httpx.TransportError as exc:  # connect errors, timeouts, dropped connections: transient
            return None, self._redact(f"{type(exc).__name__}: {exc}")
        except httpx.HTTPError as exc:  # anything else httpx raises (redirect loops, bad encodings)
            raise self._errors.refused(endpoint, self._redact(f"{type(exc).__name__}: {exc}")) from None
        return None, f"no answer within {self.policy.timeout_s:g} s"

    def _decode(self, endpoint: str, content: bytes, decoder: msgspec.json.Decoder[T]) -> T:
        try:
            return decoder.decode(content)
        except msgspec.ValidationError as exc:
            raise self._errors.refused(endpoint, self._redact(f"unexpected answer: {exc}")) from None
        except msgspec.DecodeError as exc:
            detail = f"answer is not JSON ({exc}): {excerpt(content)}"
            raise self._errors.refused(endpoint, self._redact(detail)) from None
