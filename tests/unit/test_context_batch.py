"""The enricher's batch paths answer bit for bit what the one-at-a-time paths answer: the PCS context's rounding over
arrays against Python's ``round``, and a batch's context sources (Fear & Greed in one search) against a call per
time."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pytest

from actors.context import rounded_like_python
from actors.enricher import BatchContextSource, DailyIndexSource, batch_answer
from b1e55ed.market.sentiment import DAY_MS, FearGreedIndex


def python_rounded(values: Sequence[float], ndigits: int) -> list[float]:
    return [round(value, ndigits) if math.isfinite(value) else value for value in values]


def same_bits(found: Sequence[float], expected: Sequence[float]) -> bool:
    return np.array(found, dtype=np.float64).tobytes() == np.array(expected, dtype=np.float64).tobytes()


def near_ties(ndigits: int, count: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """The doubles nearest ``(k + 0.5) / 10**ndigits`` and their two neighbours: where a product rounded to a
    double lands on a tie that the exact one is not."""
    halves = (rng.integers(-(10**14), 10**14, count) + 0.5) / 10.0**ndigits
    return np.concatenate((halves, np.nextafter(halves, np.inf), np.nextafter(halves, -np.inf)))


@pytest.mark.parametrize("ndigits", [8, 0, 2, 15])
def test_rounding_over_arrays_is_pythons_round_bit_for_bit(ndigits: int) -> None:
    rng = np.random.default_rng(ndigits)
    values = np.concatenate(
        (
            *(rng.uniform(-1, 1, 2_000) * 10.0**exponent for exponent in range(-30, 20)),
            near_ties(ndigits, 20_000, rng),
            rng.standard_normal(20_000) * 100,
            # Exact ties, zeros, a small negative (-0.0), the edge of the exact path, beyond it, and non-numbers.
            [0.125, 2.5, -2.5, 0.0, -0.0, -1e-12, 2.0**52 / 10.0**ndigits, 4.6e7, 1e300, -1e300, 5e-324],
            [math.nan, math.inf, -math.inf],
        )
    )
    found = rounded_like_python(values, ndigits).tolist()
    assert same_bits(found, python_rounded(values.tolist(), ndigits))


def test_rounding_over_arrays_needs_the_exact_product() -> None:
    """The plain ``rint(x * 1e8) / 1e8`` differs from Python on near ties: what the two-product is for."""
    values = near_ties(8, 10_000, np.random.default_rng(3))
    assert not same_bits((np.rint(values * 1e8) / 1e8).tolist(), python_rounded(values.tolist(), 8))
    assert same_bits(rounded_like_python(values, 8).tolist(), python_rounded(values.tolist(), 8))


def test_rounding_over_arrays_keeps_the_shape_and_rejects_unexact_places() -> None:
    values = np.array([[1.234567891234, math.nan], [-0.000000004, 7.0]])
    assert same_bits(rounded_like_python(values, 8).ravel().tolist(), python_rounded(values.ravel().tolist(), 8))
    assert rounded_like_python(values, 8).shape == (2, 2)
    with pytest.raises(ValueError, match="ndigits"):
        rounded_like_python(values, 23)


# -- context sources over a batch's times -----------------------------------------------------------------------


DAY0 = 1_704_067_200_000  # 2024-01-01 00:00 UTC
HOUR_MS = 3_600_000


def fear_greed() -> FearGreedIndex:
    days = np.array([DAY0, DAY0 + DAY_MS, DAY0 + 5 * DAY_MS, DAY0 + 6 * DAY_MS], dtype=np.int64)
    return FearGreedIndex(days, np.array([20.0, 55.0, 80.0, 12.5]))


TIMES = [DAY0 - 1, DAY0, DAY0 + DAY_MS - 1, *range(DAY0 + DAY_MS, DAY0 + 8 * DAY_MS, 5 * HOUR_MS), DAY0 + 3 * DAY_MS]
"""Before the first day, each day's start and end, a gap older than two days, after the last day, out of order."""


def test_fear_greed_values_at_many_times_are_value_at_each() -> None:
    index = fear_greed()
    found = index.values_at(TIMES)
    assert found == [index.value_at(at_ms) for at_ms in TIMES]
    assert None in found
    assert {20.0, 55.0, 80.0, 12.5} <= set(found)
    empty = FearGreedIndex(np.array([], dtype=np.int64), np.array([], dtype=np.float64))
    assert empty.values_at(TIMES) == [None] * len(TIMES)


class PlainDailyIndex:
    """A ``DailyIndex`` that knows only ``value_at``."""

    def __init__(self, index: FearGreedIndex) -> None:
        self._index = index

    def value_at(self, at_ms: int) -> float | None:
        return self._index.value_at(at_ms)


@pytest.mark.parametrize("index", [fear_greed(), PlainDailyIndex(fear_greed())], ids=["values_at", "value_at"])
def test_a_daily_index_source_answers_a_batch_as_each_time_alone_for_any_symbol(
    index: FearGreedIndex | PlainDailyIndex,
) -> None:
    source = DailyIndexSource(index)
    assert isinstance(source, BatchContextSource)
    for symbol in ("BTC", "ETH"):
        assert list(source.at_times(symbol, TIMES)) == [source(symbol, at_ms) for at_ms in TIMES]
        assert list(batch_answer(source)(symbol, TIMES)) == [index.value_at(at_ms) for at_ms in TIMES]


def test_a_source_that_answers_one_time_is_asked_each_time_in_order() -> None:
    asked: list[tuple[str, int]] = []

    def basis(symbol: str, at_ms: int) -> float | None:
        asked.append((symbol, at_ms))
        return at_ms / 1e6 if symbol == "BTC" else None

    assert not isinstance(basis, BatchContextSource)
    assert list(batch_answer(basis)("BTC", [3_000_000, 1_000_000])) == [3.0, 1.0]
    assert list(batch_answer(basis)("ETH", [5])) == [None]
    assert asked == [("BTC", 3_000_000), ("BTC", 1_000_000), ("ETH", 5)]
