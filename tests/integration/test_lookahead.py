"""No look-ahead, on real history: what the chain says about a cycle never depends on candles after it.

Like Freqtrade's lookahead-analysis, each producer and each strategy (one at a time, then all together) replays real
candles twice with a large ``brain.replay_batch``: to ``END``, and cut at ``CUT``. The cut lands in the middle of a
batch of the full run, whose batch goes on for days past it, so a stage that read the batch's last bar instead of
its own cycle's would log something else for the cycles before the cut in the two runs. Every event from the first
cycle through the cut run's last settled cycle must be byte-identical (the ``runtime_started`` record differs: the
window is in the config hash).

The window starts with no history: RSI speaks after 15 bars, MA crossover and RSI oversold after 200, momentum
after 480 (20 days). ``START``..``CUT`` is chosen so that every plug-in speaks in the cut's batch, which the test
checks first, so that it can never pass by comparing silence.

A plug-in of one's own is checked the same way: a case with ``own`` naming the YAML that registers it (a ``new``
snippet, or docs/examples/examples.yaml for the guide's examples) adds its entries to the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.loop_helpers import ROOT
from tests.integration.replay_support import (
    PRODUCERS,
    STRATEGIES,
    Record,
    assert_same_payloads,
    isolate,
    last_settled_cycle,
    of_cycles,
    own_plugins,
    producer_statuses,
    replay,
    replay_args,
    signals_of,
    taken_decisions_of,
    through_cycle,
    write_config,
)

START, CUT, END = "2024-06-01", "2024-07-08", "2024-07-14"
BATCH = 512
OFFLINE = "disabled: offline (replayed or simulated market)"
SPEAKING = ("rsi", "momentum", "funding")  # social and whale have no data offline: they report it, every cycle


@dataclass(frozen=True)
class Case:
    """The plug-ins one comparison enables; ``producers`` includes what a strategy needs to hear."""

    producers: tuple[str, ...]
    strategies: tuple[str, ...] = ()
    own: Path | None = None  # a YAML of one's own plug-ins, added to the config (see the module)


CASES = {
    "producer rsi": Case(("rsi",)),
    "producer momentum": Case(("momentum",)),
    "producer funding": Case(("funding",)),
    "producer social": Case(("social",)),
    "producer whale": Case(("whale",)),
    "strategy confluence": Case(("rsi", "momentum", "funding"), ("confluence",)),  # needs two producers agreeing
    "strategy momentum": Case(("momentum",), ("momentum",)),
    "strategy ma_crossover": Case((), ("ma_crossover",)),  # candles only
    "strategy combined": Case(("momentum",), ("combined",)),
    "strategy rsi_oversold": Case((), ("rsi_oversold",)),  # candles only
    "everything": Case(PRODUCERS, STRATEGIES),
    "the guide's examples": Case((), own=ROOT / "docs" / "examples" / "examples.yaml"),
}


def assert_each_plugin_speaks(case: Case, cycles: Sequence[Record]) -> None:
    """Every enabled plug-in said something in ``cycles``: signals, or decisions to trade; social and whale say
    that they are disabled offline."""
    for producer in case.producers:
        if producer in SPEAKING:
            assert signals_of(cycles, producer), f"{producer} gave no signal in the compared cycles"
        else:
            assert producer_statuses(cycles, producer) == {OFFLINE}
    for strategy in case.strategies:
        assert taken_decisions_of(cycles, strategy), f"{strategy} decided no trade in the compared cycles"
    own = own_plugins(case.own)
    for entry in own.get("producers", []):
        assert signals_of(cycles, entry["name"]), f"{entry['name']} gave no signal in the compared cycles"
    for entry in own.get("strategies", []):
        assert taken_decisions_of(cycles, entry["name"]), f"{entry['name']} decided no trade in the compared cycles"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate(monkeypatch, tmp_path)


@pytest.mark.slow
@pytest.mark.shared_data
@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_cutting_the_history_after_a_day_changes_no_event_up_to_that_day(
    case: Case, tmp_path: Path, shared_data: Path
) -> None:
    config = write_config(
        tmp_path, replay_batch=BATCH, producers=case.producers, strategies=case.strategies, own=case.own
    )
    full = replay(config, tmp_path / "full.db", replay_args(shared_data, start=START, end=END))
    cut = replay(config, tmp_path / "cut.db", replay_args(shared_data, start=START, end=CUT))

    last = last_settled_cycle(cut)
    batch_start = last // BATCH * BATCH + 1  # the full run's batch that holds the cut, counted from cycle 1
    assert last % BATCH, "the cut should fall inside a batch, not at its end"
    assert last_settled_cycle(full) >= batch_start + BATCH - 1, "the full run's batch should go on past the cut"
    assert_each_plugin_speaks(case, of_cycles(cut, batch_start, last))
    if case == CASES["everything"]:
        traded = of_cycles(cut, batch_start, last)
        assert {"verdict", "order", "fill", "position"} <= {record.kind for record in traded}

    assert_same_payloads(through_cycle(full, last), through_cycle(cut, last), f"cycles 1..{last}, full vs cut")
