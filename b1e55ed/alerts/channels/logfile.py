"""``logs/alerts.log``: always on, one line an alert, appended from a worker thread (a slow disk must not stall the
event loop). On a failing disk it is tried all the same, beside the channels that need no disk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import trio

from b1e55ed.alerts.channels import DeliveryFailed
from b1e55ed.alerts.triggers import Notice


def line(notice: Notice) -> str:
    when = dt.datetime.fromtimestamp(notice.ts / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    seq = f" seq {notice.seq}" if notice.seq else ""
    text = " ".join(notice.text.split())
    return f"[{when}] [{notice.severity.upper()}] [{notice.trigger}{seq}] {text}\n"


class LogFileChannel:
    name = "log"
    limited = False

    def __init__(self, path: Path) -> None:
        self.path = path

    async def send(self, notice: Notice) -> None:
        try:
            await trio.to_thread.run_sync(self._append, line(notice))
        except OSError as exc:
            raise DeliveryFailed(f"{self.path}: {exc}") from None

    def _append(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
