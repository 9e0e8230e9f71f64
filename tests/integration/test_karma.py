"""Karma through the whole pipeline on real history: calibration reaches sizing, batching and a restart change
nothing, ``karma.sizing`` off scores without sizing, and the CLI reads the scorecards back.

Calibration is made to start early (``min_samples`` 2, a 48-bar horizon) so that six weeks exercise it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b1e55ed.cli import main
from tests.integration.replay_support import (
    Record,
    assert_same_payloads,
    cycle_payloads,
    isolate,
    replay,
    replay_args,
    write_config,
)

EARLY = {"karma": {"min_samples": 2, "horizon_bars": 48}}
START, MIDDLE, END = "2024-01-01", "2024-01-22", "2024-02-12"

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


def calibrated_decisions(records: list[Record]) -> list[Record]:
    return [r for r in records if r.kind == "decision" and "win_probability" in r.body["sizing"]]


def test_calibration_sizes_trades_and_batches_change_nothing(tmp_path: Path, shared_data: Path) -> None:
    args = replay_args(shared_data, start=START, end=END)
    one = replay(write_config(tmp_path / "one", replay_batch=1, sections=EARLY), tmp_path / "one.db", args)
    many = replay(write_config(tmp_path / "many", replay_batch=64, sections=EARLY), tmp_path / "many.db", args)
    assert [r.hash for r in one] == [r.hash for r in many]

    karma = [r.body for r in one if r.kind == "karma"]
    books = {body["book"] for body in karma}
    assert {"producers", "ma_crossover", "rsi_oversold"} <= books
    results = {o["result"] for body in karma for o in body["outcomes"]}
    assert results == {"win", "loss", "timeout"}
    assert any(body["calibration"] for body in karma)
    # Karma's slot: after the cycle's signals, before its snapshot.
    kinds = [r.kind for r in one]
    for index, kind in enumerate(kinds):
        if kind == "karma":
            assert kinds[index + 1] in ("karma", "snapshot")
            assert kinds[index - 1] in ("karma", "signal", "cycle")

    sized = calibrated_decisions(one)
    assert sized, "no decision read a calibration"
    for decision in sized:
        numbers = decision.body["sizing"]
        assert numbers["edge"] == pytest.approx(numbers["win_probability"] - numbers["breakeven"])
        if numbers["mean_conviction"] == 0:
            assert not decision.body["taken"]
            assert "no edge" in decision.body["reason"]


def test_a_stopped_run_resumes_with_the_same_karma(tmp_path: Path, shared_data: Path) -> None:
    whole = replay(
        write_config(tmp_path / "whole", replay_batch=64, sections=EARLY),
        tmp_path / "whole.db",
        replay_args(shared_data, start=START, end=END),
    )
    config = write_config(tmp_path / "twice", replay_batch=64, sections=EARLY)
    db = tmp_path / "twice.db"
    replay(config, db, replay_args(shared_data, start=START, end=MIDDLE))
    resumed = replay(config, db, replay_args(shared_data, start=START, end=END))
    assert sum(r.kind == "runtime_started" for r in resumed) == 2
    assert calibrated_decisions(resumed)
    assert_same_payloads(cycle_payloads(whole), cycle_payloads(resumed), "uninterrupted vs stopped and resumed")


def test_sizing_off_still_scores_and_the_cli_reads_the_scorecards(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    off = {"karma": {**EARLY["karma"], "sizing": False}}
    db = tmp_path / "off.db"
    records = replay(
        write_config(tmp_path / "off", replay_batch=64, sections=off),
        db,
        replay_args(shared_data, start=START, end=END),
    )
    assert any(r.kind == "karma" for r in records)
    assert not calibrated_decisions(records)

    capsys.readouterr()
    assert main(["karma", "--db", str(db), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version"] == 1
    names = {(card["kind"], card["name"]) for card in report["sources"]}
    assert {("producer", "rsi"), ("producer", "momentum"), ("rule", "ma_crossover")} <= names
    rsi = next(card for card in report["sources"] if card["name"] == "rsi")
    assert len(rsi["reliability"]) == 10
    assert rsi["overall"]["effective"] <= rsi["overall"]["count"]
    assert {s["name"] for s in report["strategies"]} <= {
        "confluence",
        "momentum",
        "ma_crossover",
        "combined",
        "rsi_oversold",
    }

    assert main(["karma", "--db", str(db), "--producer", "rsi"]) == 0
    text = capsys.readouterr().out
    assert "rsi" in text
    assert "momentum" not in text
    assert main(["karma", "--db", str(tmp_path / "missing.db")]) == 2
