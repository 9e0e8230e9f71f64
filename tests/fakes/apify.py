"""A fake Apify API v2, for ``httpx.MockTransport``: actor runs that take a few polls, datasets, and faults.

Answers as docs.apify.com/api/v2 documents: ``POST /v2/acts/{actorId}/runs`` → 201 and ``{"data": <run>}``;
``GET /v2/actor-runs/{runId}`` → ``{"data": <run>}``, RUNNING for the actor's ``polls`` reads, then its final
status; ``GET /v2/datasets/{datasetId}/items`` → the JSON array (``offset``/``limit``, with the
``X-Apify-Pagination-*`` headers). Run objects are the recorded ``tests/fixtures/apify_run.json`` with this run's
id, status and dataset. A missing or wrong ``Authorization: Bearer`` token is 401 with Apify's error body.
"""

from __future__ import annotations

import copy
import json
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class FakeActor:
    items: list[dict[str, Any]]
    polls: int = 1  # reads of the run that still answer RUNNING
    final: str = "SUCCEEDED"


@dataclass
class _Run:
    id: str
    actor: str
    dataset: str
    polls_left: int
    final: str
    input: dict[str, Any] = field(default_factory=dict)


class FakeApify:
    def __init__(self, token: str = "fake-apify-token") -> None:
        self.token = token
        self.actors: dict[str, FakeActor] = {}
        self.runs: dict[str, _Run] = {}
        self.datasets: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self._faults: deque[tuple[int, str | None]] = deque()
        self._template = load_fixture("apify_run.json")["data"]

    def add_actor(
        self, actor_id: str, items: list[dict[str, Any]], *, polls: int = 1, final: str = "SUCCEEDED"
    ) -> None:
        self.actors[actor_id] = FakeActor(items, polls, final)

    def fail_next(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        self._faults.extend([(status, retry_after)] * times)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def paths(self) -> list[str]:
        return [f"{r.method} {r.url.path}" for r in self.requests]

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._faults:
            status, retry_after = self._faults.popleft()
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return _error(status, "rate-limit-exceeded" if status == 429 else "internal-error", "fault", headers)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "token-not-valid", "Authentication token is not valid.")
        parts = request.url.path.strip("/").split("/")
        match request.method, parts:
            case "POST", ["v2", "acts", actor_id, "runs"]:
                return self._start(actor_id, json.loads(request.content or b"{}"))
            case "GET", ["v2", "actor-runs", run_id]:
                return self._get_run(run_id)
            case "GET", ["v2", "datasets", dataset_id, "items"]:
                return self._items(dataset_id, request.url.params)
        return _error(404, "page-not-found", "We have bad news: there is no API endpoint at this URL.")

    def _start(self, actor_id: str, run_input: dict[str, Any]) -> httpx.Response:
        actor = self.actors.get(actor_id)
        if actor is None:
            return _error(404, "record-not-found", "Actor was not found")
        number = len(self.runs) + 1
        run = _Run(f"run{number:013d}", actor_id, f"dataset{number:09d}", actor.polls, actor.final, run_input)
        self.runs[run.id] = run
        self.datasets[run.dataset] = list(actor.items)
        return httpx.Response(201, json={"data": self._run_object(run, "READY")})

    def _get_run(self, run_id: str) -> httpx.Response:
        run = self.runs.get(run_id)
        if run is None:
            return _error(404, "record-not-found", "Actor run was not found")
        if run.polls_left > 0:
            run.polls_left -= 1
            return httpx.Response(200, json={"data": self._run_object(run, "RUNNING")})
        return httpx.Response(200, json={"data": self._run_object(run, run.final)})

    def _items(self, dataset_id: str, params: httpx.QueryParams) -> httpx.Response:
        items = self.datasets.get(dataset_id)
        if items is None:
            return _error(404, "record-not-found", "Dataset was not found")
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 250_000))
        page = items[offset : offset + limit]
        headers = {
            "X-Apify-Pagination-Offset": str(offset),
            "X-Apify-Pagination-Limit": str(limit),
            "X-Apify-Pagination-Count": str(len(page)),
            "X-Apify-Pagination-Total": str(len(items)),
        }
        return httpx.Response(200, json=page, headers=headers)

    def _run_object(self, run: _Run, status: str) -> dict[str, Any]:
        data: dict[str, Any] = copy.deepcopy(self._template)
        data.update(id=run.id, actId=run.actor, status=status, defaultDatasetId=run.dataset)
        if status not in ("READY", "RUNNING"):
            data.update(finishedAt="2024-03-01T07:05:00.000Z", exitCode=0 if status == "SUCCEEDED" else 1)
        return data


def _error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"type": kind, "message": message}}, headers=headers)
