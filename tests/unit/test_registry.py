from __future__ import annotations

import pytest

from b1e55ed.registry import ConfigError, PluginSpec, resolve, resolve_enabled, resolve_plugin
from tests.fakes.plugins import FakeProducer, FakeStrategy


def plugin(name: str, class_name: str, *, module: str = "tests.fakes.plugins", enabled: bool = True) -> PluginSpec:
    return PluginSpec(name=name, module=module, class_name=class_name, enabled=enabled)


def test_resolve_imports_a_class() -> None:
    assert resolve("tests.fakes.plugins:FakeProducer") is FakeProducer
    assert resolve("tests.fakes.plugins:FakeProducer.Nested") is FakeProducer.Nested
    assert resolve("collections:OrderedDict").__name__ == "OrderedDict"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("tests.fakes.plugins", r"expected 'module:Class'"),
        (":FakeProducer", r"expected 'module:Class'"),
        ("tests.fakes.plugins:", r"expected 'module:Class'"),
        ("no.such.module:Thing", r"cannot import 'no\.such\.module': ModuleNotFoundError"),
        ("tests.fakes.plugins:Missing", r"module 'tests\.fakes\.plugins' has no class 'Missing'"),
        ("tests.fakes.plugins:not_a_class", r"is a function, not a class"),
    ],
)
def test_resolve_rejects_what_is_not_a_class(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(spec)


def test_resolve_plugin_names_the_config_key() -> None:
    assert resolve_plugin(plugin("fake", "FakeStrategy"), key="brain.strategies[0]") is FakeStrategy
    with pytest.raises(ConfigError, match=r"^brain\.producers\[1\] \(momentum\): cannot import 'actors\.nope'"):
        resolve_plugin(plugin("momentum", "Momentum", module="actors.nope"), key="brain.producers[1]")


def test_resolve_enabled_skips_disabled_plugins() -> None:
    enabled = plugin("fake", "FakeProducer")
    disabled = plugin("broken", "Broken", module="no.such.module", enabled=False)
    assert resolve_enabled([disabled, enabled], key="brain.producers") == [(enabled, FakeProducer)]


def test_resolve_enabled_names_the_failing_entry() -> None:
    plugins = [plugin("fake", "FakeProducer"), plugin("typo", "FakeProduser")]
    with pytest.raises(ConfigError, match=r"^brain\.producers\[1\] \(typo\): .* has no class 'FakeProduser'$"):
        resolve_enabled(plugins, key="brain.producers")


def test_plugin_target_is_the_module_class_string() -> None:
    assert plugin("fake", "FakeProducer").target == "tests.fakes.plugins:FakeProducer"
