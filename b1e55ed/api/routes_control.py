"""The mutating endpoints: ``POST /scan``, ``POST /killswitch`` and the dashboard's ``POST /auth/session``."""

from __future__ import annotations

from typing import Any

import msgspec
import trio
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from b1e55ed.api.context import ApiContext
from b1e55ed.api.errors import ApiError
from b1e55ed.api.responses import Json
from b1e55ed.api.security import SESSION_COOKIE, session_value
from b1e55ed.errors import ScanRefused
from b1e55ed.killswitch_file import COMMANDS
from b1e55ed.messages import TradingStateName
from b1e55ed.tradingstate import STATES

SCAN_TIMEOUT_S = 120.0


async def _json_body(request: Request) -> dict[str, Any]:
    body = await request.body()  # at most api.max_body_bytes: ``BodyLimit`` refused anything larger
    try:
        data = msgspec.json.decode(body) if body else None
    except msgspec.DecodeError:
        raise ApiError(400, "the request body is not valid JSON", "body") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object", "body")
    return data


def _state(value: object) -> TradingStateName:
    if isinstance(value, str):
        if value in COMMANDS:
            return COMMANDS[value]
        for state in STATES:
            if value == state:
                return state
    choices = ", ".join(STATES)
    raise ApiError(400, f"`state` must be one of {choices} (or halt, reduce, resume), got {value!r}", "state")


def control_routes(ctx: ApiContext) -> list[BaseRoute]:
    async def scan(request: Request) -> Response:
        try:
            with trio.fail_after(SCAN_TIMEOUT_S):
                result = await ctx.scan()
        except ScanRefused as exc:
            raise ApiError(409, str(exc)) from None
        except trio.TooSlowError:
            raise ApiError(504, f"the triggered cycle did not settle within {SCAN_TIMEOUT_S:g} s") from None
        return Json(result)

    async def killswitch(request: Request) -> Response:
        body = await _json_body(request)
        if "state" not in body:
            raise ApiError(400, "`state` is required: ACTIVE, REDUCING or HALTED", "state")
        return Json(await ctx.killswitch(_state(body["state"])))

    async def session(request: Request) -> Response:
        token = ctx.config.api.auth_token
        body = await _json_body(request)
        candidate = body.get("token")
        if not isinstance(candidate, str) or not candidate:
            raise ApiError(400, "`token` is required and must be a string", "token")
        if not token.matches(candidate):
            raise ApiError(401, "wrong API token", "token")
        response = Json({"authenticated": True})
        response.set_cookie(
            SESSION_COOKIE,
            session_value(token),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    return [
        Route("/scan", scan, methods=["POST"]),
        Route("/killswitch", killswitch, methods=["POST"]),
        Route("/auth/session", session, methods=["POST"]),
    ]
