"""The API as a supervised actor: the server, fed by the hub with every commit for ``/metrics`` and ``/health``."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import trio

from b1e55ed.api.app import create_app
from b1e55ed.api.context import ApiContext
from b1e55ed.api.server import check_bind, probe, serve
from b1e55ed.eventlog.chain import Record

logger = logging.getLogger(__name__)

BIND_RETRY_S = 10.0


class ApiServer:
    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self.urls: list[str] = []

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """A bad address is a configuration error; a busy port is not worth stopping trading for: it is
        logged, and binding is retried every ``BIND_RETRY_S``."""
        api = self.ctx.config.api
        check_bind(api)
        app = create_app(self.ctx)
        started = False
        with self._watching():
            while True:
                try:
                    probe(api)
                    break
                except OSError as exc:
                    if not started:
                        logger.error("%s; trading goes on, and the API retries every %g s", exc, BIND_RETRY_S)
                        task_status.started()
                        started = True
                await trio.sleep(BIND_RETRY_S)
            async with trio.open_nursery() as nursery:
                self.urls = await nursery.start(serve, app, api)
                logger.info("API listening on %s", ", ".join(self.urls))
                if not started:
                    task_status.started()

    @contextmanager
    def _watching(self) -> Iterator[None]:
        """Every commit feeds ``/metrics``, the read model's recent records and the answer cache, synchronously."""
        hub, metrics, recent, cache = self.ctx.hub, self.ctx.metrics, self.ctx.read.recent, self.ctx.cache

        def observe(records: Sequence[Record]) -> None:
            try:
                cache.invalidate()
                metrics.observe(records)
                recent.observe(records)
            except Exception:  # runs inside the writer's commit: a bug here must not stop the log
                logger.exception("the API could not observe %d committed records", len(records))

        remove = hub.listen(observe)
        recent.follow()
        cache.enabled = True
        try:
            yield
        finally:
            cache.enabled = False
            cache.invalidate()
            recent.unfollow()
            remove()
