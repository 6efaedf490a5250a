"""Copies the committed result tables into the README and ``docs/*.md``:
``python -m experiments.readme_tables``.

A block ``<!-- table: docs/results/EXP/NAME.md -->`` ... ``<!-- /table -->`` is
replaced by the table lines (those starting with ``|``; separate tables keep a blank
line between them) of that file, so the README's
numbers are the committed runs' numbers; ``tests/test_readme_tables.py`` fails when
they differ. Paths in a block are relative to the repository root.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from jtsgen.config import atomic_write_text
from jtsgen.errors import InputError

BLOCK = re.compile(r"(<!-- table: (\S+) -->\n)(.*?)(<!-- /table -->)", re.S)
ROOT = Path(__file__).resolve().parents[1]


def table_lines(path: Path) -> str:
    """The ``|`` lines of a Markdown file, newline-terminated; separate tables (runs of
    ``|`` lines) stay separated by one blank line."""
    if not path.is_file():
        raise InputError(str(path), "table file not found")
    tables, current = [], []
    for line in path.read_text().splitlines() + [""]:
        if line.startswith("|"):
            current.append(f"{line}\n")
        elif current:
            tables.append("".join(current))
            current = []
    return "\n".join(tables)


def render(readme: str, root: Path = ROOT) -> str:
    """``readme`` with every table block refilled from its file."""
    return BLOCK.sub(lambda m: m.group(1) + table_lines(root / m.group(2)) + m.group(4), readme)


def documents(root: Path = ROOT) -> list[Path]:
    """The README and every ``docs/*.md`` (the files whose blocks are refreshed)."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def main() -> None:
    for path in documents():
        try:
            text = path.read_text()
            if BLOCK.search(text):
                atomic_write_text(path, render(text))
                print(f"{path}: {len(BLOCK.findall(text))} table(s) refreshed")
        except InputError as e:
            print(f"error: {e}", file=sys.stderr)
            raise SystemExit(2) from None


if __name__ == "__main__":
    main()
