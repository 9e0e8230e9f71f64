"""Plug-ins named in the config, resolved to Python classes.

Producers and strategies live in ``actors/``, which the kernel never imports directly: the config names each one
by module and class (``"module:Class"`` in string form), and this module imports it on demand. A plug-in that
cannot be resolved is a configuration error naming the config key, so a typo fails at load time, before trading.

**The user's folder.** A module is looked for where Python looks (the installed packages, and the working directory
when run as ``python -m b1e55ed``), then in the working directory itself: so ``module: plugins.my_strategy`` finds
``./plugins/my_strategy.py`` however the process was started (``python -m b1e55ed``, the ``b1e55ed`` script, a
test). An installed package of the same name wins over the working directory's.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Annotated, Any

import msgspec

from b1e55ed.errors import WorldError


class ConfigError(WorldError):
    """The configuration is invalid. The message names the key and where its value came from.

    Defined here, the lowest layer that raises it; import it from ``b1e55ed.config``.
    """


_NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class PluginSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One producer or strategy entry under ``brain.producers`` / ``brain.strategies``."""

    name: _NonEmpty
    module: _NonEmpty
    class_name: _NonEmpty = msgspec.field(name="class")
    enabled: bool = True
    params: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def target(self) -> str:
        """The ``"module:Class"`` string this entry names."""
        return f"{self.module}:{self.class_name}"


def resolve(spec: str) -> type:
    """Import the class named by ``"module:Class"`` (``Class`` may be a dotted path to a nested class)."""
    module_name, sep, class_path = spec.partition(":")
    if not (sep and module_name and class_path):
        raise ConfigError(f"{spec!r}: expected 'module:Class'")
    try:
        return _import_class(module_name, class_path)
    except _ResolveError as err:
        raise ConfigError(f"{spec!r}: {err}") from err.__cause__


def resolve_plugin(plugin: PluginSpec, *, key: str) -> type:
    """Import ``plugin``'s class; ``key`` is its config key (``brain.producers[1]``), used in the error."""
    try:
        return _import_class(plugin.module, plugin.class_name)
    except _ResolveError as err:
        raise ConfigError(f"{key} ({plugin.name}): {err}") from err.__cause__


def resolve_enabled(plugins: Sequence[PluginSpec], *, key: str) -> list[tuple[PluginSpec, type]]:
    """Resolve every enabled plug-in of the list at config key ``key``; disabled ones are never imported."""
    return [
        (plugin, resolve_plugin(plugin, key=f"{key}[{index}]"))
        for index, plugin in enumerate(plugins)
        if plugin.enabled
    ]


class _ResolveError(Exception):
    """Why a module/class pair did not resolve, worded to follow a config key."""


def import_plugin_module(module_name: str) -> ModuleType:
    """``module_name`` imported as Python would, or else found in the working directory (the user's folder)."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        top = module_name.partition(".")[0]
        if err.name != top or not _load_from_working_directory(top):
            raise
    return importlib.import_module(module_name)


def _load_from_working_directory(top: str) -> bool:
    """Import the top-level module or package ``top`` from the working directory; False when it is not there."""
    spec = importlib.machinery.PathFinder.find_spec(top, [str(Path.cwd())])
    if spec is None:
        return False
    module = importlib.util.module_from_spec(spec)  # a folder without __init__.py: a namespace package, no loader
    sys.modules[top] = module
    try:
        if spec.loader is not None:
            spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[top]
        raise
    return True


def _import_class(module_name: str, class_path: str) -> type:
    try:
        module = import_plugin_module(module_name)
    # A plug-in module can fail to import in any way (missing dependency, syntax error, exception at import
    # time); each is the same actionable fault: the config names a module that does not load.
    except Exception as err:
        raise _ResolveError(f"cannot import {module_name!r}: {type(err).__name__}: {err}") from err
    target: object = module
    for attribute in class_path.split("."):
        try:
            target = getattr(target, attribute)
        except AttributeError as err:
            raise _ResolveError(f"module {module_name!r} has no class {class_path!r}") from err
    if not isinstance(target, type):
        raise _ResolveError(f"{module_name}:{class_path} is a {type(target).__name__}, not a class")
    return target
