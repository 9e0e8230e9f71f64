"""``new producer|strategy NAME [--folder plugins]``: write a plug-in, its test and its YAML snippet.

The folder (default ``plugins``, relative to the working directory) becomes a package if it is not one, so the
config can name the plug-in as ``module: plugins.NAME`` (the registry looks in the working directory: see
``b1e55ed.registry``) and pytest can import its test. Nothing is ever overwritten: if any of the files exists,
nothing is written and the command exits 2 naming it.
"""

from __future__ import annotations

import argparse
import keyword
import re
import sys
from pathlib import Path
from typing import TextIO, cast

from b1e55ed.scaffold.templates import HELPERS, PLUGIN, RULES, SECTION, SNIPPET, SUFFIX, TEST, Kind

EXIT_OK, EXIT_USAGE = 0, 2
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def add_new_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    new = commands.add_parser(
        "new",
        help="write a producer or strategy skeleton, its test and its YAML snippet (docs/developers.md)",
        description="Write NAME.py (the plug-in and its Params), test_NAME.py and NAME.yaml (the config entry) "
        "into the folder. An existing file is never overwritten.",
    )
    new.add_argument("kind", choices=sorted(PLUGIN), help="what to write")
    new.add_argument("name", help="the plug-in's name: lower case, digits and _ (my_strategy)")
    new.add_argument(
        "--folder", type=Path, default=Path("plugins"), help="where to write, inside the working directory (plugins)"
    )


def run_new(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    kind = cast(Kind, args.kind)
    try:
        written = write_plugin(kind, args.name, args.folder)
    except (ValueError, FileExistsError) as exc:
        print(f"b1e55ed: new {kind}: {exc}", file=err)
        return EXIT_USAGE
    folder, name = args.folder, args.name
    for path in written:
        print(f"wrote {path}", file=out)
    check = (
        f"--strategies {name}" if kind == "strategy" else "--strategies confluence  # then: karma --producer " + name
    )
    print(
        f"\nnext:\n  python -m pytest {folder / f'test_{name}.py'}\n"
        f"  python -m b1e55ed --config {folder / f'{name}.yaml'} backtest {check}",
        file=out,
    )
    return EXIT_OK


def write_plugin(kind: Kind, name: str, folder: Path) -> list[Path]:
    """Write the plug-in, its test and its snippet (and the folder's ``__init__.py`` when missing); the paths
    written. ``FileExistsError`` names the first file that exists, before anything is written."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise ValueError(f"name {name!r}: use lower case letters, digits and _, starting with a letter (my_{kind})")
    module = f"{module_path(folder)}.{name}"
    fields = {
        "name": name,
        "cls": "".join(part.capitalize() for part in name.split("_") if part) + SUFFIX[kind],
        "module": module,
        "folder": folder.as_posix(),
        "kind": kind,
        "section": SECTION[kind],
        "helpers": HELPERS[kind],
        "rules": RULES,
    }
    files = {
        folder / f"{name}.py": PLUGIN[kind],
        folder / f"test_{name}.py": TEST[kind],
        folder / f"{name}.yaml": SNIPPET[kind],
    }
    for path in files:
        if path.exists():
            raise FileExistsError(f"{path} exists: nothing was written (move it away, or pick another name)")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    package = folder / "__init__.py"
    if not package.exists():
        package.write_text(
            '"""Plug-ins of this installation, named in the config as `module: ' + module_path(folder) + '.NAME`."""\n',
            encoding="utf-8",
        )
        written.append(package)
    for path, template in files.items():
        with path.open("x", encoding="utf-8") as file:  # "x": fails rather than overwrite, even in a race
            file.write(template.format(**fields))
        written.append(path)
    return written


def module_path(folder: Path) -> str:
    """The dotted module path of ``folder`` from the working directory: ``plugins`` or ``my.plugins``."""
    try:
        relative = folder.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        raise ValueError(
            f"--folder {folder}: must be inside the working directory, where the registry finds plug-ins"
        ) from None
    parts = relative.parts
    if not parts or not all(part.isidentifier() and not keyword.iskeyword(part) for part in parts):
        raise ValueError(f"--folder {folder}: each part of the path must be a Python name (plugins, my_plugins)")
    return ".".join(parts)
