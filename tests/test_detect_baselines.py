"""Specification of the simple baselines: One-liner A/B and Case 1/2/3."""

import dataclasses

import jax
import numpy as np
import pytest

from jtsgen.detect import baselines as bl
from jtsgen.errors import InputError
from jtsgen.metrics import f1_at_threshold, point_prf


def _f1(y, pred):
    return float(point_prf(y, pred)[2])


def _steps(heights=(1.0, 2.0, 0.5, 3.0), length=200, noise=0.01, seed=0):
    """Step functions with the step at a different index per series; label = step index."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, noise, (len(heights), length, 1)).astype(np.float32)
    y = np.zeros((len(heights), length), np.float32)
    for i, h in enumerate(heights):
        at = 40 + 30 * i
        x[i, at:, 0] += h
        y[i, at] = 1.0
    return x, y


def _spiky(n=8, length=300, seed=0):
    """Small noise (|x| < 0.5) with a few ±3 spikes, the only large values."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-0.5, 0.5, (n, length, 1)).astype(np.float32)
    y = (rng.random((n, length)) < 0.02).astype(np.float32)
    x[..., 0] += 3.0 * y * rng.choice([-1.0, 1.0], (n, length))
    return x, y


def test_one_liner_a_finds_a_step_change_exactly():
    # |Δx| is large only at the step index, so the best b separates it perfectly.
    x, y = _steps()
    fitted = bl.fit(jax.random.key(0), x, y, bl.Config(kind="one_liner_a"))
    assert _f1(y, fitted.predict(x)) == 1.0
    np.testing.assert_array_equal(fitted.predict(x), y)
    assert fitted.score(x)[:, 0].max() == 0.0  # Δx_0 := 0


def test_one_liner_a_takes_the_max_over_channels():
    x1, y = _steps()
    quiet = np.zeros_like(x1)
    x = np.concatenate([quiet, x1], axis=-1)  # the step is only in channel 1
    fitted = bl.fit(jax.random.key(0), x, y, bl.Config(kind="one_liner_a"))
    assert _f1(y, fitted.predict(x)) == 1.0


def test_trailing_moments_match_a_loop():
    a = np.random.default_rng(1).random((2, 30, 3)).astype(np.float32)
    k = 4
    mean, std = (np.asarray(v) for v in bl.trailing_moments(a, k))
    for t in range(30):
        past = a[:, max(0, t - k):t]
        want_mean = past.mean(axis=1) if t else np.zeros((2, 3))
        want_std = past.std(axis=1) if t else np.zeros((2, 3))
        np.testing.assert_allclose(mean[:, t], want_mean, atol=1e-5)
        np.testing.assert_allclose(std[:, t], want_std, atol=1e-4)


def test_grid_f1_equals_f1_at_each_threshold():
    rng = np.random.default_rng(2)
    s = rng.normal(size=500).astype(np.float32)
    y = (rng.random(500) < 0.2).astype(np.float32)
    grid = np.linspace(s.min(), s.max(), 17).astype(np.float32)
    got = np.asarray(bl.grid_f1(s, y, grid))
    want = [float(f1_at_threshold(s, y, g)) for g in grid]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_one_liner_b_grid_search_finds_the_step_and_reports_its_choice():
    x, y = _steps()
    cfg = bl.Config(kind="one_liner_b", k_grid=(3, 10), c_grid=(0.0, 2.0))
    fitted = bl.fit(jax.random.key(0), x, y, cfg)
    assert _f1(y, fitted.predict(x)) == 1.0
    assert fitted.info["k"] in (3, 10) and fitted.info["c"] in (0.0, 2.0)
    assert fitted.info["train_f1_kc"].shape == (2, 2)
    assert fitted.threshold == fitted.info["b"]
    one_c_at_a_time = bl.fit(jax.random.key(0), x, y, dataclasses.replace(cfg, c_batch=1))
    np.testing.assert_allclose(one_c_at_a_time.info["train_f1_kc"], fitted.info["train_f1_kc"])


def test_case1_random_scores_give_f1_of_predicting_everything():
    # Precision of a random threshold is p whatever it is, so the best F1 is reached by
    # predicting every step: F1 = 2p / (1 + p).
    rng = np.random.default_rng(3)
    p = 0.1
    y = (rng.random((4, 50_000)) < p).astype(np.float32)
    x = rng.normal(size=(4, 50_000, 1)).astype(np.float32)
    fitted = bl.fit(jax.random.key(1), x, y, bl.Config(kind="case1"))
    rate = float(y.mean())
    expected = 2 * rate / (1 + rate)
    assert abs(_f1(y, fitted.predict(x)) - expected) < 0.01
    assert fitted.threshold < 0.05
    scores = fitted.score(x)
    assert scores.min() >= 0.0 and scores.max() <= 1.0


def test_case2_separates_anomalies_that_are_the_only_large_values():
    x, y = _spiky()
    fitted = bl.fit(jax.random.key(0), x, y, bl.Config(kind="case2"))
    assert _f1(y, fitted.predict(x)) == 1.0
    x_new, y_new = _spiky(seed=5)
    assert _f1(y_new, fitted.predict(x_new)) == 1.0
    np.testing.assert_allclose(fitted.score(x), np.abs(x[..., 0]), rtol=1e-6)


def test_case3_uses_a_fixed_random_lstm_with_small_gaussian_weights():
    x, y = _spiky()
    cfg = bl.Config(kind="case3")
    fitted = bl.fit(jax.random.key(0), x, y, cfg)
    leaves = np.concatenate([np.ravel(v) for v in jax.tree.leaves(fitted.info["params"])])
    assert abs(leaves.std() - 0.02) < 0.002 and abs(leaves.mean()) < 0.002
    assert len(jax.tree.leaves(fitted.info["params"])) == 3 * cfg.lstm_layers + 2
    # untrained: the weights come from the key alone, not from the data or labels
    other = bl.fit(jax.random.key(0), x[::-1].copy(), np.zeros_like(y), cfg)
    for a, b in zip(jax.tree.leaves(fitted.info["params"]),
                    jax.tree.leaves(other.info["params"]), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(fitted.score(x), np.abs(x[..., 0]))  # f(x) is not zero ...
    assert _f1(y, fitted.predict(x)) == 1.0  # ... but small next to the spikes


@pytest.mark.parametrize("kind", bl.KINDS)
def test_bad_input_is_reported_clearly(kind):
    x, y = _steps()
    cfg = bl.Config(kind=kind, k_grid=(5,))
    bad = x.copy()
    bad[1, 7, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        bl.fit(jax.random.key(0), bad, y, cfg)
    with pytest.raises(InputError, match="does not match"):
        bl.fit(jax.random.key(0), x, y[:, :-1], cfg)


def test_window_longer_than_series_and_unknown_kind_are_errors():
    x, y = _steps(length=200)
    with pytest.raises(InputError, match="longer than the series"):
        bl.fit(jax.random.key(0), x, y, bl.Config(kind="one_liner_b", k_grid=(5, 500)))
    with pytest.raises(InputError, match="unknown baseline"):
        bl.fit(jax.random.key(0), x, y, dataclasses.replace(bl.Config(), kind="case9"))
