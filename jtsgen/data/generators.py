"""The synthetic generators of the seed documents, seeded and vectorised.

* :func:`make_trend_seasonal_spikes` — seed 000 (``generate_time_series``): a
  linear trend with a random offset, period-7 and period-30 sines, Gaussian noise
  and 0–2 random spikes per series. ``x_btc`` float32 ``[n, T, 1]``, spike labels
  ``y_bt`` float32 ``[n, T]``.
* :func:`make_trend_volatility` — seed 000, Exercise 4 (conditional generation): a
  linear trend of slope ``±slope`` (down / up), seed 000's seasonal sines and Gaussian
  noise of a low or a high std, the two attributes drawn per series and returned with
  it. ``x_btc`` float32 ``[n, T, 1]``, ``trend_b`` / ``vol_b`` int ``[n]`` in {0, 1}.
* :func:`make_periodic_multifeature` — seed 001: 10 features, 10,000 steps,
  periodic patterns, 5% of time steps perturbed in magnitude, labels per step.
  ``x_tc`` float32 ``[T, F]``, ``y_t`` float32 ``[T]``. Windows of 50 with
  :func:`jtsgen.data.windows.sliding_windows` and per-window labels with
  :func:`jtsgen.data.windows.window_labels` ("anomalous if any point is").
* :func:`make_hourly_multichannel` — seed 003: hourly index from 2019-01-01, trend,
  daily/weekly/fortnightly seasonality, AR(1) noise (rho 0.7), rare exogenous
  events, 3 channels. ``x_tc`` float32 ``[T, C]`` with a ``pandas.DatetimeIndex``;
  ``y_t`` marks event steps.
* :func:`lab_windows` — the generative lab's windows of seed 000 or seed 003 series,
  z-normalised per window and channel, ``[n, T, C]`` (:func:`lab_train_holdout`: split
  into a training set and a real hold-out).

The seeds used numpy's legacy global RNG; these use ``numpy.random.default_rng``,
so numbers differ from the seeds' while the distributions are the same.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from jtsgen.data.validate import require_fraction, require_positive_int
from jtsgen.errors import InputError


class SpikesData(NamedTuple):
    """Seed 000 data: ``x_btc`` float32 ``[n, T, 1]``, ``y_bt`` float32 ``[n, T]``."""

    x_btc: np.ndarray
    y_bt: np.ndarray
    n_spikes_b: np.ndarray  # int, spikes drawn per series (0..max_spikes)


def make_trend_seasonal_spikes(
    n_series: int = 100, seq_len: int = 100, seed: int = 0, *, max_spikes: int = 2
) -> SpikesData:
    """Seed 000 series: ``0.01 t + N(0, 0.5) + 0.5 sin(2πt/7) + 0.3 sin(2πt/30)``
    ``+ N(0, 0.1²)`` noise, plus ``U{0..max_spikes}`` spikes of size ``N(0, 1)`` at
    uniform positions (two spikes may hit the same step; sizes then add).

    Returns labels 1 on spiked steps. The seed z-normalises each series afterwards;
    that is left to the caller (see :mod:`jtsgen.data.scalers`).
    """
    n_series = require_positive_int(n_series, "n_series")
    seq_len = require_positive_int(seq_len, "seq_len")
    rng = np.random.default_rng(seed)
    t = np.arange(seq_len, dtype=np.float64)
    offset = rng.standard_normal(n_series) * 0.5
    seasonal = 0.5 * np.sin(2 * np.pi * t / 7) + 0.3 * np.sin(2 * np.pi * t / 30)
    x_bt = 0.01 * t[None, :] + offset[:, None] + seasonal[None, :]
    x_bt = x_bt + rng.standard_normal((n_series, seq_len)) * 0.1
    n_spikes = rng.integers(0, max_spikes + 1, size=n_series)
    idx = rng.integers(0, seq_len, size=(n_series, max_spikes))
    size = rng.standard_normal((n_series, max_spikes))
    used = np.arange(max_spikes)[None, :] < n_spikes[:, None]
    rows = np.broadcast_to(np.arange(n_series)[:, None], idx.shape)
    np.add.at(x_bt, (rows[used], idx[used]), size[used])
    y_bt = np.zeros((n_series, seq_len), dtype=np.float32)
    y_bt[rows[used], idx[used]] = 1.0
    return SpikesData(x_bt.astype(np.float32)[:, :, None], y_bt, n_spikes)


class TrendVolatilityData(NamedTuple):
    """Exercise 4 data: ``x_btc`` float32 ``[n, T, 1]``; ``trend_b`` and ``vol_b`` int
    ``[n]`` in {0, 1} (trend 0 = down, 1 = up; volatility 0 = low, 1 = high)."""

    x_btc: np.ndarray
    trend_b: np.ndarray
    vol_b: np.ndarray


def make_trend_volatility(
    n_series: int = 100,
    seq_len: int = 64,
    seed: int | np.random.Generator = 0,
    *,
    slope: float = 0.02,
    noise_std: tuple[float, float] = (0.1, 0.4),
    offset_std: float = 0.5,
) -> TrendVolatilityData:
    """Series with known window-level attributes (seed 000, Exercise 4):
    ``offset + (2 trend - 1) slope t + 0.5 sin(2πt/7) + 0.3 sin(2πt/30) + noise_std[vol] ε``
    for ``t = 0..seq_len-1``, ``offset ~ N(0, offset_std²)``, ε ~ N(0, 1) i.i.d., and
    ``trend``, ``vol`` drawn independently and uniformly from {0, 1} per series. The
    seasonal part is seed 000's; there are no spikes.
    """
    n_series = require_positive_int(n_series, "n_series")
    seq_len = require_positive_int(seq_len, "seq_len")
    if not slope > 0:
        raise InputError("slope", f"must be > 0, got {slope}")
    if len(noise_std) != 2 or not 0 < noise_std[0] < noise_std[1]:
        raise InputError("noise_std", f"must be (low, high) with 0 < low < high, got {noise_std}")
    rng = np.random.default_rng(seed)
    t = np.arange(seq_len, dtype=np.float64)
    trend_b = rng.integers(0, 2, size=n_series)
    vol_b = rng.integers(0, 2, size=n_series)
    offset = rng.standard_normal(n_series) * offset_std
    seasonal = 0.5 * np.sin(2 * np.pi * t / 7) + 0.3 * np.sin(2 * np.pi * t / 30)
    x_bt = offset[:, None] + ((2 * trend_b - 1) * slope)[:, None] * t + seasonal
    x_bt = x_bt + rng.standard_normal((n_series, seq_len)) * np.asarray(noise_std)[vol_b][:, None]
    return TrendVolatilityData(x_bt.astype(np.float32)[:, :, None], trend_b, vol_b)


class PeriodicData(NamedTuple):
    """Seed 001 data: ``x_tc`` float32 ``[T, F]``, ``y_t`` float32 ``[T]``."""

    x_tc: np.ndarray
    y_t: np.ndarray


def make_periodic_multifeature(
    n_steps: int = 10_000,
    n_features: int = 10,
    seed: int = 0,
    *,
    anomaly_frac: float = 0.05,
    period_range: tuple[float, float] = (20.0, 200.0),
    noise_std: float = 0.1,
    magnitude_range: tuple[float, float] = (3.0, 6.0),
    normalize: bool = True,
) -> PeriodicData:
    """Seed 001 series: each feature is the sum of two sines with random periods in
    ``period_range`` and random phases, plus Gaussian noise. Exactly
    ``round(anomaly_frac * n_steps)`` distinct time steps are anomalous: every
    feature there is moved by ``± U[magnitude_range]`` times that feature's
    standard deviation (random sign per feature). With ``normalize`` the result is
    z-scored per feature over the whole series, as the seed does (for honest
    evaluation pass ``normalize=False`` and fit a scaler on the training part).
    """
    n_steps = require_positive_int(n_steps, "n_steps")
    n_features = require_positive_int(n_features, "n_features")
    anomaly_frac = require_fraction(anomaly_frac, "anomaly_frac")
    if not 0 < magnitude_range[0] <= magnitude_range[1]:
        raise InputError("magnitude_range", f"must satisfy 0 < low <= high, got {magnitude_range}")
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)[:, None, None]
    period = rng.uniform(*period_range, size=(1, n_features, 2))
    phase = rng.uniform(-np.pi, np.pi, size=(1, n_features, 2))
    amp = rng.uniform(0.5, 1.5, size=(1, n_features, 2))
    x_tc = (amp * np.sin(2 * np.pi * t / period + phase)).sum(axis=-1)
    x_tc += rng.standard_normal((n_steps, n_features)) * noise_std
    n_anom = int(round(anomaly_frac * n_steps))
    where = rng.choice(n_steps, size=n_anom, replace=False)
    sign = rng.choice(np.array([-1.0, 1.0]), size=(n_anom, n_features))
    mag = rng.uniform(*magnitude_range, size=(n_anom, n_features))
    x_tc[where] += sign * mag * x_tc.std(axis=0, keepdims=True)
    if normalize:
        x_tc = (x_tc - x_tc.mean(axis=0)) / x_tc.std(axis=0)
    y_t = np.zeros(n_steps, dtype=np.float32)
    y_t[where] = 1.0
    return PeriodicData(x_tc.astype(np.float32), y_t)


class HourlyData(NamedTuple):
    """Seed 003 data.

    ``timestamps`` ``[T]`` DatetimeIndex; ``x_tc`` float32 ``[T, C]``; ``events_t``
    float32 event sizes (0 where none); ``trend_t`` float32; ``y_t`` float32 ``[T]``
    = 1 where an event happened.
    """

    timestamps: pd.DatetimeIndex
    x_tc: np.ndarray
    events_t: np.ndarray
    trend_t: np.ndarray
    y_t: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The series as a DataFrame indexed by time, columns ``x1..xC``."""
        cols = [f"x{i + 1}" for i in range(self.x_tc.shape[1])]
        return pd.DataFrame(self.x_tc, index=self.timestamps, columns=cols)


