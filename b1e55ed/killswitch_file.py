"""Manual kill-switch control of a running process: a request file beside the database.

``python -m b1e55ed killswitch halt`` writes ``<db>.killswitch`` atomically (a temporary file, then a rename);
the running kill-switch actor applies it, logs the change and removes the file. Nothing but the writer actor
ever writes the database. A file left over while nothing ran is applied at the next start.

The file's first line is the command; the second says who wrote it and when, so that two requests never look
alike, after an optional note: why (``storage: …`` when the runtime halted trading because the log could not be
written; a full database cannot lose this file). The actor removes only the request it applied: one written while
it was applying another stays, and is applied next (``clear_request(db, applied)``).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from b1e55ed.messages import TradingStateName

COMMANDS: dict[str, TradingStateName] = {"halt": "HALTED", "reduce": "REDUCING", "resume": "ACTIVE"}


class Request(NamedTuple):
    """A request as read from the file. ``state`` is None when the command is unknown (``problem`` says why)."""

    state: TradingStateName | None
    problem: str
    identity: tuple[int, int, bytes]
    note: str = ""
    """The file's inode, modification time and bytes: what tells this request from a later one."""


def control_path(db: Path) -> Path:
    return db.with_name(db.name + ".killswitch")


def request(db: Path, command: str, note: str = "") -> Path:
    if command not in COMMANDS:
        raise ValueError(f"unknown kill-switch command {command!r}: use {', '.join(COMMANDS)}")
    path = control_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{command}\n# {note + ' — ' if note else ''}pid {os.getpid()} at {time.time_ns()} ns\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def read(db: Path) -> Request | None:
    """The pending request, or None if there is none."""
    path = control_path(db)
    try:
        with path.open("rb") as handle:
            data = handle.read()
            stat = os.fstat(handle.fileno())
    except FileNotFoundError:
        return None
    identity = (stat.st_ino, stat.st_mtime_ns, data)
    lines = data.decode(errors="replace").splitlines()
    command = lines[0].strip() if lines else ""
    if command not in COMMANDS:
        return Request(None, f"{path}: unknown kill-switch command {command!r}", identity)
    written = lines[1].removeprefix("#").strip() if len(lines) > 1 else ""
    note = written.rpartition(" — ")[0] if " — " in written else ""
    return Request(COMMANDS[command], "", identity, note)


def read_request(db: Path) -> TradingStateName | None:
    """The requested state, or None if there is no request. An unreadable request raises ValueError."""
    pending = read(db)
    if pending is None:
        return None
    if pending.state is None:
        raise ValueError(pending.problem)
    return pending.state


def clear_request(db: Path, applied: Request | None = None) -> None:
    """Remove the request file; given ``applied``, only if the file still holds that request."""
    if applied is not None and read(db) != applied:
        return
    control_path(db).unlink(missing_ok=True)
