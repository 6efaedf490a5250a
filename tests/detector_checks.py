"""Checks shared by the learned detectors' specifications."""

from __future__ import annotations

import dataclasses

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


def spiky_windows(n: int, t: int, at: slice) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noise windows ``[n, t, 1]`` with a +4 jump labelled on steps ``at``."""
    x = np.random.default_rng(0).standard_normal((n, t, 1)).astype(np.float32)
    y = np.zeros((n, t), np.float32)
    y[:, at] = 1.0
    x[:, at] += 4.0
    return x, y


def assert_ensemble_is_the_mean_of_its_replicas(fit, config, x_btc, y_bt, *, atol: float):
    """A 3-replica fit from key 0 scores the mean of the 3 single fits from
    ``split(key 0, 3)`` (each replica is that fit, trained in one vmapped program) and
    keeps one loss curve per replica."""
    ensemble = fit(jax.random.key(0), x_btc, y_bt, dataclasses.replace(config, replicas=3))
    alone = [fit(k, x_btc, y_bt, config) for k in jax.random.split(jax.random.key(0), 3)]
    np.testing.assert_allclose(ensemble.score(x_btc),
                               np.mean([f.score(x_btc) for f in alone], axis=0), atol=atol)
    assert ensemble.info["history"]["loss"].shape == (3, config.num_steps)
