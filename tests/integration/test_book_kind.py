"""A book keeps its kind: a log never continues on another kind of market or in another mode, and `auto` falls
back to the simulation only for a fresh database. Refusals exit 2 naming the database's kind and today's."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from b1e55ed.bookkind import BookKind, kind_problem, recorded_kind
from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.writer import EventLog
from b1e55ed.messages import CycleStarted, RuntimeStarted
from tests.integration.loop_helpers import SIM_ENV, child_env, run_cli

UNREACHABLE = {"B1E55ED_MARKET__HYPERLIQUID_URL": "http://127.0.0.1:9", "B1E55ED_MARKET__TIMEOUT_S": "1"}


def sim_run(tmp_path: Path, db: Path) -> None:
    made = run_cli("run", "--db", str(db), cwd=tmp_path, env=child_env(**SIM_ENV, B1E55ED_MARKET__SIM_BARS="20"))
    assert made.returncode == 0, made.stderr[-2000:]


@pytest.mark.slow
def test_a_simulated_book_never_continues_on_hyperliquid(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    sim_run(tmp_path, db)
    env = child_env(**{**SIM_ENV, "B1E55ED_MARKET__SOURCE": "hyperliquid"}, **UNREACHABLE)
    refused = run_cli("run", "--db", str(db), cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert (
        f"b1e55ed: cannot start: {db} holds a paper book on simulated market data, and this run is a paper book on "
        "hyperliquid market data" in refused.stderr
    )
    again = run_cli("run", "--db", str(db), cwd=tmp_path, env=child_env(**SIM_ENV, B1E55ED_MARKET__SIM_BARS="30"))
    assert again.returncode == 0, again.stderr[-2000:]  # the same kind continues


@pytest.mark.slow
def test_auto_falls_back_to_the_simulation_only_for_a_fresh_database(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    sim_run(tmp_path, db)
    env = child_env(**{**SIM_ENV, "B1E55ED_MARKET__SOURCE": "auto"}, **UNREACHABLE)
    refused = run_cli("run", "--db", str(db), cwd=tmp_path, env=env)
    assert refused.returncode == 2
    assert "Hyperliquid is unreachable at http://127.0.0.1:9" in refused.stderr
    assert f"{db} holds a paper book on simulated market data" in refused.stderr
    assert "the simulation stands in only for a fresh database" in refused.stderr


async def test_a_live_book_never_continues_on_paper(tmp_path: Path) -> None:
    db = tmp_path / "brain.db"
    store = await SqliteStore.open(db)
    log = EventLog(store)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(log.run)
            await log.append(RuntimeStarted(ts=1, version="0.1.0", mode="live", config_hash="h"))
            await log.append(CycleStarted(ts=2, cycle=1, as_of=2, source="hyperliquid", closes={"BTC": 1.0}))
            await log.append(RuntimeStarted(ts=3, version="0.1.0", mode="paper", config_hash="h"))  # no cycle since
            log.close()
    finally:
        await store.close()
    recorded = recorded_kind(db)
    assert recorded == BookKind("hyperliquid", "live")
    assert kind_problem(db, recorded, BookKind("hyperliquid", "live")) is None
    problem = kind_problem(db, recorded, BookKind("hyperliquid", "paper"))
    assert problem is not None
    assert problem.startswith(f"{db} holds a live book on hyperliquid market data, and this run is a paper book")


def test_a_fresh_database_takes_any_kind(tmp_path: Path) -> None:
    assert recorded_kind(tmp_path / "nothing.db") is None
    assert kind_problem(tmp_path / "nothing.db", None, BookKind("simulated", "paper")) is None
