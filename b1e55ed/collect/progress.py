"""A one-line progress bar on stderr for a person watching a long download; nothing at all for logs and pipes.

The bar is drawn only when the stream is a terminal, so cron output, CI logs and captured test output stay clean.
Progress is measured in time covered: the collector reports how far its cursor has got between the first and the
last timestamp it expects, which is known before the first page (row counts are not, because of gaps).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Final, TextIO

BAR_WIDTH: Final = 24
REDRAW_EVERY_S: Final = 0.1


class Progress:
    """``label [#######.....]  42%  2021-03-04  12,345 rows``, redrawn in place at most ten times a second."""

    def __init__(self, label: str, start_ms: int, end_ms: int, *, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self.enabled = _is_terminal(self._stream)
        self._label = label
        self._start_ms = start_ms
        self._span_ms = max(1, end_ms - start_ms)
        self._drawn_at = -REDRAW_EVERY_S
        self._line_length = 0

    def update(self, cursor_ms: int, rows: int) -> None:
        if not self.enabled or time.monotonic() - self._drawn_at < REDRAW_EVERY_S:
            return
        self._draw(cursor_ms, rows)

    def finish(self, cursor_ms: int, rows: int) -> None:
        """Draw the final state and end the line, so the report that follows starts on a fresh one."""
        if self.enabled:
            self._draw(cursor_ms, rows)
            self._stream.write("\n")
            self._stream.flush()

    def _draw(self, cursor_ms: int, rows: int) -> None:
        fraction = min(1.0, max(0.0, (cursor_ms - self._start_ms) / self._span_ms))
        filled = round(fraction * BAR_WIDTH)
        day = datetime.fromtimestamp(cursor_ms / 1000, UTC).strftime("%Y-%m-%d")
        line = f"{self._label} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%}  {day}  {rows:,} rows"
        self._stream.write("\r" + line.ljust(self._line_length))
        self._stream.flush()
        self._line_length = len(line)
        self._drawn_at = time.monotonic()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stream-like object without a terminal behind it
        return False
