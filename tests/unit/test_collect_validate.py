"""Row checks: each bad row is dropped and counted once, under the first reason it fails."""

from __future__ import annotations

import math

import polars as pl

from b1e55ed.collect.layout import CANDLE_SCHEMA, FEAR_GREED_SCHEMA
from b1e55ed.collect.validate import CANDLE_CHECKS, FEAR_GREED_CHECKS, Rejects, check_rows

NAN = math.nan


def candles(*rows: tuple[int, float, float, float, float, float]) -> pl.DataFrame:
    return pl.DataFrame(list(rows), schema=dict(CANDLE_SCHEMA), orient="row")


def test_every_reason_is_counted_once_and_good_rows_keep_their_order() -> None:
    frame = candles(
        (1, 10, 11, 9, 10, 1),
        (2, NAN, 11, 9, 10, 1),  # NaN price
        (3, 10, 11, 9, 10, NAN),  # NaN volume
        (4, 10, 9, 11, 10, 1),  # high below low (and open outside: counted once, first reason)
        (5, 0, 11, 9, 10, 1),  # non-positive price
        (6, 12, 11, 9, 10, 1),  # open above high
        (6, 10, 11, 9, 10, 1),  # good values, but row 6 again... the first 6 was bad, so this one stands
        (6, 10, 11, 9, 10, 1),  # duplicate of the good 6
        (5, 10, 11, 9, 10, 1),  # back in time
        (7, 10, 11, 9, 10, 2),
    )
    rejects = Rejects()
    kept = check_rows(frame, CANDLE_CHECKS, rejects)
    assert kept["ts"].to_list() == [1, 6, 7]
    assert dict(rejects.counts) == {
        "NaN or infinite price": 1,
        "NaN or negative volume": 1,
        "high below low": 1,
        "non-positive price": 1,
        "open or close outside [low, high]": 1,
        "duplicate timestamp": 1,
        "timestamp out of order": 1,
    }
    assert rejects.total == 7
    assert "ts 2: NaN or infinite price" in rejects.examples


def test_rows_at_or_before_the_last_stored_one_are_rejected() -> None:
    rejects = Rejects()
    kept = check_rows(candles((4, 1, 1, 1, 1, 1), (5, 1, 1, 1, 1, 1), (6, 1, 1, 1, 1, 1)), (), rejects, after_ts=5)
    assert kept["ts"].to_list() == [6]
    assert dict(rejects.counts) == {"duplicate timestamp": 1, "timestamp out of order": 1}


def test_backfill_rows_must_stay_before_the_first_stored_one() -> None:
    rejects = Rejects()
    kept = check_rows(candles((1, 1, 1, 1, 1, 1), (9, 1, 1, 1, 1, 1)), (), rejects, before_ts=9)
    assert kept["ts"].to_list() == [1]
    assert dict(rejects.counts) == {"timestamp out of order": 1}


def test_fear_greed_values_and_labels() -> None:
    frame = pl.DataFrame(
        [(1, 40, "Fear"), (2, 140, "Extreme Greed"), (3, 50, " "), (4, 0, "Extreme Fear")],
        schema=dict(FEAR_GREED_SCHEMA),
        orient="row",
    )
    rejects = Rejects()
    assert check_rows(frame, FEAR_GREED_CHECKS, rejects)["ts"].to_list() == [1, 4]
    assert dict(rejects.counts) == {"value outside 0..100": 1, "missing classification": 1}
