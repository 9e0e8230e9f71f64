"""Manual kill-switch control of a running process: a request file beside the database.

``python -m b1e55ed killswitch halt`` writes ``<db>.killswitch`` atomically (a temporary file, then a rename);
the running kill-switch actor applies it, logs the change and removes the file. Nothing but the writer actor
ever writes the database. A file left over while nothing ran is applied at the next start.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from b1e55ed.messages import TradingStateName

COMMANDS: dict[str, TradingStateName] = {"halt": "HALTED", "reduce": "REDUCING", "resume": "ACTIVE"}


def control_path(db: Path) -> Path:
    return db.with_name(db.name + ".killswitch")


def request(db: Path, command: str) -> Path:
    if command not in COMMANDS:
        raise ValueError(f"unknown kill-switch command {command!r}: use {', '.join(COMMANDS)}")
    path = control_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(command + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    return path


def read_request(db: Path) -> TradingStateName | None:
    """The requested state, or None if there is no request. An unreadable request raises ValueError."""
    path = control_path(db)
    try:
        command = path.read_text().strip()
    except FileNotFoundError:
        return None
    if command not in COMMANDS:
        raise ValueError(f"{path}: unknown kill-switch command {command!r}")
    return COMMANDS[command]


def clear_request(db: Path) -> None:
    control_path(db).unlink(missing_ok=True)
