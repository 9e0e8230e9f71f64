"""The sweep's grid: specs, files, the strategy's params and validation, errors before any work."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from actors.strategies.ma_crossover import MACrossoverStrategy
from b1e55ed.sweep.grid import GridError, combinations, load_grid, parse_spec

Params = MACrossoverStrategy.Params


def test_ranges_are_inclusive_and_whole_numbers_stay_integers() -> None:
    assert parse_spec("fast", "5:9") == [5, 6, 7, 8, 9]
    assert parse_spec("slow", "130:160:10") == [130, 140, 150, 160]
    assert parse_spec("stop_pct", "1.5,2,3") == [1.5, 2, 3]
    assert parse_spec("stop_pct", "0.1:0.3:0.1") == [0.1, 0.2, 0.3]  # decimal steps, no float drift
    assert len(parse_spec("fast", "5:124")) * len(parse_spec("slow", "130:620:10")) == 6000


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fast=5:x", "not numbers"),
        ("fast=9:5", "STOP ≥ START"),
        ("fast=1:5:0", "positive STEP"),
        ("fast=1:2:3:4", "START:STOP or START:STOP:STEP"),
        ("fast", "expected NAME=START:STOP"),
        ("fast=", "no values"),
    ],
)
def test_a_malformed_spec_is_an_error_naming_it(spec: str, message: str) -> None:
    with pytest.raises(GridError, match=message):
        load_grid([spec])


def test_a_grid_file_and_the_command_line_combine_but_never_repeat(tmp_path: Path) -> None:
    file = tmp_path / "grid.yaml"
    file.write_text("fast: '10:12'\nslow: [130, 140]\nstop_pct: 3\n", encoding="utf-8")
    assert load_grid(["target_pct=5,10"], file) == {
        "fast": [10, 11, 12],
        "slow": [130, 140],
        "stop_pct": [3],
        "target_pct": [5, 10],
    }
    with pytest.raises(GridError, match="fast: given twice"):
        load_grid(["fast=1"], file)
    file.write_text("fast: [1, nope]\n", encoding="utf-8")
    with pytest.raises(GridError, match="fast: 'nope' is not a number"):
        load_grid([], file)


def test_refused_combinations_are_skipped_and_counted() -> None:
    found = combinations(Params, {}, {"fast": [10, 50, 60], "slow": [50, 55]})
    assert found.skipped == 3  # fast ≥ slow: (50, 50), (60, 50), (60, 55)
    assert [(p.fast, p.slow) for p in found.params] == [(10, 50), (10, 55), (50, 55)]


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"fats": [1]}, "unknown parameter fats; the strategy's params are"),
        ({"fast": [0]}, r"fast=0: Expected `int` >= 1"),
        ({"stop_pct": [-1.0]}, r"stop_pct=-1.0: Expected `float` > 0"),
    ],
)
def test_a_value_the_params_refuse_is_an_error_before_any_work(grid: dict[str, Any], message: str) -> None:
    with pytest.raises(GridError, match=message):
        combinations(Params, {}, grid)
