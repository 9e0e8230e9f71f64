"""The alerter only reads the log: a replay's chain is the same, byte for byte, with the alerter off, paging, and
writing alerts.log only; and a run driven by history pages no one unless ``alerts.in_replay`` says so."""

from __future__ import annotations

from pathlib import Path

import pytest

from b1e55ed.clock import ManualClock
from b1e55ed.eventlog.chain import ChainHead
from b1e55ed.eventlog.verify import verify_database
from b1e55ed.registry import resolve
from b1e55ed.runtime import Runtime
from tests.fakes.telegram import FakeTelegram, serving
from tests.integration.alerts_support import CHAT, TOKEN, alerts_config, deliveries


async def replay(workdir: Path, url: str, **settings: str) -> ChainHead:
    environ = {"market__source": "sim", "market__sim_pace": "max", "market__sim_bars": "700"} | settings
    config = alerts_config(workdir, url, **environ)
    db = workdir / "brain.db"
    runtime = Runtime(config, db_path=db, clock=ManualClock())
    pipeline = resolve(config.runtime.pipeline)
    await runtime.run(lambda rt: pipeline(rt).stages())
    return verify_database(db).head


@pytest.mark.slow
async def test_a_replays_chain_head_is_the_same_with_the_alerter_on_and_off(tmp_path: Path) -> None:
    fake = FakeTelegram(TOKEN)
    runs = {name: tmp_path / name for name in ("off", "paging", "log_only")}
    with serving(fake) as url:
        off = await replay(runs["off"], url, alerts__enabled="false")
        assert fake.sent == []
        paging = await replay(runs["paging"], url, alerts__in_replay="true")
        paged = fake.texts(CHAT)
        log_only = await replay(runs["log_only"], url)
    assert off == paging == log_only
    assert any(text.startswith(("[WARNING] stop hit", "[INFO] target reached")) for text in paged)
    assert len(fake.texts(CHAT)) == len(paged)  # the replay without alerts.in_replay paged no one
    assert not (runs["off"] / "logs").exists()
    logged = (runs["log_only"] / "logs" / "alerts.log").read_text().splitlines()
    assert len(logged) == len(paged) == len(await deliveries(runs["paging"] / "brain.db"))
