"""Per-channel scalers, fitted on the training split only.

A :class:`Scaler` is a frozen record of per-channel statistics; the fit functions
reduce over every axis but the last (channels), so ``[batch, time, channels]``,
``[time, channels]`` and ``[time]`` (one channel) inputs all work, and
``transform``/``inverse_transform`` broadcast over the same shapes.

* :func:`fit_standard_scaler`: ``loc_c`` = train mean, ``scale_c`` = train std;
* :func:`fit_minmax_scaler`: maps the train ``[min, max]`` to ``feature_range``.

Channels that are constant in the training data get ``scale_c = 1`` (they are
only shifted), so transforms never divide by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jtsgen.data.validate import require_choice, require_finite
from jtsgen.errors import InputError

SCALER_KINDS = ("standard", "minmax")


@dataclass(frozen=True)
class Scaler:
    """``transform(x) = (x - loc_c) / scale_c``, per channel (float32 ``[channels]``)."""

    kind: str
    loc_c: np.ndarray
    scale_c: np.ndarray

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Scales ``x`` (last axis = channels, or 1-D for one channel); float32 out."""
        x = self._check(x)
        return ((x - self.loc_c) / self.scale_c).astype(np.float32)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undoes :meth:`transform`; float32 out."""
        x = self._check(x)
        return (x * self.scale_c + self.loc_c).astype(np.float32)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        n_ch = 1 if x.ndim == 1 else x.shape[-1]
        if x.ndim == 0 or n_ch != self.loc_c.shape[0]:
            raise InputError(
                "x", f"has shape {x.shape}; the scaler was fitted on {self.loc_c.shape[0]} "
                "channel(s) (last axis)"
            )
        return x


def _as_rows(x: np.ndarray, source: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim == 0 or x.size == 0:
        raise InputError(source, f"cannot fit a scaler on an empty array of shape {x.shape}")
    rows = x.reshape(-1, x.shape[-1])
    require_finite(rows, source)
    return rows


def fit_standard_scaler(x_train: np.ndarray, *, eps: float = 1e-8) -> Scaler:
    """Per-channel mean and (population) standard deviation of the training data."""
    rows = _as_rows(x_train, "x_train")
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    std = np.where(std < eps, 1.0, std)
    return Scaler("standard", mean.astype(np.float32), std.astype(np.float32))


def fit_minmax_scaler(
    x_train: np.ndarray, *, feature_range: tuple[float, float] = (0.0, 1.0)
) -> Scaler:
    """Maps each channel's training ``[min, max]`` onto ``feature_range``."""
    low, high = feature_range
    if not low < high:
        raise InputError("feature_range", f"must satisfy low < high, got {feature_range}")
    rows = _as_rows(x_train, "x_train")
    lo, hi = rows.min(axis=0), rows.max(axis=0)
    span = hi - lo
    scale = np.where(span > 0, span / (high - low), 1.0)
    loc = lo - low * scale
    return Scaler("minmax", loc.astype(np.float32), scale.astype(np.float32))


def fit_scaler(kind: str, x_train: np.ndarray) -> Scaler:
    """Fits the scaler named ``kind`` (one of :data:`SCALER_KINDS`) on ``x_train``."""
    require_choice(kind, SCALER_KINDS, "kind")
    return fit_standard_scaler(x_train) if kind == "standard" else fit_minmax_scaler(x_train)
