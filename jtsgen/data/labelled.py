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
