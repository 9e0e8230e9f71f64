"""The guide's examples (docs/examples/) as the runtime builds them: from docs/examples/examples.yaml through the
real config loader and registry, each fed windows of the seeded simulation. A month of real history through the
whole pipeline is tests/integration/test_docs_examples_replay.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from b1e55ed.config import Config, ConfigError, PluginSpec, load_config
from b1e55ed.plugins import PluginSetup
from b1e55ed.registry import resolve
from b1e55ed.testing import enriched_cycle, sim_windows
from tests.integration.loop_helpers import ROOT

EXAMPLES = ROOT / "docs" / "examples" / "examples.yaml"
HOUR_MS = 3_600_000


@pytest.fixture
def config(monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.chdir(ROOT)  # where the guide runs its commands
    return load_config(EXAMPLES, environ={}, env_file=None)


def build(spec: PluginSpec, **params: Any) -> Any:
    return resolve(spec.target)(PluginSetup(spec.name, HOUR_MS, {**spec.params, **params}))


def test_the_examples_config_names_each_example_and_its_params_load(config: Config) -> None:
    targets = [spec.target for spec in (*config.brain.producers, *config.brain.strategies, *config.brain.enrichers)]
    assert targets == [
        "docs.examples.my_producer:ZScoreProducer",
        "docs.examples.my_strategy:DipInTrendStrategy",
        "docs.examples.my_enricher:RangeEnricher",
    ]


def test_a_misspelt_param_of_an_example_stops_the_load_naming_the_key_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    raw["brain"]["producers"][0]["params"] = {"bars": 48, "z_treshold": 2.0}
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    monkeypatch.chdir(ROOT)
    with pytest.raises(ConfigError, match=re.escape("brain.producers[0].params.z_treshold (zscore)")) as caught:
        load_config(broken, environ={}, env_file=None)
    assert f"{broken}, line" in str(caught.value)


def test_the_producer_speaks_both_ways_with_a_readable_reason(config: Config) -> None:
    producer = build(config.brain.producers[0])
    signals = [producer.produce("BTC", w, w.close_ts) for w in sim_windows("BTC", count=400)]
    directions = {s.signal for s in signals if s is not None}
    assert directions == {"long", "short", "neutral"}
    for signal in signals:
        assert signal is not None
        assert signal.producer == "zscore"
        assert "sd from its 48-bar mean" in signal.rationale
        assert 1 <= signal.conviction <= 10


def test_the_strategy_takes_the_producers_view_only_with_the_trend(config: Config) -> None:
    producer, strategy = build(config.brain.producers[0]), build(config.brain.strategies[0])
    taken, refused = 0, 0
    for window in sim_windows("BTC", count=400):
        signal = producer.produce("BTC", window, window.close_ts)
        for candidate in strategy.evaluate(enriched_cycle({"BTC": window}, signals=[signal])):
            mean = float(window.close[-200:].mean())
            with_trend = (signal.signal == "long") == (window.last_close > mean)
            assert candidate.taken == with_trend, candidate.reason
            taken += candidate.taken
            refused += not candidate.taken
    assert taken
    assert refused


def test_the_enricher_places_the_close_in_its_range(config: Config) -> None:
    enricher = build(config.brain.enrichers[0])
    for window in sim_windows("SOL", count=50):
        fields = enricher.enrich("SOL", window, window.close_ts)
        assert 0.0 <= fields["range_position"] <= 1.0
        assert fields["range_pct"] > 0
    assert enricher.enrich("SOL", sim_windows("SOL", count=1, window_bars=10)[0], 0) == {}
