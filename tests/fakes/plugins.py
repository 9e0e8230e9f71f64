"""Plug-in classes for registry and config tests, importable as ``tests.fakes.plugins``."""

from __future__ import annotations

import msgspec


class FakeProducer:
    """Stands in for a signal producer; the registry needs a class, and the config check its ``Params``."""

    class Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
        window: int = 10

    class Nested:
        """Reachable as ``tests.fakes.plugins:FakeProducer.Nested``."""


class FakeStrategy:
    """Stands in for a strategy."""


def not_a_class() -> None:
    """A module attribute that exists but is not a class."""
