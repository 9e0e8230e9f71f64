"""Log lines in the spec's format, with every configured secret masked before it is written.

Always to stderr. With a folder (the running brain's ``logging.dir``), also to the spec's files, each rotated by
size: ``brain.log`` (everything but what the next three take), ``oms.log`` (orders and the venues), ``api.log`` (the
API's requests and errors), ``dashboard.log`` (the dashboard's requests) and ``errors.log`` (every ERROR and above,
from anywhere). Each line is masked as on stderr. The alerter writes ``alerts.log`` in the same folder itself.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Final

FORMAT = "[%(asctime)s] [%(levelname)s] [%(name)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class Redactor(logging.Filter):
    """Replaces each secret's value by ``***`` in the final message, arguments and exception text included."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.stack_info:
            message += "\n" + record.stack_info
            record.stack_info = None
        for secret in self._secrets:
            message = message.replace(secret, "***")
        record.msg, record.args = message, None
        return True


ROUTES: Final = {
    "oms.log": ("actors.oms", "b1e55ed.venues", "b1e55ed.hyperliquid"),
    "dashboard.log": ("b1e55ed.api.dashboard",),
    "api.log": ("b1e55ed.api", "hypercorn"),
}
"""The files that take the lines of these loggers (and their children), the first match winning."""
REQUEST_LINES: Final = ("b1e55ed.api.access", "b1e55ed.api.dashboard.access")
"""A line per request: to the files only, so a busy API does not drown the console."""


class Route(logging.Filter):
    """Lets through the lines of ``prefixes`` (and their children); ``others``: every line but those of ``taken``."""

    def __init__(self, prefixes: Iterable[str] = (), *, taken: Iterable[str] = ()) -> None:
        super().__init__()
        self._prefixes, self._taken = tuple(prefixes), tuple(taken)

    def filter(self, record: logging.LogRecord) -> bool:
        if self._prefixes:
            return _under(record.name, self._prefixes) and not _under(record.name, self._taken)
        return not _under(record.name, self._taken)


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def configure(
    level: str, secrets: Iterable[str] = (), *, folder: Path | None = None, max_bytes: int = 0, backups: int = 0
) -> None:
    """Log at ``level`` to stderr and, with a ``folder``, to the spec's files there (rotated past ``max_bytes``,
    ``backups`` kept)."""
    redactor = Redactor(secrets)
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    console = logging.StreamHandler(sys.stderr)
    console.addFilter(Route(taken=REQUEST_LINES))
    handlers: list[logging.Handler] = [console]
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)

        def file(name: str, route: logging.Filter | None = None, level: int = logging.NOTSET) -> logging.Handler:
            handler = RotatingFileHandler(folder / name, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
            handler.setLevel(level)
            if route is not None:
                handler.addFilter(route)
            return handler

        taken: list[str] = []
        for name, prefixes in ROUTES.items():
            handlers.append(file(name, Route(prefixes, taken=taken)))
            taken += prefixes
        handlers += [file("brain.log", Route(taken=taken)), file("errors.log", level=logging.ERROR)]
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(redactor)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level)


def close_files() -> None:
    """Close the log files ``configure`` opened, keeping the console."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, RotatingFileHandler)]:
        root.removeHandler(handler)
        handler.close()
