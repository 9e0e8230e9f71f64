"""The guide's examples replay a month of real history through the whole pipeline, by the guide's own command:
``backtest --strategies dip_in_trend`` with docs/examples/examples.yaml. The producer must speak, the strategy
decide (taking some trades, refusing others with a reason), and the enricher's fields reach every snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from b1e55ed.cli import main
from tests.integration.loop_helpers import ROOT
from tests.integration.replay_support import isolate, read_events

pytestmark = [pytest.mark.slow, pytest.mark.shared_data]

EXAMPLES = ROOT / "docs" / "examples" / "examples.yaml"


def test_the_guides_examples_signal_decide_and_enrich_over_a_month_of_real_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path
) -> None:
    isolate(monkeypatch, tmp_path)
    argv = [
        "--config", str(EXAMPLES), "backtest", "--strategies", "dip_in_trend",
        "--market", f"replay:{shared_data / 'ohlcv_1h'}", "--symbols", "BTC", "ETH",
        "--from", "2024-05-01", "--to", "2024-06-01", "--report", str(tmp_path / "bt"),
    ]  # fmt: skip
    assert main(argv) == 0
    records = read_events(tmp_path / "bt" / "brain.db")

    signals = [r.body["signal"] for r in records if r.kind == "signal"]
    assert {s["producer"] for s in signals} == {"zscore"}
    assert {s["signal"] for s in signals} == {"long", "short"}  # neutral signals are not logged

    decisions = [r.body for r in records if r.kind == "decision"]
    assert {d["strategy"] for d in decisions} == {"dip_in_trend"}
    assert any(d["taken"] for d in decisions)
    refused = [d["reason"] for d in decisions if not d["taken"]]
    assert refused
    assert all("against the trend" in reason or "no edge" in reason for reason in refused)

    snapshots = [r.body for r in records if r.kind == "snapshot"]
    assert len(snapshots) == 31 * 24
    late = snapshots[-1]["context"]
    assert set(late) == {"BTC", "ETH"}
    assert 0.0 <= late["BTC"]["range.range_position"] <= 1.0

    report = json.loads((tmp_path / "bt" / "report.json").read_text(encoding="utf-8"))
    assert report["summary"]["closed_trades"] > 0
