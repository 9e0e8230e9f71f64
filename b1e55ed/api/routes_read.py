"""The read-only endpoints: health, signals, positions, trades, orders, strategies, karma, decisions, events,
metrics."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from b1e55ed.api.context import ApiContext
from b1e55ed.api.errors import MAX_INT, ApiError, int_param, limit_param, text_param
from b1e55ed.api.responses import ENCODER, Json

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"


def read_routes(ctx: ApiContext) -> list[BaseRoute]:
    read, cache = ctx.read, ctx.cache

    def cached(compute: Callable[[Request], Awaitable[object]]) -> Callable[[Request], Awaitable[Response]]:
        """Answers that only the log decides, kept until the next commit (keyed by path and query)."""

        async def endpoint(request: Request) -> Response:
            async def encode() -> bytes:
                return ENCODER.encode(await compute(request))

            key = f"{request.url.path}?{request.url.query}"
            return Response(await cache.get(key, encode), media_type="application/json")

        return endpoint

    async def health(request: Request) -> Response:
        return Json(await read.health())

    async def signals(request: Request) -> object:
        symbol = text_param(request, "symbol")
        producer = text_param(request, "producer")
        since = int_param(request, "since", None)
        limit = limit_param(request)
        rows = await read.signals(symbol=symbol, producer=producer, since=since, limit=limit)
        return {"signals": rows, "count": len(rows)}

    async def positions(request: Request) -> object:
        return {"positions": await read.positions()}

    async def trades(request: Request) -> object:
        return {"trades": await read.trades(limit=limit_param(request))}

    async def orders(request: Request) -> object:
        return {"orders": await read.orders(limit=limit_param(request))}

    async def strategies(request: Request) -> object:
        return {"strategies": await read.strategies()}

    async def karma(request: Request) -> object:
        return await read.karma(min_samples=ctx.config.karma.min_samples)

    async def decisions(request: Request) -> object:
        return {"decisions": await read.decisions(limit=limit_param(request, default=50))}

    async def decision(request: Request) -> object:
        decision_id: str = request.path_params["decision_id"]
        if len(decision_id) > 128:
            raise ApiError(400, "`decision_id` is longer than 128 characters", "decision_id")
        found = await read.decision(decision_id)
        if found is None:
            raise ApiError(404, f"no decision with id {decision_id!r}", "decision_id")
        return found

    async def events(request: Request) -> Response:
        after = int_param(request, "after", 0, high=MAX_INT)
        assert after is not None
        limit = limit_param(request, default=100, high=1000)
        records = await ctx.store.read(after=after, limit=limit)
        head = await ctx.store.head()
        body = {
            "events": [
                {
                    "seq": r.seq,
                    "ts": r.ts,
                    "kind": r.kind,
                    "payload": base64.b64encode(r.payload).decode(),
                    "prev_hash": r.prev_hash.hex(),
                    "hash": r.hash.hex(),
                }
                for r in records
            ],
            "next_after": records[-1].seq if records else after,
            "head": {"seq": head.seq, "hash": head.hash.hex()},
        }
        return Json(body)

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(ctx.metrics.render(ctx.hub, ctx.health), media_type=PROMETHEUS)

    return [
        Route("/health", health, methods=["GET"]),
        Route("/signals", cached(signals), methods=["GET"]),
        Route("/positions", cached(positions), methods=["GET"]),
        Route("/trades", cached(trades), methods=["GET"]),
        Route("/orders", cached(orders), methods=["GET"]),
        Route("/strategies", cached(strategies), methods=["GET"]),
        Route("/karma", cached(karma), methods=["GET"]),
        Route("/decisions", cached(decisions), methods=["GET"]),
        Route("/decisions/{decision_id}", cached(decision), methods=["GET"]),
        Route("/events", events, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
