"""The API built from a runtime: the context its routes read, and the stage that serves it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from b1e55ed.api.actor import ApiServer
from b1e55ed.api.context import ApiContext
from b1e55ed.api.control import gate_control
from b1e55ed.api.metrics import ApiMetrics
from b1e55ed.api.queries import ReadModel
from b1e55ed.market.mids import PriceBoard
from b1e55ed.runtime import Runtime, Supervised


def api_context(
    runtime: Runtime,
    *,
    strategies: Sequence[str],
    producers: Sequence[str],
    run_cycle: Callable[[], Awaitable[int]] | None = None,
    next_cycle: Callable[[], int | None] = lambda: None,
    metrics: ApiMetrics | None = None,
    busy: Callable[[], bool] = lambda: False,
    prices: PriceBoard | None = None,
) -> ApiContext:
    """``run_cycle`` starts a cycle now and returns its number once settled (the brain's ``scan``); ``busy``
    says whether a cycle is running; ``prices`` is the live price monitor, when the brain has one."""
    config, log = runtime.config, runtime.log
    read = ReadModel(
        log.store,
        health=runtime.health,
        gate=runtime.gate,
        clock=runtime.clock,
        strategies=strategies,
        producers=producers,
        starting_equity=config.paper.starting_equity,
        next_cycle=next_cycle,
    )
    ctx = ApiContext(
        config=config,
        store=log.store,
        hub=runtime.hub,
        health=runtime.health,
        gate=runtime.gate,
        clock=runtime.clock,
        read=read,
        strategies=list(strategies),
        symbols=list(config.symbols),
        killswitch=gate_control(runtime.gate, log, runtime.clock),
        metrics=metrics or ApiMetrics(),
        trading_busy=busy,
        prices=prices,
    )
    if run_cycle is not None:

        async def scan() -> dict[str, Any]:
            return await read.cycle_result(await run_cycle())

        ctx.scan = scan

    async def alerts(limit: int) -> list[dict[str, Any]]:
        store = runtime.alerter.store if runtime.alerter is not None else None
        return await store.latest(limit) if store is not None else []

    ctx.alerts = alerts
    return ctx


def api_actor(ctx: ApiContext) -> Supervised:
    # A source: at shutdown it stops at once (open streams end), before the stages that drain.
    return Supervised("api", ApiServer(ctx), source=True)
