"""Errors of the HTTP clients (collectors, Hyperliquid's info API, social and on-chain sources).

    EndpointError            a request failed for a reason a retry will not cure: fix the request or the data
     └── EndpointUnavailable the server or the network did not answer usefully, even after the retries

Each message names the endpoint, and the HTTP status when there was one.
"""

from __future__ import annotations


class EndpointError(Exception):
    def __init__(self, endpoint: str, detail: str, *, status: int | None = None) -> None:
        where = f"HTTP {status}: " if status is not None else ""
        super().__init__(f"{endpoint}: {where}{detail}")
        self.endpoint = endpoint
        self.status = status
        self.detail = detail


class EndpointUnavailable(EndpointError):
    """The server or the network did not answer usefully, even after the retries."""
