"""Serving the app: hypercorn's trio worker inside the runtime's root nursery.

``serve`` is written for ``nursery.start``: it reports the bound addresses once the server listens. It refuses
to bind anything but loopback unless an API token is configured: an unauthenticated trading API must never be
reachable from another machine.
"""

from __future__ import annotations

import ipaddress
import logging
import socket

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve as hypercorn_serve
from starlette.applications import Starlette

from b1e55ed.config import ApiConfig

logger = logging.getLogger(__name__)


class UnsafeBind(ValueError):
    """A non-loopback address without an API token."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(api: ApiConfig) -> None:
    if not is_loopback(api.host) and not api.auth_token:
        raise UnsafeBind(
            f"api.host {api.host!r} is not a loopback address and no API token is configured: set "
            "B1E55ED_API__AUTH_TOKEN, or bind 127.0.0.1"
        )


def probe(api: ApiConfig) -> None:
    """Raise ``OSError`` naming the address if it cannot be bound now (another process holds the port)."""
    family = socket.AF_INET6 if ":" in api.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((api.host.strip("[]"), api.port))
        except OSError as exc:
            raise OSError(f"cannot serve the API on {api.host}:{api.port}: {exc.strerror or exc}") from None


def hypercorn_config(api: ApiConfig) -> HypercornConfig:
    config = HypercornConfig()
    host = f"[{api.host}]" if ":" in api.host and not api.host.startswith("[") else api.host
    config.bind = [f"{host}:{api.port}"]
    config.accesslog = None  # request lines would carry query strings; errors still go to the log
    config.errorlog = logger
    config.graceful_timeout = 1.0
    # hypercorn closes a connection that stays idle this long; a request whose headers trickle in keeps it idle.
    config.keep_alive_timeout = api.request_timeout_s
    config.backlog = 1024
    return config


async def serve(
    app: Starlette, api: ApiConfig, *, task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve ``app`` until cancelled; ``task_status.started`` gets the bound URLs (port 0 picks a free port)."""
    check_bind(api)
    probe(api)
    await hypercorn_serve(app, hypercorn_config(api), task_status=task_status)  # type: ignore[arg-type]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for tests and benchmarks)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
