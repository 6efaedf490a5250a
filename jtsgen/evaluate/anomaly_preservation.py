"""Anomaly preservation (seed 000, Exercise 3): are anomalies as frequent, and do
detector scores look alike, in real and synthetic series?

One fixed rule that needs no labels, applied with the same parameters and the same
threshold to every set:

* **score**: the unsupervised Spectral Residual score of
  :func:`jtsgen.detect.spectral_residual.sr_score_btc` (saliency relative to its
  trailing mean over ``z`` = 21 steps; ``q`` = 3, 5 extension points, lookback 5),
  the maximum over channels, one score per step;
* **threshold**: the ``quantile`` (default 0.99) of the scores of the *real training*
  series only, so about 1 % of real training steps are flagged and nothing about
  the synthetic set moves it;
* **anomaly rate**: the share of steps whose score is strictly above the threshold.

Beside the rate, the score distributions are compared: quantiles (50/90/99/99.9 %),
the two-sample Kolmogorov–Smirnov statistic (``scipy.stats.ks_2samp``) and the
Wasserstein-1 distance, each over all steps of both sets. Where spike labels exist
for the real series, the rule's recall on them checks that it finds real anomalies.

Shapes: series ``x_btc`` ``[B, T, C]`` (sets may differ in ``B``; ``C`` must agree);
scores ``[B, T]``; labels ``y_bt`` ``[B, T]`` (1 on anomalous steps).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy import stats

from jtsgen.detect.spectral_residual import sr_score_btc
from jtsgen.errors import InputError

QUANTILES = (0.5, 0.9, 0.99, 0.999)
DEFAULT_QUANTILE = 0.99


def _series(x_btc, name: str) -> np.ndarray:
    x = np.asarray(x_btc, np.float32)
    if x.ndim != 3 or min(x.shape) < 1:
        raise InputError(name, f"expected a non-empty [B, T, C] array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError(name, "contains NaN or infinite values")
    return x


def detector_scores(x_btc, *, q: int = 3, z: int = 21) -> np.ndarray:
    """The rule's score ``[B, T]`` of ``x_btc [B, T, C]``: the Spectral Residual score,
    maximum over channels (a step is anomalous if any channel is)."""
    x = _series(x_btc, "x_btc")
    return np.asarray(jnp.max(sr_score_btc(jnp.asarray(x), q=q, z=z), axis=-1), np.float64)


def fit_threshold(real_scores_bt, quantile: float = DEFAULT_QUANTILE) -> float:
    """The threshold: the ``quantile`` of the real training scores ``[B, T]``
    (``quantile`` in ``(0, 1]``; 1 means their maximum)."""
    if not 0.0 < quantile <= 1.0:
        raise InputError("quantile", f"must be in (0, 1], got {quantile}")
    return float(np.quantile(np.asarray(real_scores_bt, np.float64), quantile))


def anomaly_rate(scores_bt, threshold: float) -> float:
    """Share of steps of ``scores_bt [B, T]`` strictly above ``threshold``."""
    return float(np.mean(np.asarray(scores_bt) > threshold))


def recall(scores_bt, y_bt, threshold: float) -> float:
    """Share of labelled steps (``y_bt [B, T]`` > 0) flagged by the rule; NaN if none."""
    y = np.asarray(y_bt) > 0
    if y.shape != np.shape(scores_bt):
        raise InputError("y_bt", f"labels {y.shape} do not match scores {np.shape(scores_bt)}")
    return float(np.mean(np.asarray(scores_bt)[y] > threshold)) if y.any() else float("nan")


def score_summary(scores_bt, threshold: float) -> dict[str, float]:
    """``{"rate", "q50", "q90", "q99", "q99.9"}`` of scores ``[B, T]`` at ``threshold``."""
    s = np.asarray(scores_bt, np.float64).ravel()
    qs = np.quantile(s, QUANTILES)
    out = {"rate": anomaly_rate(s, threshold)}
    out.update({f"q{100 * p:g}": float(v) for p, v in zip(QUANTILES, qs, strict=True)})
    return out


def compare_scores(real_scores_bt, synth_scores_bt) -> dict[str, float]:
    """Two-sample statistics of all step scores (``[B, T]`` each, ``B`` may differ):
    ``ks`` (KS statistic, 0 for identical sets), ``ks_pvalue``, ``wasserstein``."""
    a = np.asarray(real_scores_bt, np.float64).ravel()
    b = np.asarray(synth_scores_bt, np.float64).ravel()
    ks = stats.ks_2samp(a, b)
    return {"ks": float(ks.statistic), "ks_pvalue": float(ks.pvalue),
            "wasserstein": float(stats.wasserstein_distance(a, b))}


def preservation_report(train_btc, real_btc, synthetic: dict, *, y_train_bt=None,
                        y_real_bt=None, quantile: float = DEFAULT_QUANTILE) -> dict:
    """The whole comparison.

    Args:
      train_btc: real training series ``[B0, T, C]``: fixes the threshold, nothing else.
      real_btc: real reference series ``[B1, T, C]`` (e.g. a hold-out) compared with
        each synthetic set.
      synthetic: ``{name: [B2, T, C]}`` generated series.
      y_train_bt, y_real_bt: optional labels ``[B0, T]`` / ``[B1, T]`` for the recall.
      quantile: the threshold's quantile of the training scores.

    Returns ``{"threshold", "quantile", "train": summary, "real": summary, "rows":
    {name: summary + ks, ks_pvalue, wasserstein, rate_ratio}}`` (summary: see
    :func:`score_summary`; ``rate_ratio`` = synthetic rate / real rate), plus
    ``recall_train`` / ``recall_real`` when labels are given.
    """
    train = _series(train_btc, "train_btc")
    real = _series(real_btc, "real_btc")
    sets = {name: _series(x, f"synthetic[{name!r}]") for name, x in synthetic.items()}
    for name, x in {"real_btc": real, **sets}.items():
        if x.shape[-1] != train.shape[-1]:
            raise InputError(name, f"has {x.shape[-1]} channels, the training set "
                             f"{train.shape[-1]}")
    s_train, s_real = detector_scores(train), detector_scores(real)
    thr = fit_threshold(s_train, quantile)
    real_summary = score_summary(s_real, thr)
    rows = {}
    for name, x in sets.items():
        s = detector_scores(x)
        row = score_summary(s, thr)
        row.update(compare_scores(s_real, s))
        row["rate_ratio"] = (row["rate"] / real_summary["rate"] if real_summary["rate"] > 0
                             else float("nan"))
        rows[name] = row
    out = {"threshold": thr, "quantile": quantile, "train": score_summary(s_train, thr),
           "real": real_summary, "rows": rows}
    if y_train_bt is not None:
        out["recall_train"] = recall(s_train, y_train_bt, thr)
    if y_real_bt is not None:
        out["recall_real"] = recall(s_real, y_real_bt, thr)
    return out