def _ar1(white_tc: np.ndarray, rho: float) -> np.ndarray:
    """``n[0] = w[0]``, ``n[t] = rho n[t-1] + (1 - rho) w[t]`` along axis 0."""
    zi = (rho * white_tc[0])[None, :]  # makes the first output equal white[0]
    out, _ = lfilter([1.0 - rho], [1.0, -rho], white_tc, axis=0, zi=zi)
    return out


def make_hourly_multichannel(
    n_steps: int = 2000,
    n_channels: int = 3,
    seed: int = 42,
    *,
    start: str = "2019-01-01",
    freq: str = "h",
    rho: float = 0.7,
    event_prob: float = 0.002,
    coupling: float = 0.0,
) -> HourlyData:
    """Seed 003 series, channel ``s`` of ``C``:

    ``level_s + a_trend,s·trend + (2 + 0.5s)·sin(2πt/24) + (0.8 + 0.2s)·sin(2πt/168)``
    ``+ 0.3·sin(2πt/336) + (0.6 + 0.2s)·ar1_s + 0.5·events``, with
    ``trend = 0.001t + 0.05 sin(2πt/8760)``, ``level_s`` evenly spaced in [1, 3],
    ``a_trend,s ~ 1 + U[-0.1, 0.1]``, AR(1) noise of N(0, 0.5²) innovations, and
    events (shared by channels) with probability ``event_prob`` and size U[0, 5].

    The seed's prose mentions channels depending on past values of others, which
    its code does not do; ``coupling > 0`` adds ``coupling · x_{s-1}[t-1]`` to
    channel ``s`` (default 0: as the seed's code).
    """
    n_steps = require_positive_int(n_steps, "n_steps")
    n_channels = require_positive_int(n_channels, "n_channels")
    if not 0.0 <= rho < 1.0:
        raise InputError("rho", f"must lie in [0, 1), got {rho}")
    if not 0.0 <= event_prob <= 1.0:
        raise InputError("event_prob", f"must lie in [0, 1], got {event_prob}")
    rng = np.random.default_rng(seed)
    t = np.arange(n_steps, dtype=np.float64)
    trend = 0.001 * t + 0.05 * np.sin(2 * np.pi * t / (24 * 365))
    s = np.arange(n_channels, dtype=np.float64)
    noise = _ar1(rng.normal(0.0, 0.5, size=(n_steps, n_channels)), rho)
    events = (rng.random(n_steps) < event_prob) * rng.random(n_steps) * 5.0
    a_trend = 1.0 + 0.2 * (rng.random(n_channels) - 0.5)
    x_tc = (
        np.linspace(1.0, 3.0, n_channels)[None, :]
        + a_trend[None, :] * trend[:, None]
        + (2.0 + 0.5 * s)[None, :] * np.sin(2 * np.pi * t / 24)[:, None]
        + (0.8 + 0.2 * s)[None, :] * np.sin(2 * np.pi * t / (24 * 7))[:, None]
        + 0.3 * np.sin(2 * np.pi * t / (24 * 14))[:, None]
        + (0.6 + 0.2 * s)[None, :] * noise
        + 0.5 * events[:, None]
    )
    for c in range(1, n_channels):
        x_tc[1:, c] += coupling * x_tc[:-1, c - 1]
    timestamps = pd.date_range(start=start, periods=n_steps, freq=freq)
    return HourlyData(
        timestamps=timestamps,
        x_tc=x_tc.astype(np.float32),
        events_t=events.astype(np.float32),
        trend_t=trend.astype(np.float32),
        y_t=(events > 0).astype(np.float32),
    )


