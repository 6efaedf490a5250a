"""The four evaluation frameworks of the C-GATS paper (Supp. 6.3), for any detector.

A framework says which data a detector is fitted on (its threshold included) and
which data it is tested on; ``real_train``/``real_test`` are the 80:20 split of the
real series and ``synthetic`` a generated (or augmented) set, usually as large as
``real_train``:

============  ===========================================  ===========================
framework     fit on                                       test on
============  ===========================================  ===========================
TRTR          ``real_train``                               ``real_test``
T(R+S)TR      ``real_train`` + all of ``synthetic``        ``real_test``
TSTR          all of ``synthetic``                         ``real_test``
TRTS          ``real_train`` + ``real_test`` (all real)    a random 20 % of ``synthetic``
============  ===========================================  ===========================

TRTS follows the paper's wording (train on all the real data, test on a 20 %
random split of the synthetic data), so its detector has seen the real test
series. The test metrics are point-wise precision, recall and F1
(:func:`jtsgen.metrics.point_prf`) of the detector's own threshold, which
it chose on the framework's training data (or, in T(R+S)TR with
``threshold_from="real_train"``, on its real part only; or, in TRTR and T(R+S)TR
with ``threshold_from="real_holdout"``, on real training windows held out of the
fit, :func:`holdout_split`); separately named extras
(:func:`detection_scores`, :func:`evaluate_framework`): the point-adjusted F1, the
test-oracle best F1 (the threshold chosen on the test scores themselves: an upper
bound for the detector's scores, never the headline) and the share of labelled
steps in the framework's training set.

Shapes: series ``x_btc`` float32 ``[B, T, C]``, labels ``y_bt`` ``[B, T]`` in {0, 1};
every set of one call has the same ``T`` and ``C``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from jtsgen.data.labelled import Labelled, concat
from jtsgen.detect.base import best_threshold
from jtsgen.errors import InputError
from jtsgen.metrics import best_f1_threshold, point_adjusted_prf, point_prf

FRAMEWORKS = ("TRTR", "T(R+S)TR", "TRTS", "TSTR")
THRESHOLD_FROM = ("fit_data", "real_train", "real_holdout")
TRTS_TEST_FRACTION = 0.2

# fit(key, x_btc, y_bt) -> a fitted detector with ``predict(x_btc) -> [B, T]`` labels (and, as
# :class:`jtsgen.detect.base.Fitted`, ``score`` and ``threshold`` for the test-oracle F1)
FitFn = Callable[[jax.Array, np.ndarray, np.ndarray], Any]


def _checked(name: str, data: Labelled, like: Labelled | None = None) -> Labelled:
    x = np.asarray(data[0], np.float32)
    y = np.asarray(data[1], np.float32)
    if x.ndim != 3 or x.shape[0] == 0:
        raise InputError(name, f"series must be a non-empty [batch, time, channels], got {x.shape}")
    if y.shape != x.shape[:2]:
        raise InputError(name, f"labels have shape {y.shape}, series {x.shape[:2]}")
    if like is not None and x.shape[1:] != like.x_btc.shape[1:]:
        raise InputError(name, f"series are [*, {x.shape[1]}, {x.shape[2]}] but the real ones "
                               f"[*, {like.x_btc.shape[1]}, {like.x_btc.shape[2]}]")
    return Labelled(x, y)


def framework_data(framework: str, real_train: Labelled, real_test: Labelled,
                   synthetic: Labelled | None, seed: int = 0) -> tuple[Labelled, Labelled]:
    """``(fit_on, test_on)`` of ``framework`` (one of :data:`FRAMEWORKS`).

    ``synthetic`` may be ``None`` for TRTR only. ``seed`` picks TRTS's random 20 % of
    ``synthetic`` (at least one series); the other frameworks use whole sets.
    """
    if framework not in FRAMEWORKS:
        raise InputError("framework", f"unknown {framework!r}; choose from {FRAMEWORKS}")
    real_train = _checked("real_train", real_train)
    real_test = _checked("real_test", real_test, real_train)
    if framework == "TRTR":
        return real_train, real_test
    if synthetic is None:
        raise InputError("synthetic", f"{framework} needs a synthetic set, got None")
    synthetic = _checked("synthetic", synthetic, real_train)
    if framework == "T(R+S)TR":
        return concat(real_train, synthetic), real_test
    if framework == "TSTR":
        return synthetic, real_test
    n = synthetic.x_btc.shape[0]
    n_test = max(1, int(round(TRTS_TEST_FRACTION * n)))
    rows = np.sort(np.random.default_rng(seed).permutation(n)[:n_test])
    return concat(real_train, real_test), Labelled(synthetic.x_btc[rows], synthetic.y_bt[rows])


def holdout_split(data: Labelled, fraction: float, seed: int = 0) -> tuple[Labelled, Labelled]:
    """``(fit_part, holdout)``: a random ``fraction`` of ``data``'s windows held out,
    stratified so that both parts keep the share of windows holding a labelled step
    (each part gets at least one window of each kind that has two or more).

    Windows are drawn independently of their order, so where windows overlap (a stride
    below the window length) held-out windows share steps with fitted ones.
    """
    if not 0.0 < fraction < 1.0:
        raise InputError("holdout_frac", f"must be in (0, 1), got {fraction}")
    data = _checked("real_train", data)
    anomalous = np.asarray(data.y_bt).max(axis=1) > 0
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(anomalous), bool)
    for kind in (True, False):
        rows = np.flatnonzero(anomalous == kind)
        if len(rows) >= 2:
            n = min(len(rows) - 1, max(1, int(round(fraction * len(rows)))))
            mask[rng.permutation(rows)[:n]] = True
    if not mask.any() or mask.all():
        raise InputError("holdout_frac", f"{len(anomalous)} windows are too few to hold some out")
    return (Labelled(data.x_btc[~mask], data.y_bt[~mask]),
            Labelled(data.x_btc[mask], data.y_bt[mask]))


def detection_scores(fitted: Any, x_btc: np.ndarray, y_bt: np.ndarray,
                     scores_bt: np.ndarray | None = None) -> dict[str, float]:
    """Point-wise precision, recall, F1 of ``fitted.predict(x_btc)`` against ``y_bt``, and
    two extras: ``f1_point_adjusted`` (point adjustment overestimates detection quality)
    and ``f1_test_oracle``, the best F1 over thresholds chosen on the test scores
    ``fitted.score(x_btc)`` themselves (an upper bound, not a result; NaN for a detector
    without ``score`` and ``threshold``). ``scores_bt``: ``fitted.score(x_btc)`` when
    the caller already has it (it is not computed again)."""
    if hasattr(fitted, "score") and hasattr(fitted, "threshold"):
        scores = np.asarray(fitted.score(x_btc) if scores_bt is None else scores_bt, np.float32)
        pred = (scores >= fitted.threshold).astype(np.float32)  # = Fitted.predict, scored once
        oracle = float(best_f1_threshold(scores, y_bt)[1])
    else:
        pred, oracle = fitted.predict(x_btc), float("nan")
    p, r, f1 = (float(v) for v in point_prf(y_bt, pred))
    return {"precision": p, "recall": r, "f1": f1,
            "f1_point_adjusted": float(point_adjusted_prf(y_bt, pred)[2]),
            "f1_test_oracle": oracle}


def evaluate_framework(framework: str, fit: FitFn, key: jax.Array, real_train: Labelled,
                       real_test: Labelled, synthetic: Labelled | None,
                       seed: int = 0, threshold_from: str = "fit_data",
                       holdout: Labelled | None = None) -> dict[str, float]:
    """Fits a detector with ``fit(key, x, y)`` on ``framework``'s training data and
    returns :func:`detection_scores` on its test data, with the two sets' sizes
    (``n_fit``, ``n_test``), the test anomaly rate ``r`` and ``f1_flag_all`` = 2r / (1 + r),
    the F1 of flagging every test step (the floor a useful detector must beat), and
    ``train_anomaly_share``, the share of labelled steps in the training set.

    ``threshold_from`` (one of :data:`THRESHOLD_FROM`): ``"fit_data"`` keeps the
    threshold the detector chose on everything it was fitted on; ``"real_train"``
    re-chooses it, in T(R+S)TR only, as the best-F1 threshold of the fitted detector's
    scores on ``real_train`` (the data TRTR's threshold comes from), so that a
    synthetic set changes the scores and not the operating point; that cell then also
    reports ``f1_threshold_fit_data``, its F1 with the threshold chosen on R+S.
    ``"real_holdout"`` re-chooses it, in TRTR and T(R+S)TR, on ``holdout`` (real
    training windows the detector was not fitted on; ``real_train`` is then the rest,
    :func:`holdout_split`), so that neither threshold comes from windows the detector
    has fitted.
    """
    if threshold_from not in THRESHOLD_FROM:
        raise InputError("threshold_from",
                         f"unknown {threshold_from!r}; choose from {THRESHOLD_FROM}")
    if threshold_from == "real_holdout" and holdout is None:
        raise InputError("holdout", "threshold_from='real_holdout' needs the held-out windows")
    fit_on, test_on = framework_data(framework, real_train, real_test, synthetic, seed)
    fitted = fit(key, fit_on.x_btc, fit_on.y_bt)
    extra, scores = {}, None
    if framework == "T(R+S)TR" and threshold_from != "fit_data":
        scores = np.asarray(fitted.score(test_on.x_btc), np.float32)  # scored once, used twice
        extra["f1_threshold_fit_data"] = float(point_prf(
            test_on.y_bt, (scores >= fitted.threshold).astype(np.float32))[2])
    if (framework == "T(R+S)TR" and threshold_from != "fit_data") or (
            framework == "TRTR" and threshold_from == "real_holdout"):
        on = holdout if threshold_from == "real_holdout" else real_train
        fitted = dataclasses.replace(fitted, threshold=best_threshold(fitted.score(on.x_btc),
                                                                      on.y_bt))
    rate = float(test_on.y_bt.mean())
    return {**detection_scores(fitted, test_on.x_btc, test_on.y_bt, scores), **extra,
            "n_fit": int(fit_on.x_btc.shape[0]), "n_test": int(test_on.x_btc.shape[0]),
            "test_anomaly_rate": rate, "f1_flag_all": 2 * rate / (1 + rate),
            "train_anomaly_share": float(fit_on.y_bt.mean())}
