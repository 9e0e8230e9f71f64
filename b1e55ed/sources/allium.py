"""Allium's Explorer API: run a saved SQL query on its on-chain data and read the rows (key in ``X-API-KEY``).

The documented flow (docs.allium.so, "Explorer API"): ``POST /api/v1/explorer/queries/{query_id}/run-async`` with
``{"parameters": {name: text}, "run_config": {"limit": n}}`` answers ``{"run_id"}``; ``GET
/api/v1/explorer/query-runs/{run_id}/status`` answers the status as a bare JSON string (created, queued, running,
success, failed, canceled); ``GET /api/v1/explorer/query-runs/{run_id}/results?f=json`` answers ``{"sql", "data":
[{column: value}], "meta": {"columns": [{"name", "data_type"}]}, "queried_at"}``. Queries take seconds to minutes,
so, as with Apify, the steps are public for a producer that starts in one cycle and collects in a later one.

Exchange flows come from a query the user saves in Allium (its id is the whale producer's ``allium_query_id``)
answering one row per symbol with the columns ``symbol``, ``inflow_usd`` and ``outflow_usd``: the USD value sent
to, and withdrawn from, known exchange wallets over the window. ``exchange_flows`` reads those rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx
import msgspec
import trio

from b1e55ed.sources import JsonApi, SourceError, SourceUnavailable

ALLIUM_API_URL: Final = "https://api.allium.so"
SUCCESS: Final = "success"
FAILED_STATES: Final = frozenset({"failed", "canceled"})
_RUNS: Final = "/api/v1/explorer/query-runs"


class _RunCreated(msgspec.Struct, frozen=True):
    run_id: str


class QueryResult(msgspec.Struct, frozen=True):
    data: list[dict[str, Any]]
    sql: str = ""
    queried_at: str | None = None


class AlliumQueryFailed(SourceError):
    """The query run ended failed or canceled."""


_CREATED_DECODER: Final = msgspec.json.Decoder(_RunCreated)
_STATUS_DECODER: Final = msgspec.json.Decoder(str)
_RESULT_DECODER: Final = msgspec.json.Decoder(QueryResult)


@dataclass(frozen=True)
class ExchangeFlow:
    """USD sent to exchanges (``inflow_usd``, usually to sell) and withdrawn from them (``outflow_usd``, usually
    to hold). ``net_outflow_usd`` > 0 reads as accumulation."""

    symbol: str
    inflow_usd: float
    outflow_usd: float

    @property
    def net_outflow_usd(self) -> float:
        return self.outflow_usd - self.inflow_usd


class AlliumClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        api_key: str,
        *,
        base_url: str = ALLIUM_API_URL,
        poll_initial_s: float = 2.0,
        poll_max_s: float = 30.0,
        max_retries: int = 3,
        backoff_initial_s: float = 1.0,
    ) -> None:
        if not api_key:
            raise ValueError("AlliumClient needs an API key")
        self._api = JsonApi(
            http,
            base_url,
            headers={"X-API-KEY": api_key},
            secrets=[api_key],
            max_retries=max_retries,
            backoff_initial_s=backoff_initial_s,
        )
        self._poll_initial_s = poll_initial_s
        self._poll_max_s = poll_max_s

    async def start_query(self, query_id: str, parameters: Mapping[str, str], *, limit: int = 1000) -> str:
        """Start a run of the saved query ``query_id``; returns its run id."""
        body = {"parameters": dict(parameters), "run_config": {"limit": limit}}
        created = await self._api.request(
            "POST",
            f"/api/v1/explorer/queries/{query_id}/run-async",
            "POST /api/v1/explorer/queries/{query_id}/run-async",
            _CREATED_DECODER,
            body=body,
        )
        return created.run_id

    async def query_status(self, run_id: str) -> str:
        """The run's status; ``AlliumQueryFailed`` when it is failed or canceled."""
        endpoint = "GET /api/v1/explorer/query-runs/{run_id}/status"
        status = await self._api.request("GET", f"{_RUNS}/{run_id}/status", endpoint, _STATUS_DECODER)
        if status in FAILED_STATES:
            raise AlliumQueryFailed(endpoint, f"query run {run_id} {status}")
        return status

    async def query_results(self, run_id: str) -> QueryResult:
        endpoint = "GET /api/v1/explorer/query-runs/{run_id}/results"
        return await self._api.request(
            "GET", f"{_RUNS}/{run_id}/results", endpoint, _RESULT_DECODER, params={"f": "json"}
        )

    async def run_query(self, query_id: str, parameters: Mapping[str, str], *, max_wait_s: float) -> QueryResult:
        """Start, poll with bounded backoff (at most ``max_wait_s``), and read the results."""
        run_id = await self.start_query(query_id, parameters)
        started, delay = trio.current_time(), self._poll_initial_s
        while (status := await self.query_status(run_id)) != SUCCESS:
            remaining = max_wait_s - (trio.current_time() - started)
            if remaining <= 0:
                raise SourceUnavailable(
                    "GET /api/v1/explorer/query-runs/{run_id}/status",
                    f"query run {run_id} still {status} after {max_wait_s:g} s",
                )
            await trio.sleep(min(delay, remaining))
            delay = min(delay * 2.0, self._poll_max_s)
        return await self.query_results(run_id)


def exchange_flows(result: QueryResult) -> dict[str, ExchangeFlow]:
    """One flow per symbol (upper-cased) from rows with ``symbol``, ``inflow_usd``, ``outflow_usd``; rows for the
    same symbol (several chains) are summed. A row without those columns is an error naming the row."""
    flows: dict[str, ExchangeFlow] = {}
    for index, row in enumerate(result.data):
        symbol, inflow, outflow = row.get("symbol"), _usd(row.get("inflow_usd")), _usd(row.get("outflow_usd"))
        if not isinstance(symbol, str) or not symbol or inflow is None or outflow is None:
            raise SourceError(
                "GET /api/v1/explorer/query-runs/{run_id}/results",
                f"`data[{index}]` needs symbol, inflow_usd and outflow_usd (non-negative numbers), got {row!r}",
            )
        key = symbol.upper()
        before = flows.get(key)
        if before is not None:
            inflow, outflow = inflow + before.inflow_usd, outflow + before.outflow_usd
        flows[key] = ExchangeFlow(key, inflow, outflow)
    return flows


def _usd(value: object) -> float | None:
    """A number, or a decimal string (Snowflake's NUMBER columns arrive as strings); None if not a finite >= 0."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
