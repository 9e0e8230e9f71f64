"""JSON over HTTP for the collectors: one request at a time, inside a weight budget, retried when the world fails.

Every public market-data API we collect from rate-limits per IP by request weight (Binance spot 6,000 a minute,
USD-M futures 2,400, Hyperliquid 1,200), so every request names its ``WeightBudget`` and weight and waits for it
first. A 429 ("slow down") or 418 (Binance's ban after ignored 429s) is retried after ``Retry-After`` seconds when
the server says, else after a doubling backoff; so are 5xx and connection faults. A ban longer than
``max_retry_after_s`` is not waited out: the command stops and says when to come back.

Errors::

    CollectError (Exception)     the request or its answer is wrong: a 4xx other than 429/418, an answer that is
    │                            not JSON or not in the documented shape. Retrying will not help.
    └── CollectUnavailable       the outside world failed: 429, 418, 5xx, connect errors or timeouts, still failing
                                 after ``max_retries`` retries (or a ``Retry-After`` beyond what we wait).

Both name the endpoint (method, URL and query or request type) so the message says what failed. Cancellation is
never retried: only httpx's own errors are caught.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec
import trio

from b1e55ed.httperrors import EndpointError, EndpointUnavailable, excerpt, retry_after_s
from b1e55ed.venues.hl_info import WeightBudget

logger = logging.getLogger(__name__)

RETRY_STATUSES: Final = frozenset({429, 418})  # rate limited, or banned for ignoring the rate limit

T = TypeVar("T")


class CollectError(EndpointError):
    """A request failed for a reason a retry will not cure; the message names the endpoint."""


class CollectUnavailable(CollectError, EndpointUnavailable):
    """The server or the network did not answer usefully, even after the retries."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to keep trying. The defaults wait 1+2+4+8+16 s over five retries: a batch job can afford it."""

    max_retries: int = 5
    backoff_initial_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 900.0
    timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.max_retries < 0 or self.timeout_s <= 0 or not 0 < self.backoff_initial_s <= self.backoff_max_s:
            raise ValueError("RetryPolicy needs max_retries >= 0, timeout_s > 0 and 0 < backoff_initial_s <= max")

    def backoff_s(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempt, 32))


class JsonFetcher:
    """GET and POST returning decoded JSON, over an injected ``httpx.AsyncClient`` (a ``MockTransport`` in tests).

    ``requests`` counts what was sent, retries included, so reports can say what a run cost.
    """

    def __init__(self, http: httpx.AsyncClient, policy: RetryPolicy | None = None) -> None:
        self._http = http
        self.policy = policy if policy is not None else RetryPolicy()
        self.requests = 0

    async def get(
        self,
        url: str,
        params: Mapping[str, str | int],
        decoder: msgspec.json.Decoder[T],
        *,
        budget: WeightBudget,
        weight: int,
    ) -> T:
        endpoint = f"GET {url}?{urlencode(params)}" if params else f"GET {url}"
        request = self._http.build_request("GET", url, params=params, timeout=self.policy.timeout_s)
        return await self._send(endpoint, request, decoder, budget, weight)

    async def post(
        self, url: str, body: Mapping[str, Any], decoder: msgspec.json.Decoder[T], *, budget: WeightBudget, weight: int
    ) -> T:
        """POST ``body`` as JSON; the endpoint is named by URL and the body's fields other than times."""
        shown = " ".join(f"{key}={value}" for key, value in body.items() if not key.endswith("Time"))
        endpoint = f"POST {url} {shown}".rstrip()
        request = self._http.build_request(
            "POST",
            url,
            content=msgspec.json.encode(body),
            headers={"Content-Type": "application/json"},
            timeout=self.policy.timeout_s,
        )
        return await self._send(endpoint, request, decoder, budget, weight)

    async def _send(
        self,
        endpoint: str,
        request: httpx.Request,
        decoder: msgspec.json.Decoder[T],
        budget: WeightBudget,
        weight: int,
    ) -> T:
        policy = self.policy
        for attempt in range(policy.max_retries + 1):
            await budget.spend(weight)
            self.requests += 1
            response, failure = await self._exchange(endpoint, request)
            status = None if response is None else response.status_code
            retry_in = policy.backoff_s(attempt)
            if response is not None:
                if 200 <= response.status_code < 300:
                    return _decode(endpoint, response.content, decoder)
                if response.status_code < 500 and response.status_code not in RETRY_STATUSES:
                    raise CollectError(endpoint, excerpt(response.text), status=status)
                if response.status_code in RETRY_STATUSES:
                    budget.drain()  # our count was optimistic (another process on this IP?): start from empty
                retry_after = retry_after_s(response.headers)
                if retry_after is not None and retry_after > policy.max_retry_after_s:
                    detail = f"told to wait {retry_after:.0f} s (Retry-After); try again later"
                    raise CollectUnavailable(endpoint, detail, status=status)
                retry_in = retry_in if retry_after is None else retry_after
            if attempt == policy.max_retries:
                raise CollectUnavailable(endpoint, f"{failure} (gave up after {attempt} retries)", status=status)
            why = f"HTTP {status}" if status is not None else failure
            retry = f"{attempt + 1}/{policy.max_retries}"
            logger.warning("%s failed (%s); retry %s in %.1f s", endpoint, why, retry, retry_in)
            await trio.sleep(retry_in)
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _exchange(self, endpoint: str, request: httpx.Request) -> tuple[httpx.Response | None, str]:
        """The response and, for the log, why it is a failure; or None and why there was no response."""
        try:
            # trio's deadline besides httpx's: it also bounds a transport that ignores httpx's timeouts
            with trio.move_on_after(self.policy.timeout_s):
                response = await self._http.send(request)
                if response.is_success:
                    return response, ""
                return response, excerpt(response.text) or response.reason_phrase
        except httpx.TransportError as exc:  # connect errors, timeouts, dropped connections: transient
            return None, f"{type(exc).__name__}: {exc}"
        except httpx.HTTPError as exc:  # anything else httpx raises (redirect loops, bad encodings)
            raise CollectError(endpoint, f"{type(exc).__name__}: {exc}") from exc
        return None, f"no answer within {self.policy.timeout_s:g} s"


def _decode(endpoint: str, content: bytes, decoder: msgspec.json.Decoder[T]) -> T:
    try:
        return decoder.decode(content)
    except msgspec.ValidationError as exc:
        raise CollectError(endpoint, f"unexpected answer: {exc}") from None
    except msgspec.DecodeError as exc:
        raise CollectError(endpoint, f"answer is not JSON ({exc}): {excerpt(content)}") from None
