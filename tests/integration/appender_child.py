"""A child process for the crash test: appends events forever, printing each seq once its COMMIT returned.

Run as ``python -m tests.integration.appender_child DB SEED``.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import trio

from b1e55ed.eventlog.sqlite_store import SqliteStore
from b1e55ed.eventlog.writer import EventLog
from tests.eventlog_helpers import alert, signal


async def main(db: Path, seed: int) -> None:
    store = await SqliteStore.open(db)
    log = EventLog(store, max_batch=64)
    rng = random.Random(seed)
    async with trio.open_nursery() as nursery:
        await nursery.start(log.run)

        async def append_forever(worker: int) -> None:
            i = 0
            while True:
                i += 1
                events = [signal(i) if rng.random() < 0.5 else alert(i) for _ in range(rng.randint(1, 5))]
                records = await log.append(*events)
                sys.stdout.write("".join(f"{r.seq}\n" for r in records))
                sys.stdout.flush()

        for worker in range(16):
            nursery.start_soon(append_forever, worker)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]), int(sys.argv[2]))
