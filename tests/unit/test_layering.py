"""The import map: no package imports one above it, and no two packages import each other, even through others.

Nodes are the packages of ``b1e55ed`` and ``actors`` (a top-level module counts as its own package). Imports under
``TYPE_CHECKING`` count too: an arrow is an arrow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOW = ("b1e55ed.hyperliquid", "b1e55ed.market", "b1e55ed.venues", "b1e55ed.eventlog")
HIGH = (
    "b1e55ed.plugins",
    "b1e55ed.registry",
    "b1e55ed.config",
    "b1e55ed.trading_config",
    "b1e55ed.runtime",
    "b1e55ed.cli",
    "b1e55ed.api",
    "b1e55ed.backtest",
    "b1e55ed.collect",
)
COMPOSITION_ROOT = "actors.pipeline"  # wires the API to the brain: the one actor module that may import it
ENTRY = ("b1e55ed.api", "b1e55ed.cli")


def package_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 2 and (ROOT.joinpath(*parts[:2])).is_dir():
        return ".".join(parts[:2])
    return module


def imports() -> Iterator[tuple[str, str]]:
    """(importing module, imported module) for every import of ours in b1e55ed/ and actors/."""
    for path in sorted([*ROOT.joinpath("b1e55ed").rglob("*.py"), *ROOT.joinpath("actors").rglob("*.py")]):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        module_parts = parts[:-1] if is_package else parts
        here = module_parts if is_package else module_parts[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = here[: len(here) - node.level + 1] if node.level else []
                targets = [".".join([*base, *([node.module] if node.module else [])])]
            else:
                continue
            for target in targets:
                if target.split(".")[0] in ("b1e55ed", "actors"):
                    yield ".".join(module_parts), target


def arrows() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for source, target in imports():
        a, b = package_of(source), package_of(target)
        if a != b:
            graph.setdefault(a, set()).add(b)
    return graph


def within(package: str, prefixes: tuple[str, ...]) -> bool:
    return any(package == p or package.startswith(p + ".") for p in prefixes)


def test_no_import_runs_back_up() -> None:
    upward = sorted(
        f"{source} → {target}"
        for source, targets in arrows().items()
        for target in targets
        if (within(source, LOW) and (within(target, HIGH) or target.startswith("actors")))
        or (source.startswith("b1e55ed") and target.startswith("actors"))
        or (source.startswith("actors") and source != COMPOSITION_ROOT and within(target, ENTRY))
    )
    assert upward == []


def test_no_two_packages_import_each_other() -> None:
    graph = arrows()
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        order[node] = low[node] = len(order)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in order:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], order[nxt])
        if low[node] == order[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                cycles.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in order:
            visit(node)
    assert cycles == []