LAB_DATASETS = ("seed000", "seed003")


def lab_windows(dataset: str, n: int, seq_len: int, seed: int) -> np.ndarray:
    """``[n, seq_len, C]`` float32 windows for the generative lab, each channel of each
    window z-normalised: ``"seed000"`` — :func:`make_trend_seasonal_spikes` series (C = 1);
    ``"seed003"`` — non-overlapping ``seq_len``-hour windows of one
    :func:`make_hourly_multichannel` series (C = 3), in an order shuffled with ``seed``."""
    if dataset == "seed000":
        x = make_trend_seasonal_spikes(n, seq_len, seed).x_btc
    elif dataset == "seed003":
        x = make_hourly_multichannel(n * seq_len, 3, seed).x_tc.reshape(n, seq_len, 3)
        x = x[np.random.default_rng(seed).permutation(n)]
    else:
        raise InputError("dataset", f"must be one of {LAB_DATASETS}, got {dataset!r}")
    x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-6)
    return x.astype(np.float32)


def lab_train_holdout(dataset: str, n_train: int, n_holdout: int, seq_len: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(train [n_train, T, C], holdout [n_holdout, T, C])``: disjoint
    :func:`lab_windows`, the first ``n_train`` for training, the rest a real hold-out."""
    x = lab_windows(dataset, n_train + n_holdout, seq_len, seed)
    return x[:n_train], x[n_train:]
