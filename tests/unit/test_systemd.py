"""The notify protocol against a real unix datagram socket standing in for systemd."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from b1e55ed.systemd import Watchdog, notify, watchdog_interval_s


@pytest.fixture
def systemd(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.setblocking(False)
    yield sock
    sock.close()


def received(sock: socket.socket) -> list[str]:
    messages = []
    while True:
        try:
            messages.append(sock.recv(4096).decode())
        except BlockingIOError:
            return messages


def test_lines_go_as_one_datagram(systemd: socket.socket) -> None:
    environ = {"NOTIFY_SOCKET": systemd.getsockname()}
    assert notify("READY=1", "STATUS=cycle 7 settled", environ=environ)
    assert received(systemd) == ["READY=1\nSTATUS=cycle 7 settled"]


def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    name = f"b1e55ed-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.setblocking(False)
        assert notify("STOPPING=1", environ={"NOTIFY_SOCKET": "@" + name})
        assert received(sock) == ["STOPPING=1"]


def test_outside_systemd_nothing_is_sent_and_nothing_fails(tmp_path: Path) -> None:
    assert not notify("READY=1", environ={})
    assert not notify("READY=1", environ={"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})


def test_the_watchdog_interval_is_systemds_for_this_process() -> None:
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None


async def test_the_watchdog_pings_while_there_is_progress_and_stops_when_the_loop_wedges(
    systemd: socket.socket, autojump_clock: trio.testing.MockClock
) -> None:
    watchdog = Watchdog(10.0, environ={"NOTIFY_SOCKET": systemd.getsockname()})
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        for _ in range(6):  # a slow but live loop: progress every 8 s for 48 s
            await trio.sleep(8)
            watchdog.progress()
        alive = received(systemd)
        await trio.sleep(60)  # wedged: no progress for a minute
        wedged = received(systemd)
        nursery.cancel_scope.cancel()
    assert alive == ["WATCHDOG=1"] * 10  # every 5 s
    assert len(wedged) <= 2  # pings end within one timeout of the last progress
