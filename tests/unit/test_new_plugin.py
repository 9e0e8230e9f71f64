"""``new producer|strategy NAME`` writes a plug-in, its test and its snippet, and never overwrites; the registry finds
a ``module:`` in the working directory (the user's folder)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from b1e55ed.cli import main
from b1e55ed.cliparser import build_parser
from b1e55ed.config import load_config
from b1e55ed.plugins import PluginSetup
from b1e55ed.registry import ConfigError, resolve
from b1e55ed.scaffold.new import run_new, write_plugin
from b1e55ed.testing import enriched_cycle, sim_windows


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in ``tmp_path``, with ``plugins`` imported afresh from there (each test's folder is its own)."""
    monkeypatch.chdir(tmp_path)
    for name in [name for name in sys.modules if name == "plugins" or name.startswith("plugins.")]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path


def test_new_strategy_writes_a_package_the_plugin_its_test_and_its_snippet(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "strategy", "my_strategy"]) == 0
    written = sorted(path.name for path in (workdir / "plugins").iterdir())
    assert written == ["__init__.py", "my_strategy.py", "my_strategy.yaml", "test_my_strategy.py"]
    out = capsys.readouterr().out
    assert "python -m pytest plugins/test_my_strategy.py" in out
    assert "backtest --strategies my_strategy" in out


def test_the_snippet_registers_the_new_strategy_through_the_real_config_and_it_trades_on_a_simulated_market(
    workdir: Path,
) -> None:
    write_plugin("strategy", "breakout_two", Path("plugins"))
    config = load_config(workdir / "plugins" / "breakout_two.yaml", environ={}, env_file=None)
    (spec,) = config.brain.strategies
    assert spec.target == "plugins.breakout_two:BreakoutTwoStrategy"
    strategy = resolve(spec.target)(PluginSetup(spec.name, 3_600_000, dict(spec.params)))
    taken = [c for w in sim_windows("ETH", count=200) for c in strategy.evaluate(enriched_cycle({"ETH": w})) if c.taken]
    assert taken


def test_the_new_producer_speaks_on_a_simulated_market(workdir: Path) -> None:
    write_plugin("producer", "stretch", Path("plugins"))
    config = load_config(workdir / "plugins" / "stretch.yaml", environ={}, env_file=None)
    (spec,) = config.brain.producers
    producer = resolve(spec.target)(PluginSetup(spec.name, 3_600_000, dict(spec.params)))
    signals = [producer.produce("BTC", w, w.close_ts) for w in sim_windows("BTC", count=200)]
    assert any(s is not None and s.signal != "neutral" for s in signals)


def test_new_refuses_to_overwrite_and_writes_nothing_then(workdir: Path) -> None:
    folder = workdir / "plugins"
    folder.mkdir()
    (folder / "test_my_strategy.py").write_text("# mine\n", encoding="utf-8")
    err = io.StringIO()
    code = run_new(build_parser().parse_args(["new", "strategy", "my_strategy"]), out=io.StringIO(), err=err)
    assert code == 2
    assert "plugins/test_my_strategy.py exists: nothing was written" in err.getvalue()
    assert sorted(path.name for path in folder.iterdir()) == ["test_my_strategy.py"]
    assert (folder / "test_my_strategy.py").read_text(encoding="utf-8") == "# mine\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["new", "strategy", "My-Strategy"], "name 'My-Strategy': use lower case letters"),
        (["new", "producer", "class"], "name 'class'"),
        (["new", "strategy", "ok", "--folder", "/tmp"], "--folder /tmp: must be inside the working directory"),
        (["new", "strategy", "ok", "--folder", "my-plugins"], "each part of the path must be a Python name"),
    ],
)
def test_new_exits_2_naming_what_is_wrong(
    workdir: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not (workdir / "plugins").exists()


def test_the_registry_finds_a_module_in_the_working_directory_without_it_on_the_path(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(workdir))])
    (workdir / "plugins").mkdir()  # no __init__.py: a namespace package works too
    (workdir / "plugins" / "found_here.py").write_text("class Mine:\n    pass\n", encoding="utf-8")
    assert resolve("plugins.found_here:Mine").__name__ == "Mine"
    with pytest.raises(ConfigError, match=r"cannot import 'plugins\.absent': ModuleNotFoundError"):
        resolve("plugins.absent:Mine")
    with pytest.raises(ConfigError, match=r"cannot import 'nowhere_at_all\.x': ModuleNotFoundError"):
        resolve("nowhere_at_all.x:Mine")
