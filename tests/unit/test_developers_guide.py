"""docs/developers.md quotes its examples verbatim: a code block whose first line names a file (``# docs/...`` or
``# tests/...``) must appear, as it stands, in that file. An excerpt that drifts from the code fails here, and so
does a link to a file that is gone."""

from __future__ import annotations

import re

import pytest

from tests.integration.loop_helpers import ROOT

GUIDE = ROOT / "docs" / "developers.md"
BLOCK = re.compile(r"```(?:python|yaml)\n# ((?:docs|tests)/[\w./]+)\n(.*?)```", re.DOTALL)
EXCERPTS = BLOCK.findall(GUIDE.read_text(encoding="utf-8"))


def test_the_guide_quotes_each_example() -> None:
    quoted = {path for path, _ in EXCERPTS}
    assert quoted >= {
        "docs/examples/my_producer.py",
        "docs/examples/my_strategy.py",
        "docs/examples/my_enricher.py",
        "docs/examples/my_collector.py",
        "docs/examples/examples.yaml",
    }


@pytest.mark.parametrize(("path", "excerpt"), EXCERPTS, ids=[f"{path}:{i}" for i, (path, _) in enumerate(EXCERPTS)])
def test_each_excerpt_is_verbatim_in_its_file(path: str, excerpt: str) -> None:
    assert excerpt in (ROOT / path).read_text(encoding="utf-8"), f"docs/developers.md's excerpt of {path} drifted"


@pytest.mark.parametrize("page", ["developers.md", "operations.md"])
def test_every_file_a_page_links_exists(page: str) -> None:
    path = GUIDE.parent / page
    links = re.findall(r"\]\(([\w./-]+\.(?:py|md|yaml|service))\)", path.read_text(encoding="utf-8"))
    assert links
    missing = [link for link in links if not (path.parent / link).exists()]
    assert missing == []
