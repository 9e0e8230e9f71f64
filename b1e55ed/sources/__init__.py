"""Small typed HTTP clients for the outside data the social and whale producers read: Apify, Reddit, Allium.

Each client takes an injected ``httpx.AsyncClient`` and a base URL (tests pass a ``MockTransport``), sends one
documented request per method through ``JsonApi`` and decodes the answer with msgspec into typed structs.
``JsonApi`` retries what a retry can cure — 429 (honouring ``Retry-After``), 5xx, connection faults — a bounded
number of times with doubling backoff, in trio time (autojump-clock tests never really sleep); the caller bounds
the total with its own timeout, as the producer stage does.

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
import trio

from b1e55ed.httperrors import EndpointError, EndpointUnavailable, excerpt, retry_after_s

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


class JsonApi:
    """JSON over HTTP with bounded retries, typed decoding and redacted errors; shared by every source client.

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
        if max_retries < 0 or timeout_s <= 0 or backoff_initial_s <= 0 or backoff_max_s < backoff_initial_s:
            raise ValueError("JsonApi needs max_retries >= 0, timeout_s > 0 and 0 < backoff_initial_s <= max")
        self._http = http
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers or {})
        self._secrets = tuple(s for s in secrets if s)
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._backoff_initial_s = backoff_initial_s
        self._backoff_max_s = backoff_max_s
        self._observe = observe

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
        content = None if body is None else msgspec.json.encode(body)
        headers = dict(self._headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(self._max_retries + 1):
            retry_in = min(self._backoff_max_s, self._backoff_initial_s * 2.0 ** min(attempt, 32))
            status: int | None = None
            try:
                response = await self._http.request(
                    method,
                    self.base_url + path,
                    params=params,
                    content=content,
                    headers=headers,
                    timeout=self._timeout_s,
                )
            except httpx.TransportError as exc:  # connect errors, timeouts, dropped connections: transient
                failure = self._redact(f"{type(exc).__name__}: {exc}")
            except httpx.HTTPError as exc:
                raise SourceError(endpoint, self._redact(f"{type(exc).__name__}: {exc}")) from None
            else:
                status = response.status_code
                if self._observe is not None:
                    self._observe(response.headers)
                if 200 <= status < 300:
                    return self._decode(endpoint, response.content, decoder)
                if status == 429:
                    after = retry_after_s(response.headers, RETRY_AFTER_CAP_S)
                    retry_in = retry_in if after is None else after
                elif status < 500:
                    raise SourceError(endpoint, self._redact(excerpt(response.text)), status=status)
                failure = self._redact(excerpt(response.text)) or response.reason_phrase
            if attempt == self._max_retries:
                raise SourceUnavailable(
                    endpoint, f"{failure} (gave up after {self._max_retries} retries)", status=status
                )
            why = f"HTTP {status}" if status is not None else failure
            logger.warning(
                "%s failed (%s); retry %d/%d in %.1f s", endpoint, why, attempt + 1, self._max_retries, retry_in
            )
            await trio.sleep(retry_in)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _decode(self, endpoint: str, content: bytes, decoder: msgspec.json.Decoder[T]) -> T:
        try:
            return decoder.decode(content)
        except msgspec.ValidationError as exc:
            raise SourceError(endpoint, self._redact(f"unexpected answer: {exc}")) from None
        except msgspec.DecodeError as exc:
            raise SourceError(endpoint, self._redact(f"answer is not JSON ({exc}): {excerpt(content)}")) from None

    def _redact(self, text: str) -> str:
        return redact(text, self._secrets)
