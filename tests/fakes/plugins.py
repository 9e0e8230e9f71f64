"""Plug-in classes for registry and config tests, importable as ``tests.fakes.plugins``."""

from __future__ import annotations


class FakeProducer:
    """Stands in for a signal producer; the registry only needs a class."""

    class Nested:
        """Reachable as ``tests.fakes.plugins:FakeProducer.Nested``."""


class FakeStrategy:
    """Stands in for a strategy."""


def not_a_class() -> None:
    """A module attribute that exists but is not a class."""
