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

from jtsgen.errors import InputError
from jtsgen.evaluate.metrics import best_f1_threshold


def check_series(x_btc: Any, name: str = "x_btc") -> np.ndarray:
    """``x_btc`` as float32 ``[B, T, C]``; InputError on a wrong rank or NaN/inf."""
    x = np.asarray(x_btc, dtype=np.float32)
    if x.ndim != 3:
        raise InputError(name, f"expected shape [batch, time, channels], got {x.shape}")
    if x.size == 0:
        raise InputError(name, "is empty")
    if not np.all(np.isfinite(x)):
        b, t, _ = np.argwhere(~np.isfinite(x))[0]
        raise InputError(name, f"contains NaN or inf (first at series {b}, step {t})")
    return x


def check_labels(y_bt: Any, x_btc: np.ndarray, name: str = "y_bt") -> np.ndarray:
    """``y_bt`` as float32 ``[B, T]`` matching ``x_btc``; InputError otherwise."""
    y = np.asarray(y_bt, dtype=np.float32)
    if y.shape != x_btc.shape[:2]:
        raise InputError(name, f"shape {y.shape} does not match the series {x_btc.shape[:2]}")
    if not np.all((y == 0) | (y == 1)):
        raise InputError(name, "labels must be 0 or 1")
    return y


def check_window(window: int, length: int, name: str = "window") -> None:
    """InputError when a detector window is longer than the series."""
    if window > length:
        raise InputError(name, f"window {window} is longer than the series ({length} steps)")


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
        return np.asarray(self.score_fn(check_series(x_btc)), dtype=np.float32)

    def predict(self, x_btc: Any) -> np.ndarray:
        """Labels ``[B, T]`` in {0, 1}: score >= threshold."""
        return (self.score(x_btc) >= self.threshold).astype(np.float32)
