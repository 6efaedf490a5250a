"""Per-channel scalers, fitted on the training split only.

A :class:`Scaler` is a frozen record of per-channel statistics; the fit functions
reduce over every axis but the last (channels), so ``[batch, time, channels]``,
``[time, channels]`` and ``[time]`` (one channel) inputs all work, and
``transform``/``inverse_transform`` broadcast over the same shapes.

* :func:`fit_standard_scaler`: ``loc_c`` = train mean, ``scale_c`` = train std;
* :func:`fit_minmax_scaler`: maps the train ``[min, max]`` to ``feature_range``;
* :func:`fit_quantile_normal`: maps each channel's training distribution onto
  N(0, 1) through its empirical quantiles (a Gaussian copula marginal, like
  scikit-learn's ``QuantileTransformer(output_distribution="normal")``), for
  heavy-tailed data that a Gaussian model would otherwise shrink.

Channels that are constant in the training data get ``scale_c = 1`` (they are
only shifted), so transforms never divide by zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

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


@dataclass(frozen=True)
class QuantileNormal:
    """``transform(x) = Φ⁻¹(F(x))`` per channel, ``F`` the training data's empirical
    CDF read off ``quantiles_qc`` (float64 ``[n_quantiles, channels]`` at the levels
    ``linspace(0, 1, n_quantiles)``). Values outside the training range map to the
    outermost level (clipped to ``[clip, 1 - clip]`` so Φ⁻¹ stays finite); tied
    quantiles (counts, a constant channel) map to the middle of their levels."""

    quantiles_qc: np.ndarray
    clip: float = 1e-7

    @property
    def levels_q(self) -> np.ndarray:
        return np.linspace(0.0, 1.0, self.quantiles_qc.shape[0])

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Maps ``x`` (last axis = channels, or 1-D for one channel) to N(0, 1) scores;
        float32 out."""
        x, out = self._check(x), np.empty(np.shape(x), np.float64)
        for c, q in enumerate(self.quantiles_qc.T):
            xc = x[..., c] if x.ndim > 1 else x
            # the mean of the lower and upper interpolation: ties map to their midpoint
            up = np.interp(xc, q, self.levels_q)
            down = 1.0 - np.interp(-xc, -q[::-1], self.levels_q)
            u = np.clip(0.5 * (up + down), self.clip, 1.0 - self.clip)
            if x.ndim > 1:
                out[..., c] = ndtri(u)
            else:
                out[...] = ndtri(u)
        return out.astype(np.float32)

    def inverse_transform(self, x: np.ndarray) -> np.ndarray:
        """Undoes :meth:`transform` (up to the quantile grid); float32 out."""
        x, out = self._check(x), np.empty(np.shape(x), np.float64)
        for c, q in enumerate(self.quantiles_qc.T):
            xc = x[..., c] if x.ndim > 1 else x
            vals = np.interp(ndtr(xc.astype(np.float64)), self.levels_q, q)
            if x.ndim > 1:
                out[..., c] = vals
            else:
                out[...] = vals
        return out.astype(np.float32)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        n_ch = 1 if x.ndim == 1 else x.shape[-1]
        if x.ndim == 0 or n_ch != self.quantiles_qc.shape[1]:
            raise InputError("x", f"has shape {x.shape}; the transform was fitted on "
                             f"{self.quantiles_qc.shape[1]} channel(s) (last axis)")
        return x


def fit_quantile_normal(x_train: np.ndarray, *, n_quantiles: int = 1000) -> QuantileNormal:
    """The training data's per-channel quantiles at ``n_quantiles`` evenly spaced
    levels (fewer when there are fewer values)."""
    rows = _as_rows(x_train, "x_train")
    n = max(2, min(int(n_quantiles), rows.shape[0]))
    return QuantileNormal(np.quantile(rows, np.linspace(0.0, 1.0, n), axis=0))
