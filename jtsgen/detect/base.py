"""The detector interface shared by every anomaly detector.

A detector is a pair of pure pieces: a frozen config dataclass and a function

    fit(key, x_btc, y_bt, config) -> Fitted

``Fitted`` holds the trained state behind ``score(x_btc) -> scores_bt`` (higher =
more anomalous, one score per time step) and a threshold chosen on the data given
to ``fit`` (training/validation data; never the test split). ``predict`` turns
scores into {0, 1} labels with that threshold.

Shapes: ``x_btc`` float32 ``[B, T, C]``, ``y_bt`` float32 ``[B, T]`` in {0, 1},
``scores_bt`` float32 ``[B, T]``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from jtsgen.data.validate import check_windows
from jtsgen.metrics import best_f1_threshold


def best_threshold(scores_bt: np.ndarray, y_bt: np.ndarray) -> float:
    """The best-F1 threshold of ``scores_bt`` against ``y_bt`` (use training data only)."""
    threshold, *_ = best_f1_threshold(np.asarray(scores_bt), np.asarray(y_bt))
    return float(threshold)


@dataclasses.dataclass(frozen=True)
class Fitted:
    """A fitted detector: ``score`` (per-step scores), ``threshold``, extra ``info``."""

    name: str
    score_fn: Callable[[np.ndarray], Any]
    threshold: float
    info: dict = dataclasses.field(default_factory=dict)

    def score(self, x_btc: Any) -> np.ndarray:
        """Per-step anomaly scores ``[B, T]`` (higher = more anomalous)."""
        return np.asarray(self.score_fn(check_windows(x_btc)), dtype=np.float32)

    def predict(self, x_btc: Any) -> np.ndarray:
        """Labels ``[B, T]`` in {0, 1}: score >= threshold."""
        return (self.score(x_btc) >= self.threshold).astype(np.float32)
