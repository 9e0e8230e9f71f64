"""A SQLite connection whose COMMITs start failing after a given number, as on a disk that dies under a running log.

It is passed as the connection class (``sqlite3.connect``'s ``factory``) through the SQLite-thread wrapper, the seam
where the log's writes meet the disk: chmod would not stop an open handle, and root ignores file modes anyway.
"""

from __future__ import annotations

import sqlite3
from typing import Any


def failing_after(commits: int) -> type[sqlite3.Connection]:
    """A connection class whose first ``commits`` COMMITs succeed; every later one raises "disk I/O error"."""

    class FailingDisk(sqlite3.Connection):
        committed = 0

        def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
            if sql == "COMMIT":
                if FailingDisk.committed >= commits:
                    raise sqlite3.OperationalError("disk I/O error")
                FailingDisk.committed += 1
            return super().execute(sql, parameters)

    return FailingDisk
