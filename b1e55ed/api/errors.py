"""API errors: JSON ``{"error": message, "parameter": name}``, and the query-parameter parsers that raise them.

A bad parameter is the client's fault and answers 4xx naming the parameter; nothing a client sends can make the
server answer 500.
"""

from __future__ import annotations

import logging
import re

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

logger = logging.getLogger(__name__)

_INTEGER = re.compile(r"^-?[0-9]{1,18}$")
MAX_INT = 2**53  # a JSON number every client reads exactly, and far inside SQLite's 64-bit integers


class ApiError(Exception):
    def __init__(self, status: int, message: str, parameter: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter
        self.headers = headers or {}


def error_response(
    status: int, message: str, parameter: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body: dict[str, object] = {"error": message}
    if parameter is not None:
        body["parameter"] = parameter
    return JSONResponse(body, status_code=status, headers=headers)


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.message, exc.parameter, exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"no such resource: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}))


async def server_error(request: Request, exc: Exception) -> Response:
    logger.exception("%s %s failed", request.method, request.url.path)
    return error_response(500, f"internal error while answering {request.url.path}; see the server log")


def int_param(request: Request, name: str, default: int | None, *, low: int = 0, high: int = MAX_INT) -> int | None:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not _INTEGER.match(raw):
        raise ApiError(400, f"`{name}` must be an integer, got {raw!r}", name)
    value = int(raw)
    if not low <= value <= high:
        raise ApiError(400, f"`{name}` must be between {low} and {high}, got {value}", name)
    return value


def limit_param(request: Request, default: int = 100, high: int = 1000) -> int:
    value = int_param(request, "limit", default, low=1, high=high)
    assert value is not None
    return value


def text_param(request: Request, name: str, *, max_length: int = 64) -> str | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length:
        raise ApiError(400, f"`{name}` is longer than {max_length} characters", name)
    return raw
