"""systemd's notify protocol: readiness, the watchdog, stopping and a status line, as datagrams to
``$NOTIFY_SOCKET`` (``sd_notify(3)``; a leading ``@`` names an abstract socket). Outside systemd the variable is
unset and every call is a no-op, so nothing here needs a systemd to run or to be tested.

The watchdog pings from a task of its own, never from inside a cycle: a cycle may legitimately wait a minute or
more for its candles. It pings while the last sign of progress is recent enough, so a wedged loop stops the pings
and systemd restarts the service (``WatchdogSec`` in the unit).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

import trio

logger = logging.getLogger(__name__)


def notify(*lines: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send ``lines`` (``READY=1``, ``WATCHDOG=1``, ``STATUS=…``) as one datagram; False when not under systemd.
    A socket that cannot be reached is logged, never raised: telling systemd must not stop the brain."""
    address = (os.environ if environ is None else environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(lines).encode())
    except OSError as exc:
        logger.warning("could not notify systemd at %s: %s", address.lstrip("\0"), exc)
        return False
    return True


def watchdog_interval_s(environ: Mapping[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd asked for (``WATCHDOG_USEC``, for this process when ``WATCHDOG_PID`` is set),
    in seconds; None when there is none."""
    env = os.environ if environ is None else environ
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000


class Watchdog:
    """Pings ``WATCHDOG=1`` every half ``timeout_s`` while ``progress()`` was called less than ``timeout_s`` ago."""

    def __init__(self, timeout_s: float, *, environ: Mapping[str, str] | None = None) -> None:
        self.timeout_s = timeout_s
        self._environ = environ
        self._last_progress: float | None = None

    def progress(self) -> None:
        """A sign of life from the loop being watched (trio time)."""
        self._last_progress = trio.current_time()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self.progress()
        task_status.started()
        stale = False
        while True:
            assert self._last_progress is not None
            quiet_s = trio.current_time() - self._last_progress
            if quiet_s < self.timeout_s:
                notify("WATCHDOG=1", environ=self._environ)
                stale = False
            elif not stale:
                stale = True
                logger.error("no progress for %.0f s: the systemd watchdog is no longer fed", quiet_s)
            await trio.sleep(self.timeout_s / 2)
