"""Temporal fidelity and privacy distances between real and synthetic series (seed 000).

All functions take univariate batches ``real_bt [N, T]`` and ``fake_bt [M, T]`` and
compare distributions (not pairs), vectorised over series:

* ``acf_distance`` — mean |ACF_real(k) - ACF_fake(k)| over lags 1..``nlags`` of the
  batch-averaged autocorrelation functions (0 = identical temporal structure);
* ``trend_distance`` — |mean slope_real - mean slope_fake| of per-series least-squares lines;
* ``std_ratio`` — std(fake) / std(real) over all values (1 = matched variability);
* ``spectral_distance`` — total-variation distance between the batch-mean normalised
  power spectra (in [0, 1]);
* ``dcr_ratio`` — median distance to closest real record of synthetic series divided
  by the same for real series against the other real series (leave-one-out); values
  well below 1 mean the generator copies training records.
"""

from __future__ import annotations

import numpy as np


def acf_bt(x_bt: np.ndarray, nlags: int) -> np.ndarray:
    """Per-series autocorrelation at lags 0..nlags: ``[B, nlags + 1]``."""
    x = x_bt - x_bt.mean(axis=1, keepdims=True)
    denom = np.maximum((x**2).sum(axis=1), 1e-12)
    return np.stack(
        [(x[:, : x.shape[1] - k] * x[:, k:]).sum(axis=1) / denom for k in range(nlags + 1)],
        axis=1,
    )


def acf_distance(real_bt: np.ndarray, fake_bt: np.ndarray, nlags: int = 20) -> float:
    a, b = acf_bt(real_bt, nlags).mean(0), acf_bt(fake_bt, nlags).mean(0)
    return float(np.mean(np.abs(a[1:] - b[1:])))


def slopes_b(x_bt: np.ndarray) -> np.ndarray:
    """Least-squares slope of every series ``[B]``."""
    t = np.arange(x_bt.shape[1], dtype=np.float64)
    t = t - t.mean()
    return (x_bt - x_bt.mean(axis=1, keepdims=True)) @ t / (t @ t)


def trend_distance(real_bt: np.ndarray, fake_bt: np.ndarray) -> float:
    return float(abs(slopes_b(real_bt).mean() - slopes_b(fake_bt).mean()))


def std_ratio(real_bt: np.ndarray, fake_bt: np.ndarray) -> float:
    return float(np.std(fake_bt) / max(np.std(real_bt), 1e-12))


def spectral_distance(real_bt: np.ndarray, fake_bt: np.ndarray) -> float:
    def spectrum(x):
        p = np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)) ** 2
        p = p.mean(axis=0)
        return p / max(p.sum(), 1e-12)

    return float(0.5 * np.abs(spectrum(real_bt) - spectrum(fake_bt)).sum())


def _min_dist(a_bt: np.ndarray, b_bt: np.ndarray, exclude_self: bool) -> np.ndarray:
    d = np.sqrt(np.maximum(
        (a_bt**2).sum(1)[:, None] + (b_bt**2).sum(1)[None, :] - 2 * a_bt @ b_bt.T, 0.0
    ))
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    return d.min(axis=1)


def dcr_ratio(real_bt: np.ndarray, fake_bt: np.ndarray) -> float:
    fake_to_real = np.median(_min_dist(fake_bt, real_bt, False))
    real_to_real = np.median(_min_dist(real_bt, real_bt, True))
    return float(fake_to_real / max(real_to_real, 1e-12))


def fidelity_report(real_bt: np.ndarray, fake_bt: np.ndarray) -> dict[str, float]:
    """All the measures above, as a flat dict."""
    real_bt, fake_bt = np.asarray(real_bt, np.float64), np.asarray(fake_bt, np.float64)
    return {
        "acf_distance": acf_distance(real_bt, fake_bt),
        "trend_distance": trend_distance(real_bt, fake_bt),
        "std_ratio": std_ratio(real_bt, fake_bt),
        "spectral_distance": spectral_distance(real_bt, fake_bt),
        "dcr_ratio": dcr_ratio(real_bt, fake_bt),
    }


def markdown_table(metrics: dict[str, float]) -> str:
    """A two-column Markdown table of a flat metrics dict."""
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())
    return f"| metric | value |\n|---|---|\n{rows}\n"
