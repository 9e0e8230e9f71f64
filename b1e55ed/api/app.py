"""``create_app``: the Starlette application, built from an ``ApiContext`` and nothing global."""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from b1e55ed.api.access import AccessLog
from b1e55ed.api.context import ApiContext
from b1e55ed.api.errors import ApiError, api_error, http_error, server_error
from b1e55ed.api.fanout import Fanout
from b1e55ed.api.limits import BodyLimit
from b1e55ed.api.openapi import openapi_schema
from b1e55ed.api.proxies import TrustedProxies
from b1e55ed.api.responses import Json
from b1e55ed.api.routes_control import control_routes
from b1e55ed.api.routes_read import read_routes
from b1e55ed.api.security import AccessGuard
from b1e55ed.api.sse import sse_routes

logger = logging.getLogger(__name__)


def _dashboard_routes(ctx: ApiContext) -> list[BaseRoute]:
    """The dashboard's page, fragments and assets, when its package is present."""
    try:
        module = importlib.import_module("b1e55ed.api.dashboard")
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.startswith("b1e55ed.api.dashboard"):
            return []
        raise
    routes: list[BaseRoute] = module.dashboard_routes(ctx)
    return routes


def create_app(ctx: ApiContext) -> Starlette:
    schema = openapi_schema(secured=bool(ctx.config.api.auth_token))

    async def openapi(request: Request) -> Response:
        return Json(schema)

    fanout = Fanout(ctx.hub, ctx.metrics, busy=ctx.trading_busy, prices=ctx.prices)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        # The stream's fan-out lives as long as the server: hypercorn runs the lifespan in its own task.
        async with trio.open_nursery() as nursery:
            await nursery.start(fanout.run)
            yield
            nursery.cancel_scope.cancel()

    routes = [
        *read_routes(ctx),
        *control_routes(ctx),
        *sse_routes(ctx, fanout),
        Route("/openapi.json", openapi, methods=["GET"]),
        *_dashboard_routes(ctx),
    ]
    api = ctx.config.api
    middleware = [
        Middleware(AccessGuard, config=api, metrics=ctx.metrics),  # before the body is read: a stranger's is not
        Middleware(BodyLimit, max_bytes=api.max_body_bytes, timeout_s=api.request_timeout_s),
    ]
    if api.cors_origins:  # outermost, so that preflights are answered before the guard
        cors = Middleware(
            CORSMiddleware,
            allow_origins=list(api.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            allow_credentials=True,
        )
        middleware.insert(0, cors)
    middleware.insert(0, Middleware(AccessLog))  # refusals too
    if api.trusted_proxies:  # outermost of all: every layer sees the client the proxy saw
        middleware.insert(0, Middleware(TrustedProxies, proxies=api.trusted_proxies))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: server_error},
    )
    app.state.ctx = ctx
    return app
