"""The alternative.me Crypto Fear & Greed index into ``fear_greed/fear_greed_daily.parquet`` (``ts, value,
classification``), the whole history in one request, then only the days since the last stored one.

Wire format (alternative.me/crypto/fear-and-greed-index, "API"): ``GET /fng/?limit=N&format=json`` answers
``{"name", "data": [{"value": "40", "value_classification": "Fear", "timestamp": "1551157200", ...}], "metadata":
{"error": null}}``: the latest ``N`` days (0: all), newest first, the timestamp in seconds (00:00 UTC). A new value
appears once a day, so a run less than a day after the last stored reading asks for nothing. The index is
alternative.me's; they ask for attribution where it is shown.
"""

from __future__ import annotations

import math
from typing import Final

import msgspec
import polars as pl

from b1e55ed.ratelimit import WeightBudget

from .http import CollectError
from .layout import FEAR_GREED_SCHEMA, fear_greed_path
from .session import Session
from .validate import FEAR_GREED_CHECKS, check_rows

FEAR_GREED_URL: Final = "https://api.alternative.me/fng/"
DAY_MS: Final = 86_400_000


class _Reading(msgspec.Struct, frozen=True):
    value: int
    classification: str = msgspec.field(name="value_classification")
    timestamp: int


class _Metadata(msgspec.Struct, frozen=True):
    error: str | None = None


class _Answer(msgspec.Struct, frozen=True):
    data: list[_Reading]
    metadata: _Metadata = msgspec.field(default_factory=_Metadata)


_ANSWER: Final = msgspec.json.Decoder(_Answer, strict=False)


async def collect_fear_greed(
    session: Session, *, url: str = FEAR_GREED_URL, budget: WeightBudget | None = None
) -> None:
    budget = budget if budget is not None else WeightBudget(60, 60.0)  # "60 requests per minute", per IP
    with session.series(fear_greed_path(session.data_dir), FEAR_GREED_SCHEMA) as (series, report):
        last_ts, now_ms = series.last_ts, session.clock.now_ms()
        if last_ts is None:
            limit = 0
        elif now_ms < last_ts + DAY_MS:
            report.note = "up to date: the next reading is published after 00:00 UTC"
            return
        else:
            limit = math.ceil((now_ms - last_ts) / DAY_MS)  # the days since, and up to one stored: dropped below
        params: dict[str, str | int] = {"limit": limit, "format": "json"}
        answer = await session.fetcher.get(url, params, _ANSWER, budget=budget, weight=1)
        if answer.metadata.error:
            raise CollectError(f"GET {url}?limit={limit}&format=json", f"metadata.error: {answer.metadata.error}")
        readings = reversed(answer.data)  # documented newest first; oldest first, anything out of order is flagged
        frame = pl.DataFrame(
            [(reading.timestamp * 1000, reading.value, reading.classification) for reading in readings],
            schema=dict(FEAR_GREED_SCHEMA),
            orient="row",
        )
        if last_ts is not None:
            frame = frame.filter(pl.col("ts") > last_ts)
        series.add(check_rows(frame, FEAR_GREED_CHECKS, report.rejects, after_ts=last_ts))
