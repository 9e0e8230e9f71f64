"""``POST /scan`` over the whole trading pipeline: live (the simulation in real time) it runs a cycle now and
answers with its result; driven by history it answers 409."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import trio

from actors.pipeline import TradingPipeline
from b1e55ed.clock import Clock, ManualClock, WallClock
from b1e55ed.config import Config
from b1e55ed.runtime import Runtime
from tests.integration.api_support import TOKEN, api_config


@asynccontextmanager
async def pipeline(tmp_path: Path, config: Config, clock: Clock) -> AsyncIterator[httpx.AsyncClient]:
    runtime = Runtime(config, db_path=tmp_path / "brain.db", clock=clock)
    async with trio.open_nursery() as nursery:
        await nursery.start(runtime.run, lambda rt: TradingPipeline(rt).stages())
        url = f"http://127.0.0.1:{config.api.port}"
        try:
            async with httpx.AsyncClient(
                base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
            ) as client:
                yield client
        finally:
            runtime.request_stop("test over")


def sim(tmp_path: Path, pace: str, interval_s: str = "3600") -> Config:
    return api_config(
        token=TOKEN,
        B1E55ED_DATA_DIR=str(tmp_path / "data"),
        B1E55ED_MARKET__SOURCE="sim",
        B1E55ED_MARKET__SIM_PACE=pace,
        B1E55ED_MARKET__HISTORY_BARS="600",
        B1E55ED_BRAIN__INTERVAL_S=interval_s,
    )


@pytest.mark.slow
async def test_a_live_scan_runs_a_cycle_now_and_returns_its_result(tmp_path: Path) -> None:
    async with pipeline(tmp_path, sim(tmp_path, "wall"), WallClock()) as client:
        with trio.fail_after(30):
            while (await client.get("/health")).json()["last_cycle"] is None:  # noqa: ASYNC110 - another process
                await trio.sleep(0.05)
        before = (await client.get("/health")).json()
        response = await client.post("/scan")
        after = (await client.get("/health")).json()
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["cycle"] == before["last_cycle"]["cycle"] + 1
    assert result["settled"] is True
    assert result["signals"] >= 1
    assert result["portfolio"]["cycle"] == result["cycle"]
    assert after["last_cycle"]["cycle"] == result["cycle"]
    assert before["next_cycle"] is not None


async def last_cycle(client: httpx.AsyncClient) -> int | None:
    last = (await client.get("/health")).json()["last_cycle"]
    return None if last is None else int(last["cycle"])


@pytest.mark.slow
async def test_live_the_brain_looks_often_but_cycles_only_on_a_new_candle_or_a_scan(tmp_path: Path) -> None:
    async with pipeline(tmp_path, sim(tmp_path, "wall", interval_s="0.1"), WallClock()) as client:
        with trio.fail_after(30):
            while await last_cycle(client) is None:  # noqa: ASYNC110 - another process
                await trio.sleep(0.05)
        first = await last_cycle(client)
        await trio.sleep(1.5)  # 15 looks; the hour's candle has not closed
        unchanged = await last_cycle(client)
        scanned = (await client.post("/scan")).json()["cycle"]
        await trio.sleep(1.0)
        after_scan = await last_cycle(client)
    assert first == unchanged == 1
    assert scanned == after_scan == 2


async def test_a_scan_in_a_driven_run_is_409(tmp_path: Path) -> None:
    config = sim(tmp_path, "max")
    async with pipeline(tmp_path, config, ManualClock()) as client:
        response = await client.post("/scan")
    assert response.status_code == 409
    assert "driven by history" in response.json()["error"]
