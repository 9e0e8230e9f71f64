"""A fake Allium Explorer API, for ``httpx.MockTransport``: saved queries whose runs take a few polls.

As docs.allium.so documents: ``POST /api/v1/explorer/queries/{query_id}/run-async`` → ``{"run_id"}``; ``GET
/api/v1/explorer/query-runs/{run_id}/status`` → a bare JSON string, ``"running"`` for the query's ``polls`` reads,
then its final status; ``GET /api/v1/explorer/query-runs/{run_id}/results`` → the recorded result format
(``tests/fixtures/allium_exchange_flows.json`` by default). A missing or wrong ``X-API-KEY`` is 401.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fakes.apify import load_fixture


@dataclass
class _Query:
    result: dict[str, Any]
    polls: int = 1
    final: str = "success"


@dataclass
class _Run:
    query: _Query
    polls_left: int
    parameters: dict[str, Any] = field(default_factory=dict)


class FakeAllium:
    def __init__(self, api_key: str = "fake-allium-key") -> None:
        self.api_key = api_key
        self.queries: dict[str, _Query] = {}
        self.runs: dict[str, _Run] = {}
        self.requests: list[httpx.Request] = []

    def add_query(
        self, query_id: str, result: dict[str, Any] | None = None, *, polls: int = 1, final: str = "success"
    ) -> None:
        self.queries[query_id] = _Query(result or load_fixture("allium_exchange_flows.json"), polls, final)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("X-API-KEY") != self.api_key:
            return httpx.Response(401, json={"detail": "Invalid API key"})
        parts = request.url.path.strip("/").split("/")
        match request.method, parts:
            case "POST", ["api", "v1", "explorer", "queries", query_id, "run-async"]:
                query = self.queries.get(query_id)
                if query is None:
                    return httpx.Response(404, json={"detail": f"Query {query_id} not found"})
                body = json.loads(request.content)
                if not isinstance(body.get("parameters"), dict):
                    return httpx.Response(
                        422, json={"detail": [{"loc": ["body", "parameters"], "msg": "field required"}]}
                    )
                run_id = f"run-{len(self.runs) + 1}"
                self.runs[run_id] = _Run(query, query.polls, body["parameters"])
                return httpx.Response(200, json={"run_id": run_id})
            case "GET", ["api", "v1", "explorer", "query-runs", run_id, "status"] if run_id in self.runs:
                run = self.runs[run_id]
                if run.polls_left > 0:
                    run.polls_left -= 1
                    return httpx.Response(200, json="running")
                return httpx.Response(200, json=run.query.final)
            case "GET", ["api", "v1", "explorer", "query-runs", run_id, "results"] if run_id in self.runs:
                return httpx.Response(200, json=self.runs[run_id].query.result)
        return httpx.Response(404, json={"detail": "Not Found"})
