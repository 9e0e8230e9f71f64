"""Small typed HTTP clients for the outside data the social and whale producers read: Apify, Reddit, Allium.

Each client takes an injected ``httpx.AsyncClient`` and a base URL (tests pass a ``MockTransport``), sends one
documented request per method through ``JsonApi`` and decodes the answer with msgspec into typed structs.
``JsonApi`` sends through ``b1e55ed.jsonhttp``, which retries what a retry can cure — 429 (honouring
``Retry-After``), 5xx, connection faults — a bounded number of times with doubling backoff, in trio time; the
caller bounds the total with its own timeout, as the producer stage does.

Errors::

    SourceError (Exception)     the request or its answer is wrong: a 4xx other than 429, a body that is not JSON
    │                           or not in the documented shape, a remote job that failed. Retrying will not help.
    └── SourceUnavailable       the outside world failed: 429, 5xx or network faults still failing after the
                                retries, or a remote job that did not finish in time.

Every error names the endpoint as a template (``GET /v2/actor-runs/{runId}``), never the URL with its query, and
secrets (API tokens) are replaced by ``***`` in every message: a token must never reach a log or the event log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import httpx
import msgspec

from b1e55ed.httperrors import EndpointError, EndpointUnavailable
from b1e55ed.jsonhttp import ErrorNames, JsonClient, RetryPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")

RETRY_AFTER_CAP_S: Final = 60.0  # a longer Retry-After is cut to this; the caller's timeout decides anyway


@dataclass(frozen=True, slots=True)
class Post:
    """One social post, whatever its platform: what mention counting needs and nothing more."""

    source: str  # "reddit", "tiktok", "twitter"
    id: str
    text: str
    ts_ms: int


class SourceError(EndpointError):
    """A request to a data source failed for a reason a retry will not cure."""


class SourceUnavailable(SourceError, EndpointUnavailable):
    """The source did not answer usefully (429, 5xx, network, a job still running) even after waiting."""


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


SOURCE_ERRORS: Final = ErrorNames(refused=SourceError, unavailable=SourceUnavailable)


class JsonApi:
    """A source's base URL, headers and secrets over ``JsonClient``: bounded retries, typed decoding, redacted
    errors; shared by every source client.

    ``observe`` sees the headers of every answer (Reddit paces itself on its ``X-Ratelimit-*`` headers).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        secrets: Iterable[str] = (),
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        observe: Callable[[httpx.Headers], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        secrets = tuple(s for s in secrets if s)
        policy = RetryPolicy(
            max_retries=max_retries,
            backoff_initial_s=backoff_initial_s,
            backoff_max_s=backoff_max_s,
            timeout_s=timeout_s,
            retry_after_cap_s=RETRY_AFTER_CAP_S,
        )
        self._json = JsonClient(
            http, policy, errors=SOURCE_ERRORS, redact=lambda text: redact(text, secrets), observe=observe
        )

    async def request(
        self,
        method: str,
        path: str,
        endpoint: str,
        decoder: msgspec.json.Decoder[T],
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> T:
        """Send one request (``path`` already filled in; ``endpoint`` is its template, for messages)."""
        url = self.base_url + path
        return await self._json.send(method, url, endpoint, decoder, params=params, body=body, headers=self._headers)
