"""Checks shared by the learned detectors' specifications."""

from __future__ import annotations

import jax
import numpy as np

from jtsgen.detect import baselines
from jtsgen.metrics import point_prf


def scores_and_f1_against_case1(fitted, x_btc, y_bt, n_train: int) -> tuple[float, float]:
    """Scores the test part ``[n_train:]`` and returns ``(F1, F1 of Case 1)``.

    Asserts one finite float32 score per test step; Case 1 (random scores) gets
    its threshold from the same training part ``[:n_train]``.
    """
    x_test, y_test = x_btc[n_train:], y_bt[n_train:]
    scores = fitted.score(x_test)
    assert scores.shape == y_test.shape and scores.dtype == np.float32
    assert np.all(np.isfinite(scores)) and np.isfinite(fitted.threshold)
    f1 = float(point_prf(y_test, fitted.predict(x_test))[2])
    case1 = baselines.fit(jax.random.key(0), x_btc[:n_train], y_bt[:n_train],
                          baselines.Config(kind="case1"))
    return f1, float(point_prf(y_test, case1.predict(x_test))[2])
