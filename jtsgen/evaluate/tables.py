"""The one way results become Markdown and CSV tables.

``markdown(head, body)``: the lines of a Markdown table; ``cell(mean, std, n_runs)``:
``"0.812 ± 0.013"`` over several runs, ``"0.812"`` for one; ``csv(columns, rows)``: one
line per row dict, strings quoted, numbers as ``repr``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def markdown(head: Sequence[str], body: Iterable[Sequence[str]]) -> list[str]:
    """Header, rule and one ``| a | b |`` line per row of cell strings."""
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + [
        "| " + " | ".join(cells) + " |" for cells in body]


def cell(mean: float, std: float, n_runs: int) -> str:
    """A metric's mean (± its std over runs when there is more than one run)."""
    return f"{mean:.3f} ± {std:.3f}" if n_runs > 1 else f"{mean:.3f}"


def csv(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """CSV text: a header of ``columns``, then each row's values (strings quoted)."""
    lines = [",".join(columns)]
    lines += [",".join(f'"{r[c]}"' if isinstance(r[c], str) else repr(r[c]) for c in columns)
              for r in rows]
    return "\n".join(lines) + "\n"
