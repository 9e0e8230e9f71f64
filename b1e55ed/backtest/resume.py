"""Whether a backtest may continue an existing event log: only the same market source and the same config hash.

The log's last ``RuntimeStarted`` holds the config hash it was made with (speed-only settings and ``api.enabled``
are left out of it, so ``--serve`` and the batch size never block a resume). Beside the database a backtest keeps
``<db>.backtest.json``, its market source and redacted config, so a refusal can say what changed: the market
source (both values), the config hash (both values) and the first settings that differ.
"""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import msgspec

from b1e55ed.backtest.history import connect_readonly
from b1e55ed.config import Config, config_hash, redacted
from b1e55ed.eventlog import codec
from b1e55ed.eventlog.connect import LogKey
from b1e55ed.messages import CycleSettled, RuntimeStarted, RuntimeStopped

MANIFEST_SUFFIX = ".backtest.json"
SHOWN_DIFFERENCES = 5


class Manifest(msgspec.Struct, frozen=True, kw_only=True):
    market: str
    config_hash: str
    config: dict[str, Any]


def manifest_path(db: Path) -> Path:
    return db.with_name(db.name + MANIFEST_SUFFIX)


def write_manifest(db: Path, config: Config) -> None:
    manifest = Manifest(market=config.market.source, config_hash=config_hash(config), config=_plain(config))
    path = manifest_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(msgspec.json.format(msgspec.json.encode(manifest, order="deterministic"), indent=2) + b"\n")
    tmp.replace(path)


def read_manifest(db: Path) -> Manifest | None:
    try:
        return msgspec.json.decode(manifest_path(db).read_bytes(), type=Manifest)
    except (OSError, msgspec.DecodeError):
        return None


def resume_problem(db: Path, config: Config, key: LogKey | None = None) -> str:
    """Why ``db`` cannot be continued with ``config``, as a sentence; "" when it can (or does not exist yet).
    ``key``: an encrypted log's."""
    if not db.exists():
        return ""
    with closing(connect_readonly(db, key)) as conn:
        if conn.execute("SELECT 1 FROM events WHERE kind = 'settled' LIMIT 1").fetchone() is None:
            return ""  # no cycle ran (a start refused for bad data, say): nothing to contradict
        row = conn.execute("SELECT payload FROM events WHERE kind = 'runtime_started' ORDER BY seq DESC LIMIT 1")
        found = row.fetchone()
    started = codec.decode(found[0]) if found else None
    logged_hash = started.config_hash if isinstance(started, RuntimeStarted) else "(none recorded)"
    manifest = read_manifest(db)
    now_hash = config_hash(config)
    problems = []
    if manifest is not None and manifest.market != config.market.source:
        problems.append(f"market source differs (the log's: {manifest.market}; now: {config.market.source})")
    if logged_hash != now_hash:
        detail = ""
        if manifest is not None and manifest.config_hash == logged_hash:
            changes = differences(manifest.config, _plain(config))
            shown = "; ".join(changes[:SHOWN_DIFFERENCES]) + ("; …" if len(changes) > SHOWN_DIFFERENCES else "")
            detail = f"; changed: {shown}" if shown else ""
        problems.append(f"config hash differs (the log's: {logged_hash}; now: {now_hash}{detail})")
    if not problems:
        return ""
    return (
        f"cannot resume {db}: {', and '.join(problems)}. Give another --report or --db for a new backtest, or the "
        "same options to continue this one"
    )


def _plain(config: Config) -> dict[str, Any]:
    """The redacted config as JSON would give it back (lists, not tuples), to compare with a manifest's."""
    plain: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(redacted(config)))
    return plain


def differences(before: Any, after: Any, path: str = "") -> list[str]:
    """The settings that differ between two plain-data configs, as ``key: old → new``, in key order."""
    if isinstance(before, dict) and isinstance(after, dict):
        found = []
        for key in sorted(set(before) | set(after)):
            found += differences(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        pairs = enumerate(zip(before, after, strict=True))
        return [found for i, (b, a) in pairs for found in differences(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {_short(before)} → {_short(after)}"]


def _short(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 60 else text[:57] + "..."


FINISHED = "market data exhausted"
"""The reason the runtime records when a replay ran to the end of its data."""


def unfinished(db: Path, key: LogKey | None = None) -> str:
    """Why the last run into ``db`` stopped before the end of its data (``SIGINT``, say); "" if it reached it."""
    if not db.exists():
        return ""
    with closing(connect_readonly(db, key)) as conn:
        query = "SELECT payload FROM events WHERE kind = 'runtime_stopped' ORDER BY seq DESC LIMIT 1"
        found = conn.execute(query).fetchone()
    stopped = codec.decode(found[0]) if found else None
    if isinstance(stopped, RuntimeStopped):
        return "" if stopped.reason == FINISHED else stopped.reason
    return "it did not record its stop"


def settled_cycles(db: Path, key: LogKey | None = None) -> int:
    """The last settled cycle in ``db`` (0 for none, or no database): where a resumed replay picks up."""
    if not db.exists():
        return 0
    with closing(connect_readonly(db, key)) as conn:
        found = conn.execute("SELECT payload FROM events WHERE kind = 'settled' ORDER BY seq DESC LIMIT 1").fetchone()
    settled = codec.decode(found[0]) if found else None
    return settled.cycle if isinstance(settled, CycleSettled) else 0
