"""Robust trend / seasonal / residual decomposition for RobustTAD's input channels.

RobustTAD (Gao et al., 2020) feeds its network the components of a robust
seasonal-trend decomposition. We use a vectorised, robust (median-based)
decomposition in NumPy, applied to every series and channel independently:

1. trend: moving median over ``trend_window`` steps (edges mirrored), robust to
   spikes;
2. period: the lag in ``[min_period, T // 2]`` with the largest autocorrelation of
   the detrended series; when that autocorrelation is below ``min_acf`` the
   series is treated as non-seasonal (seasonal part 0);
3. seasonal: for each phase of the period, the median of the detrended values
   over all cycles (robust to anomalies in a minority of cycles), centred;
4. residual: series - trend - seasonal.

``method="stl"`` replaces steps 1 and 3 for seasonal series by statsmodels'
``STL(robust=True)`` (Cleveland et al.'s LOESS decomposition with robustness
weights, the decomposition RobustTAD's paper names) at the period of step 2;
series without a period keep the moving-median trend and no seasonal part.

``channels(x_btc)`` stacks ``[residual, trend, seasonal, raw]`` for each input
channel, giving ``[B, T, 4C]``.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def moving_median(x_nt: np.ndarray, window: int) -> np.ndarray:
    """Centred moving median over ``window`` steps, mirrored edges: ``[N, T]``."""
    half = window // 2
    xp = np.pad(x_nt, ((0, 0), (half, window - 1 - half)), mode="symmetric")
    return np.median(sliding_window_view(xp, window, axis=1), axis=-1)


def dominant_period(d_nt: np.ndarray, min_period: int, min_acf: float) -> np.ndarray:
    """Per-series period (int, 0 = none) from the autocorrelation of ``d_nt``: ``[N]``."""
    n, length = d_nt.shape
    max_period = length // 2
    if max_period < min_period:
        return np.zeros(n, np.int64)
    centred = d_nt - d_nt.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(centred, n=2 * length, axis=1)
    acf = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :length]
    acf = acf / np.maximum(acf[:, :1], 1e-12)
    lags = np.arange(min_period, max_period + 1)
    best = lags[np.argmax(acf[:, lags], axis=1)]
    strength = acf[np.arange(n), best]
    return np.where(strength >= min_acf, best, 0)


def seasonal_median(d_nt: np.ndarray, period_n: np.ndarray) -> np.ndarray:
    """Centred per-phase median over cycles, for each series' period: ``[N, T]``."""
    n, length = d_nt.shape
    out = np.zeros_like(d_nt)
    for period in np.unique(period_n[period_n > 0]):
        rows = np.flatnonzero(period_n == period)
        cycles = -(-length // period)
        padded = np.full((rows.size, cycles * period), np.nan)
        padded[:, :length] = d_nt[rows]
        profile = np.nanmedian(padded.reshape(rows.size, cycles, period), axis=1)
        profile -= profile.mean(axis=1, keepdims=True)
        out[rows] = np.tile(profile, (1, cycles))[:, :length]
    return out


METHODS = ("median", "stl")


def stl_parts(x_nt: np.ndarray, period_n: np.ndarray, trend_nt: np.ndarray,
              seasonal_nt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust STL's ``(trend, seasonal)`` for the rows with a period (> 1) of
    ``period_n``; the other rows keep ``trend_nt`` / ``seasonal_nt``."""
    from statsmodels.tsa.seasonal import STL

    trend, seasonal = trend_nt.copy(), seasonal_nt.copy()
    for i in np.flatnonzero(period_n > 1):
        fit = STL(x_nt[i], period=int(period_n[i]), robust=True).fit()
        trend[i], seasonal[i] = fit.trend, fit.seasonal
    return trend, seasonal


def decompose(x_nt: np.ndarray, *, trend_window: int, min_period: int, min_acf: float,
              method: str = "median") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(trend, seasonal, residual)`` of univariate series ``x_nt [N, T]``, float64."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    x = np.asarray(x_nt, np.float64)
    trend = moving_median(x, min(trend_window, x.shape[1]))
    detrended = x - trend
    period = dominant_period(detrended, min_period, min_acf)
    seasonal = seasonal_median(detrended, period)
    if method == "stl":
        trend, seasonal = stl_parts(x, period, trend, seasonal)
    return trend, seasonal, x - trend - seasonal


def channels(x_btc: np.ndarray, *, trend_window: int = 21, min_period: int = 4,
             min_acf: float = 0.3, method: str = "median") -> np.ndarray:
    """RobustTAD inputs ``[B, T, 4C]``: residual, trend, seasonal, raw (per channel)."""
    b, t, c = x_btc.shape
    x_nt = np.moveaxis(x_btc, 2, 1).reshape(b * c, t)
    trend, seasonal, residual = decompose(x_nt, trend_window=trend_window,
                                          min_period=min_period, min_acf=min_acf, method=method)
    parts = np.stack([residual, trend, seasonal, x_nt], axis=1)  # [BC, 4, T]
    return parts.reshape(b, c * 4, t).transpose(0, 2, 1).astype(np.float32)
