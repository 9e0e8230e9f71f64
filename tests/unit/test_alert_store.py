"""alerts.db: the log position, the alerts and their delivery per channel, kept together; tied to one log."""

from __future__ import annotations

from pathlib import Path

from b1e55ed.alerts.store import TELEGRAM_OFFSET, AlertStore, alerts_db_path
from b1e55ed.alerts.triggers import Notice


def notice(seq: int, ts: int, text: str = "stop hit: BTC") -> Notice:
    return Notice(trigger="stop_hit", severity="warning", text=text, ts=ts, seq=seq)


def test_alerts_db_sits_beside_the_log() -> None:
    assert alerts_db_path(Path("data/brain.db")) == Path("data/alerts.db")
    assert alerts_db_path(Path("runs/bt.db")) == Path("runs/bt.alerts.db")


async def test_a_new_file_or_another_log_starts_at_its_head_and_the_same_log_where_it_was(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    store = await AlertStore.open(path)
    try:
        assert await store.start(b"chain-a", 40) == (40, True)  # history pages no one
        await store.record([], ["log"], 55, 0)
        await store.set_cursor(TELEGRAM_OFFSET, 1007)
    finally:
        await store.close()
    store = await AlertStore.open(path)
    try:
        assert await store.start(b"chain-a", 90) == (55, False)
        assert await store.cursor(TELEGRAM_OFFSET) == 1007
        assert await store.start(b"chain-b", 3) == (3, True)  # a new brain.db
    finally:
        await store.close()


async def test_records_pending_deliveries_per_channel_and_marks_them(tmp_path: Path) -> None:
    store = await AlertStore.open(tmp_path / "alerts.db")
    try:
        await store.start(b"chain", 0)
        assert await store.record(
            [notice(5, 1_000), notice(6, 2_000, "target reached: ETH")], ["log", "telegram"], 6, 0
        )
        [(first_id, first), (second_id, _)] = await store.pending("telegram")
        assert first == notice(5, 1_000)
        await store.mark(first_id, "telegram", sent=True, attempts=3, error="", ts=9)
        await store.mark(second_id, "telegram", sent=False, attempts=2, error="HTTP 502", ts=9)
        assert [alert_id for alert_id, _ in await store.pending("telegram")] == [second_id]
        assert len(await store.pending("log")) == 2
        newest, oldest = await store.latest()
        assert newest["deliveries"]["telegram"] == {"state": "pending", "attempts": 2, "last_error": "HTTP 502"}
        assert oldest["deliveries"]["telegram"] == {"state": "sent", "attempts": 3, "last_error": ""}
    finally:
        await store.close()


async def test_an_identical_alert_within_the_window_is_dropped(tmp_path: Path) -> None:
    store = await AlertStore.open(tmp_path / "alerts.db")
    try:
        await store.start(b"chain", 0)
        kept = await store.record(
            [notice(1, 1_000), notice(2, 60_000), notice(3, 61_001), notice(4, 61_002, "stop hit: ETH")],
            ["log"],
            4,
            60_000,
        )
        assert kept == 3
        assert [n.seq for _, n in await store.pending("log")] == [1, 3, 4]
    finally:
        await store.close()
