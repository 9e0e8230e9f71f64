"""The reference's examples: a short paper run on the seeded simulated market, then the real app serving its log
(hypercorn on a free loopback port, a token set), asked once per operation.

The run's config is the defaults with a fixed start, a fixed number of bars and relative paths, run from a
scratch folder: the same log, byte for byte, wherever and whenever it is made. The server runs on a manual clock
set just after the run's last cycle, so ``/health`` says the same every time too, and on a fixed port
(``EXAMPLE_PORT``), since the port is part of the config hash its start records in the log; while another process
holds that port, the server retries binding it, and the recording waits.
"""

from __future__ import annotations

import json
import tempfile
from contextlib import chdir
from pathlib import Path
from typing import Any

import httpx
import trio
import yaml

from b1e55ed.api.wiring import api_actor, api_context
from b1e55ed.apidocs.render import Example, abbreviated, render_reference
from b1e55ed.cli import run_pipeline
from b1e55ed.clock import ManualClock
from b1e55ed.config import Config, load_config
from b1e55ed.runtime import Runtime, Supervised

TOKEN = "example-token"
EXAMPLE_PORT = 50550
READY_TIMEOUT_S = 120.0
SIM_BARS = 1_000
RUN_SETTINGS: dict[str, Any] = {
    "symbols": ["BTC", "ETH"],
    "api": {"enabled": False},
    "market": {"source": "sim", "sim_pace": "max", "sim_bars": SIM_BARS, "start": "2024-01-01"},
}
HOUR_MS = 3_600_000
START_MS = 1_704_067_200_000  # 2024-01-01


def build_reference() -> str:
    """docs/api-reference.md's text, made afresh in a scratch folder."""
    with tempfile.TemporaryDirectory(prefix="b1e55ed-apidocs-") as scratch, chdir(scratch):
        config_path = Path("config.yaml")
        config_path.write_text(yaml.safe_dump(RUN_SETTINGS), encoding="utf-8")
        config = load_config(config_path, environ={}, env_file=None)
        db = Path(config.eventlog.path)
        db.parent.mkdir(parents=True, exist_ok=True)
        if run_pipeline(config, db) != 0:
            raise RuntimeError("the example run failed")
        served = load_config(
            config_path,
            environ={
                "B1E55ED_API__ENABLED": "true",
                "B1E55ED_API__PORT": str(EXAMPLE_PORT),
                "B1E55ED_API__AUTH_TOKEN": TOKEN,
            },
            env_file=None,
        )
        document, examples = trio.run(_serve_and_record, served, db)
    return render_reference(document, examples)


async def _serve_and_record(config: Config, db: Path) -> tuple[dict[str, Any], dict[tuple[str, str], Example]]:
    clock = ManualClock(START_MS + (SIM_BARS + 1) * HOUR_MS)
    runtime = Runtime(config, db_path=db, clock=clock)
    strategies = [spec.name for spec in config.brain.strategies if spec.enabled]
    producers = [spec.name for spec in config.brain.producers if spec.enabled]

    def stages(rt: Runtime) -> list[Supervised]:
        return [api_actor(api_context(rt, strategies=strategies, producers=producers))]

    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run, stages)
        url = f"http://127.0.0.1:{config.api.port}"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        try:
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30.0) as http:
                await _until_serving(http)
                return await _record(http)
        finally:
            runtime.request_stop("the API reference is recorded")


async def _until_serving(http: httpx.AsyncClient) -> None:
    with trio.fail_after(READY_TIMEOUT_S):
        while True:
            try:
                await http.get("/health")
                return
            except httpx.TransportError:
                await trio.sleep(0.5)


async def _record(http: httpx.AsyncClient) -> tuple[dict[str, Any], dict[tuple[str, str], Example]]:
    examples: dict[tuple[str, str], Example] = {}

    async def get(path: str, query: str = "") -> Any:
        answer = await http.get(path + query)
        examples["GET", path] = _example("GET", path + query, answer)
        return answer.json() if answer.headers["content-type"].startswith("application/json") else None

    document = (await http.get("/openapi.json")).json()
    await get("/health")
    await get("/signals", "?limit=2")
    await get("/positions")
    await get("/trades", "?limit=2")
    await get("/orders", "?limit=2")
    await get("/strategies")
    await get("/karma")
    decisions = (await get("/decisions", "?limit=50"))["decisions"]
    examples["GET", "/decisions"] = _example("GET", "/decisions?limit=2", await http.get("/decisions?limit=2"))
    taken = next((d for d in decisions if d["taken"]), decisions[0])
    await get("/decisions/{decision_id}".replace("{decision_id}", taken["decision_id"]))
    examples["GET", "/decisions/{decision_id}"] = examples.pop(("GET", f"/decisions/{taken['decision_id']}"))
    await get("/events", "?after=0&limit=2")
    examples["GET", "/metrics"] = _metrics_example(await http.get("/metrics"))
    examples["GET", "/stream"] = await _stream_example(http)
    examples["GET", "/openapi.json"] = _document_example(document)
    for path, body, shown_body in (
        ("/scan", None, None),
        ("/auth/session", {"token": TOKEN}, {"token": "<the token>"}),
        ("/killswitch", {"state": "halt"}, {"state": "halt"}),
    ):
        answer = await http.post(path, json=body) if body is not None else await http.post(path)
        examples["POST", path] = _example("POST", path, answer, json_body=shown_body)
    return document, examples


def _example(method: str, path: str, answer: httpx.Response, *, json_body: Any = None) -> Example:
    kind = answer.headers["content-type"].split(";")[0]
    body = (
        json.dumps(abbreviated(answer.json()), indent=2, ensure_ascii=False)
        if kind == "application/json"
        else answer.text
    )
    return Example(method, path, answer.status_code, kind, body, json_body=json_body)


def _document_example(document: dict[str, Any]) -> Example:
    """The document's head as served; its paths and schemas are this whole reference."""
    head = json.dumps({"openapi": document["openapi"], "info": document["info"]}, indent=2)
    shown = (
        head[: -len("\n}")]
        + ',\n  "paths": {"…": "every operation above"},\n  "components": {"…": "the schemas below"}\n}'
    )
    return Example("GET", "/openapi.json", 200, "application/json", shown)


def _metrics_example(answer: httpx.Response) -> Example:
    """The metrics' names and kinds: their values change with every request, so they are left out."""
    lines = [line for line in answer.text.splitlines() if line.startswith("# TYPE")]
    return Example(
        "GET", "/metrics", answer.status_code, answer.headers["content-type"].split(";")[0], "\n".join(lines)
    )


async def _stream_example(http: httpx.AsyncClient) -> Example:
    """The first message of ``/stream?types=cycle`` resumed from the start of the log (``Last-Event-ID: 0``)."""
    headers = {"Last-Event-ID": "0"}
    async with http.stream("GET", "/stream?types=cycle", headers=headers) as answer:
        message: list[str] = []
        async for line in answer.aiter_lines():
            if line.startswith(":"):
                continue  # a comment: the stream's greeting or heartbeat
            if line:
                message.append(line)
            elif any(part.startswith("data:") for part in message):
                break  # the first whole event (before it, the stream may send its ``retry:`` alone)
        kind = answer.headers["content-type"].split(";")[0]
        return Example("GET", "/stream?types=cycle", answer.status_code, kind, "\n".join(message), headers=headers)
