"""The sweep on a local Ray gives the local run's rows, every chunk a task over the one copy of the candles."""

from __future__ import annotations

import numpy as np
import pytest

from actors.strategies.ma_crossover import MACrossoverStrategy
from b1e55ed.market.bars import BarArrays
from b1e55ed.sweep.cluster import run_on_ray
from b1e55ed.sweep.grid import combinations
from b1e55ed.sweep.run import Candles, Sweep
from b1e55ed.venues.paper import PaperConfig

HOUR = 3_600_000

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore")]  # Ray's own start-up warnings


def random_walk(count: int = 6_000) -> Candles:
    rng = np.random.default_rng(4)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, count)))
    opened = np.concatenate(([100.0], close[:-1])) * (1 + rng.normal(0, 0.002, count))
    high = np.maximum(opened, close) * (1 + rng.uniform(0, 0.01, count))
    low = np.minimum(opened, close) * (1 - rng.uniform(0, 0.01, count))
    ts = 1_600_000_000_000 + HOUR * np.arange(count)
    return Candles.of(BarArrays(ts, opened, high, low, close, rng.uniform(1, 1e3, count)), HOUR)


def test_ray_tasks_give_the_local_rows() -> None:
    grid: dict[str, list[int | float]] = {
        "fast": [5, 10, 20], "slow": [30, 60], "trend": [0, 100], "stop_pct": [2.0, 3.0], "target_pct": [5.0]
    }  # fmt: skip
    combos = combinations(MACrossoverStrategy.Params, {}, grid).params
    local = Sweep(random_walk(), PaperConfig(), 10.0, "ma_crossover").run(combos, blocks=4)
    done: list[int] = []
    on_ray = run_on_ray(
        Sweep(random_walk(), PaperConfig(), 10.0, "ma_crossover"),
        combos,
        None,
        blocks=4,
        chunk=5,  # five tasks
        progress=done.append,
    )
    assert len(combos) == 24
    assert np.array_equal(on_ray, local, equal_nan=True)
    assert done[-1] == len(combos)
    assert len(done) == 5
