"""Anomaly realism: do generated labelled runs look like the real ones?

Per labelled run (a maximal stretch of consecutive labelled steps of one series,
first channel), measured against the local normal level — the straight line
between the last unlabelled value before the run and the first one after it (or
the one that exists, at a window edge):

* ``offset``: mean |x_t - reference_t| over the run (how far the anomaly sits);
* ``within_dx``: mean |x_t - x_{t-1}| inside the run (runs of 2+ steps): spikes and
  level shifts are smooth inside, noise bursts are not;
* ``length``: the run's number of steps.

:func:`realism_table` summarises real and generated sets side by side, and
:func:`discriminative_score` trains a small classifier to tell real from generated
anomalous windows: held-out accuracy, 0.5 is best (indistinguishable).

Shapes: ``x_btc [B, T, C]``, ``y_bt [B, T]``.
"""

from __future__ import annotations

import numpy as np

from jtsgen.data.labelled import segments_of


def run_stats(x_btc: np.ndarray, y_bt: np.ndarray) -> dict[str, np.ndarray]:
    """``{"offset", "within_dx", "length"}``: one value per labelled run (``within_dx``
    is NaN for single-step runs). Series without an unlabelled step are skipped."""
    x = np.asarray(x_btc, np.float64)[..., 0]
    y = np.asarray(y_bt)
    offset, within, length = [], [], []
    for xi, yi in zip(x, y, strict=True):
        if yi.min() > 0:
            continue
        for start, n in segments_of(yi):
            stop = start + n
            before = xi[start - 1] if start > 0 else None
            after = xi[stop] if stop < len(xi) else None
            if before is None:
                before = after
            if after is None:
                after = before
            ref = before + (after - before) * (np.arange(1, n + 1) / (n + 1))
            offset.append(np.mean(np.abs(xi[start:stop] - ref)))
            within.append(np.mean(np.abs(np.diff(xi[start:stop]))) if n > 1 else np.nan)
            length.append(n)
    return {"offset": np.asarray(offset), "within_dx": np.asarray(within),
            "length": np.asarray(length, np.float64)}


def summarise_runs(x_btc: np.ndarray, y_bt: np.ndarray) -> dict[str, float]:
    """Means (and the median offset) of :func:`run_stats`, plus the number of runs
    and the mean |Δx| on unlabelled steps (the normal signal's roughness)."""
    s = run_stats(x_btc, y_bt)
    x = np.asarray(x_btc, np.float64)[..., 0]
    normal = (np.asarray(y_bt)[:, 1:] == 0) & (np.asarray(y_bt)[:, :-1] == 0)
    dx = np.abs(np.diff(x, axis=1))
    nan = float("nan")
    return {
        "runs": float(len(s["length"])),
        "offset_mean": float(s["offset"].mean()) if len(s["offset"]) else nan,
        "offset_median": float(np.median(s["offset"])) if len(s["offset"]) else nan,
        "within_dx_mean": (float(np.nanmean(s["within_dx"]))
                           if np.isfinite(s["within_dx"]).any() else nan),
        "length_mean": float(s["length"].mean()) if len(s["length"]) else nan,
        "normal_dx_mean": float(dx[normal].mean()) if normal.any() else nan,
    }


def discriminative_score(real_x_btc, real_y_bt, gen_x_btc, gen_y_bt, *, seed: int = 0,
                         max_windows: int = 1000) -> float:
    """Held-out accuracy of a classifier telling real from generated anomalous windows.

    Each window (with anomalies) becomes ``[x_t, |Δx_t|, y_t * x_t]`` over time; equal
    numbers of real and generated windows (at most ``max_windows`` each), 70:30
    split, gradient-boosted trees (scikit-learn). 0.5 = indistinguishable.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(seed)

    def features(x_btc, y_bt):
        x, y = np.asarray(x_btc, np.float64)[..., 0], np.asarray(y_bt, np.float64)
        keep = y.max(axis=1) > 0
        x, y = x[keep], y[keep]
        dx = np.abs(np.diff(x, axis=1, prepend=x[:, :1]))
        return np.concatenate([x, dx, y * x], axis=1)

    real, gen = features(real_x_btc, real_y_bt), features(gen_x_btc, gen_y_bt)
    n = min(len(real), len(gen), max_windows)
    if n < 10:
        return float("nan")
    real, gen = real[rng.permutation(len(real))[:n]], gen[rng.permutation(len(gen))[:n]]
    feats = np.concatenate([real, gen])
    target = np.concatenate([np.zeros(n), np.ones(n)])
    order = rng.permutation(2 * n)
    cut = int(0.7 * 2 * n)
    fit_rows, test_rows = order[:cut], order[cut:]
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed)
    clf.fit(feats[fit_rows], target[fit_rows])
    return float((clf.predict(feats[test_rows]) == target[test_rows]).mean())
