"""JSON over HTTP for the collectors: one request at a time, inside a weight budget, retried when the world fails.

Every public market-data API we collect from rate-limits per IP by request weight (Binance spot 6,000 a minute,
USD-M futures 2,400, Hyperliquid 1,200), so every request names its ``WeightBudget`` and weight and waits for it
first. The retries are ``b1e55ed.jsonhttp``'s: a 429 ("slow down") or 418 (Binance's ban after ignored 429s) is
retried after ``Retry-After`` seconds when the server says, else after a doubling backoff; so are 5xx and
connection faults. A ban longer than ``max_retry_after_s`` is not waited out: the command stops and says when to
come back.

Errors::

    CollectError (Exception)     the request or its answer is wrong: a 4xx other than 429/418, an answer that is
    │                            not JSON or not in the documented shape. Retrying will not help.
    └── CollectUnavailable       the outside world failed: 429, 418, 5xx, connect errors or timeouts, still failing
                                 after ``max_retries`` retries (or a ``Retry-After`` beyond what we wait).

Both name the endpoint (method, URL and query or request type) so the message says what failed. Cancellation is
never retried: only httpx's own errors are caught.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

import httpx
import msgspec

from b1e55ed.httperrors import EndpointError, EndpointUnavailable
from b1e55ed.jsonhttp import ErrorNames, JsonClient, RetryPolicy
from b1e55ed.ratelimit import WeightBudget

T = TypeVar("T")


class CollectError(EndpointError):
    """A request failed for a reason a retry will not cure; the message names the endpoint."""


class CollectUnavailable(CollectError, EndpointUnavailable):
    """The server or the network did not answer usefully, even after the retries."""


COLLECT_ERRORS: Final = ErrorNames(refused=CollectError, unavailable=CollectUnavailable)
COLLECT_POLICY: Final = RetryPolicy(max_retries=5, backoff_max_s=60.0, timeout_s=30.0)
"""A batch job can afford to wait: 1+2+4+8+16 s over five retries, and a ban of up to 15 minutes."""


class JsonFetcher:
    """GET and POST returning decoded JSON, over an injected ``httpx.AsyncClient`` (a ``MockTransport`` in tests).

    ``requests`` counts what was sent, retries included, so reports can say what a run cost.
    """

    def __init__(self, http: httpx.AsyncClient, policy: RetryPolicy = COLLECT_POLICY) -> None:
        self._json = JsonClient(http, policy, errors=COLLECT_ERRORS)

    @property
    def requests(self) -> int:
        return self._json.requests

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
        return await self._json.send("GET", url, endpoint, decoder, params=params, budget=budget, weight=weight)

    async def post(
        self, url: str, body: Mapping[str, Any], decoder: msgspec.json.Decoder[T], *, budget: WeightBudget, weight: int
    ) -> T:
        """POST ``body`` as JSON; the endpoint is named by URL and the body's fields other than times."""
        shown = " ".join(f"{key}={value}" for key, value in body.items() if not key.endswith("Time"))
        endpoint = f"POST {url} {shown}".rstrip()
        return await self._json.send("POST", url, endpoint, decoder, body=body, budget=budget, weight=weight)
