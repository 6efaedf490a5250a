"""The labelled-windows container shared by data, augment, detect and evaluate.

:class:`Labelled` is the one shape every stage passes around: series ``x_btc``
float32 ``[B, T, C]`` with per-step labels ``y_bt`` float32 ``[B, T]`` (1 = anomalous).
:class:`jtsgen.data.windows.Windows` (windows and where they came from) and
:class:`jtsgen.data.splits.Split` (train and test parts) hand theirs out as
``.labelled`` / ``.train`` / ``.test``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Labelled(NamedTuple):
    """Series ``x_btc [B, T, C]`` with per-step labels ``y_bt [B, T]``."""

    x_btc: np.ndarray
    y_bt: np.ndarray


def concat(*parts: Labelled) -> Labelled:
    """The sets one after the other along the batch axis."""
    return Labelled(np.concatenate([p.x_btc for p in parts]),
                    np.concatenate([p.y_bt for p in parts]))


def segments_of(y_t: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of ones in a label vector ``[T]`` as ``(start, length)`` pairs."""
    padded = np.concatenate([[0], (np.asarray(y_t) > 0.5).astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(s), int(e - s)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def run_lengths(y_bt: np.ndarray) -> np.ndarray:
    """Lengths of every labelled run of every window ``[B, T]`` (a run cut by a window
    edge counts as the part inside), int64 ``[n_runs]``."""
    y = (np.asarray(y_bt) > 0.5).astype(np.int8)
    edges = np.diff(np.pad(y, ((0, 0), (1, 1))), axis=1)  # +1 at a start, -1 after an end
    starts, ends = np.nonzero(edges == 1)[1], np.nonzero(edges == -1)[1]
    return (ends - starts).astype(np.int64)  # row-major: the k-th start meets the k-th end
