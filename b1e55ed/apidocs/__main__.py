"""``python -m b1e55ed.apidocs [PATH]``: rewrite the API reference (default: docs/api-reference.md)."""

from __future__ import annotations

import sys
from pathlib import Path

from b1e55ed.apidocs.record import build_reference

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "docs" / "api-reference.md"


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT_PATH
    path.write_text(build_reference(), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
