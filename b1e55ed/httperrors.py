"""Errors of the HTTP clients (collectors, Hyperliquid's info API, social and on-chain sources).

    EndpointError            (a WorldError) a request failed for a reason a retry will not cure: fix the
     │                       request or the data
     └── EndpointUnavailable (also an Unavailable) the server or the network did not answer usefully, even after
                             the retries

(See ``b1e55ed.errors`` for the whole tree.)

Each message names the endpoint, and the HTTP status when there was one. The helpers below are what every client
needs to build those messages and to honour ``Retry-After``.
"""

from __future__ import annotations

import math

import httpx

from b1e55ed.errors import Unavailable, WorldError

DETAIL_CHARS = 200


class EndpointError(WorldError):
    def __init__(self, endpoint: str, detail: str, *, status: int | None = None) -> None:
        where = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{endpoint}: {where}{detail}")
        self.endpoint = endpoint
        self.status = status
        self.detail = detail


class EndpointUnavailable(EndpointError, Unavailable):
    """The server or the network did not answer usefully, even after the retries."""


def excerpt(text: str | bytes) -> str:
    """The start of a response body, on one line, for an error message."""
    if isinstance(text, bytes):
        text = text[: DETAIL_CHARS * 4].decode("utf-8", errors="replace")
    text = " ".join(text[: DETAIL_CHARS * 4].split())
    return text if len(text) <= DETAIL_CHARS else text[:DETAIL_CHARS] + "…"


def retry_after_s(headers: httpx.Headers, cap_s: float = math.inf) -> float | None:
    """``Retry-After`` in seconds, capped; None when absent, negative or an HTTP date (then the backoff applies)."""
    value = headers.get("Retry-After")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, cap_s)
