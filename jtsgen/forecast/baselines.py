"""Classical baselines, forecasting each window from its own inputs.

All take ``x_bic [B, I, C]`` and return ``y_bhc [B, H, C]`` in the same units.

* :func:`persistence`: every step repeats the last observed value;
* :func:`seasonal_persistence`: step ``h`` repeats the value one ``period`` earlier
  (``x[t + h - period·ceil(h / period)]``, the seed's data: period 24);
* ARIMA(p, 1, 0): :func:`fit_arima` estimates per-channel AR(p) coefficients on the
  first differences of the training part once (statsmodels, maximum likelihood, no
  constant); :func:`arima_forecast` then forecasts at every rolling origin with those
  fixed coefficients from the window's last ``p + 1`` observations, without refitting.
  For a pure AR model on differences that is exactly the Kalman-filter forecast given
  the whole history (``results.apply(history).forecast(H)`` in statsmodels), because
  the state is the last ``p`` differences; a test checks the two agree.
"""

from __future__ import annotations

import warnings

import numpy as np

from jtsgen.errors import InputError


def persistence(x_bic: np.ndarray, horizon: int) -> np.ndarray:
    """``[B, H, C]``: the last input step repeated ``horizon`` times."""
    x_bic = np.asarray(x_bic)
    return np.repeat(x_bic[:, -1:, :], horizon, axis=1)


def seasonal_persistence(x_bic: np.ndarray, horizon: int, period: int = 24) -> np.ndarray:
    """``[B, H, C]``: step ``h`` (1-based) copies input ``I - 1 + h - period·ceil(h/period)``."""
    x_bic = np.asarray(x_bic)
    if period > x_bic.shape[1]:
        raise InputError("period", f"{period} is longer than the input window "
                                   f"({x_bic.shape[1]} steps)")
    h = np.arange(1, horizon + 1)
    idx = x_bic.shape[1] - 1 + h - period * np.ceil(h / period).astype(int)
    return x_bic[:, idx, :]


def fit_arima(train_tc: np.ndarray, p: int = 5) -> np.ndarray:
    """Per-channel AR coefficients ``phi_cp [C, p]`` of ARIMA(p, 1, 0) fitted (MLE) on
    ``train_tc [T, C]``."""
    from statsmodels.tsa.arima.model import ARIMA

    train_tc = np.asarray(train_tc, np.float64)
    phis = []
    for c in range(train_tc.shape[1]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ARIMA(train_tc[:, c], order=(p, 1, 0)).fit()
        phis.append(np.asarray(res.params[:p]))
    return np.stack(phis)


def arima_forecast(phi_cp: np.ndarray, x_bic: np.ndarray, horizon: int) -> np.ndarray:
    """``[B, H, C]``: ARIMA(p, 1, 0) forecasts from each window's last ``p + 1`` inputs:
    ``d_{t+1} = sum_j phi_j d_{t+1-j}`` on differences, then cumulated onto the last value."""
    phi_cp = np.asarray(phi_cp, np.float64)
    x_bic = np.asarray(x_bic, np.float64)
    p = phi_cp.shape[1]
    if x_bic.shape[1] < p + 1:
        raise InputError("x_bic", f"ARIMA({p},1,0) needs at least {p + 1} input steps")
    d_hist = list(np.moveaxis(np.diff(x_bic[:, -(p + 1):, :], axis=1), 1, 0))  # p x [B, C]
    level = x_bic[:, -1, :]
    out = []
    for _ in range(horizon):
        d_next = sum(phi_cp[:, j] * d_hist[-1 - j] for j in range(p))
        d_hist.append(d_next)
        level = level + d_next
        out.append(level)
    return np.stack(out, axis=1).astype(np.float32)
