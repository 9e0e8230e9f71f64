"""Apify API v2: start a scraper actor run, follow it to the end, read its dataset; one token for every actor.

The flow (docs.apify.com/api/v2): ``POST /v2/acts/{actorId}/runs`` with the actor's input as the JSON body answers
``{"data": {"id", "status", "defaultDatasetId", ...}}``; ``GET /v2/actor-runs/{runId}`` answers the same run object
until ``status`` is terminal — SUCCEEDED, or FAILED, ABORTED, TIMED-OUT — and ``GET
/v2/datasets/{datasetId}/items?format=json&clean=true`` answers the items as a JSON array. An actor id is
``username~actor-name`` in a path (``username/actor-name`` is accepted and converted). The token travels in the
``Authorization: Bearer`` header, as Apify recommends, so it never appears in a URL, a log or an error.

Scraper runs take minutes, longer than a producer may spend in one refresh; so besides ``run_actor`` (start, wait
with bounded backoff, read) the steps are public and a producer can start a run in one cycle and collect it in a
later one. ``posts_from_items`` reads the two scrapers' items: TikTok's ``clockworks/tiktok-scraper`` (``text``,
``createTime`` in Unix seconds, ``createTimeISO``) and X's ``apidojo/tweet-scraper`` (``text``, ``createdAt`` as
``"Fri Nov 24 17:49:36 +0000 2023"``), and common variants (``desc``, ``fullText``, ``created_at``, ISO times).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import httpx
import msgspec
import trio

from b1e55ed.sources import JsonApi, Post, SourceError, SourceUnavailable

logger = logging.getLogger(__name__)

APIFY_API_URL: Final = "https://api.apify.com"
SUCCEEDED: Final = "SUCCEEDED"
FAILED_STATES: Final = frozenset({"FAILED", "ABORTED", "TIMED-OUT"})
_TEXT_FIELDS: Final = ("text", "desc", "fullText", "full_text", "title")
_TIME_FIELDS: Final = ("createTime", "createTimeISO", "createdAt", "created_at", "timestamp")
_ID_FIELDS: Final = ("id", "id_str", "webVideoUrl", "url")


class ApifyRun(msgspec.Struct, frozen=True):
    """The part of Apify's run object we use."""

    id: str
    status: str
    default_dataset_id: str = msgspec.field(name="defaultDatasetId")
    act_id: str = msgspec.field(name="actId", default="")

    @property
    def finished(self) -> bool:
        return self.status == SUCCEEDED or self.status in FAILED_STATES


class _RunEnvelope(msgspec.Struct, frozen=True):
    data: ApifyRun


class ApifyRunFailed(SourceError):
    """The run ended FAILED, ABORTED or TIMED-OUT (on Apify's side): its dataset is not to be trusted."""


class ApifyRunTimeout(SourceUnavailable):
    """The run had not finished when we stopped waiting."""


_RUN_DECODER: Final = msgspec.json.Decoder(_RunEnvelope)
_ITEMS_DECODER: Final = msgspec.json.Decoder(list[dict[str, Any]])


class ApifyClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        token: str,
        *,
        base_url: str = APIFY_API_URL,
        poll_initial_s: float = 2.0,
        poll_max_s: float = 30.0,
        max_retries: int = 3,
        backoff_initial_s: float = 1.0,
    ) -> None:
        if not token:
            raise ValueError("ApifyClient needs a token")
        if poll_initial_s <= 0 or poll_max_s < poll_initial_s:
            raise ValueError("ApifyClient needs 0 < poll_initial_s <= poll_max_s")
        self._api = JsonApi(
            http,
            base_url,
            headers={"Authorization": f"Bearer {token}"},
            secrets=[token],
            max_retries=max_retries,
            backoff_initial_s=backoff_initial_s,
        )
        self._poll_initial_s = poll_initial_s
        self._poll_max_s = poll_max_s

    async def start_run(self, actor_id: str, run_input: Mapping[str, Any]) -> ApifyRun:
        """Start ``actor_id`` with ``run_input``; returns at once with the run (READY or RUNNING)."""
        actor = actor_id.replace("/", "~")
        envelope = await self._api.request(
            "POST", f"/v2/acts/{actor}/runs", "POST /v2/acts/{actorId}/runs", _RUN_DECODER, body=dict(run_input)
        )
        logger.info("apify: started %s, run %s (%s)", actor, envelope.data.id, envelope.data.status)
        return envelope.data

    async def get_run(self, run_id: str) -> ApifyRun:
        envelope = await self._api.request(
            "GET", f"/v2/actor-runs/{run_id}", "GET /v2/actor-runs/{runId}", _RUN_DECODER
        )
        return envelope.data

    async def wait_for_run(self, run_id: str, *, max_wait_s: float) -> ApifyRun:
        """Poll until the run ends, backing off from ``poll_initial_s`` to ``poll_max_s``; never past
        ``max_wait_s`` (``ApifyRunTimeout``). A run that ended other than SUCCEEDED raises ``ApifyRunFailed``."""
        started = trio.current_time()
        delay = self._poll_initial_s
        while True:
            run = check_run(await self.get_run(run_id))
            if run.finished:
                return run
            remaining = max_wait_s - (trio.current_time() - started)
            if remaining <= 0:
                raise ApifyRunTimeout(
                    "GET /v2/actor-runs/{runId}", f"run {run_id} still {run.status} after {max_wait_s:g} s"
                )
            await trio.sleep(min(delay, remaining))
            delay = min(delay * 2.0, self._poll_max_s)

    async def dataset_items(self, dataset_id: str, *, limit: int = 1000) -> list[dict[str, Any]]:
        """The first ``limit`` items of a dataset, as the actor wrote them (``clean``: no empty or hidden fields)."""
        params: dict[str, str | int] = {"format": "json", "clean": "true", "limit": limit}
        return await self._api.request(
            "GET",
            f"/v2/datasets/{dataset_id}/items",
            "GET /v2/datasets/{datasetId}/items",
            _ITEMS_DECODER,
            params=params,
        )

    async def run_actor(
        self, actor_id: str, run_input: Mapping[str, Any], *, max_wait_s: float, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """Start, wait (at most ``max_wait_s``) and read: the whole flow, for callers that can afford the wait."""
        run = await self.start_run(actor_id, run_input)
        run = await self.wait_for_run(run.id, max_wait_s=max_wait_s)
        return await self.dataset_items(run.default_dataset_id, limit=limit)


def check_run(run: ApifyRun) -> ApifyRun:
    """``run`` itself, unless it ended badly: then ``ApifyRunFailed`` naming the run and its status."""
    if run.status in FAILED_STATES:
        raise ApifyRunFailed(
            "GET /v2/actor-runs/{runId}", f"run {run.id} of {run.act_id or 'actor'} ended {run.status}"
        )
    return run


def posts_from_items(source: str, items: Sequence[Mapping[str, Any]]) -> list[Post]:
    """The items that carry a text and a time, as posts; others (profiles, errors, ads) are skipped."""
    posts = []
    skipped = 0
    for index, item in enumerate(items):
        text = next((v for k in _TEXT_FIELDS if isinstance(v := item.get(k), str) and v), None)
        ts_ms = next((t for k in _TIME_FIELDS if (t := timestamp_ms(item.get(k))) is not None), None)
        if text is None or ts_ms is None:
            skipped += 1
            continue
        post_id = next((str(v) for k in _ID_FIELDS if isinstance(v := item.get(k), str | int) and v), f"#{index}")
        posts.append(Post(source, post_id, text, ts_ms))
    if skipped:
        logger.debug("%s: skipped %d of %d items without a text and a time", source, skipped, len(items))
    return posts


def timestamp_ms(value: object) -> int | None:
    """Unix seconds or ms (a number), ISO 8601, or X's ``"Fri Nov 24 17:49:36 +0000 2023"``; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            return None
        return int(value if value > 1e11 else value * 1000)  # ms from about 1973 on; seconds below
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")  # X's created_at
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)
