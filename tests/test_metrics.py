"""Specification of the point-wise metrics in jtsgen.metrics."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.metrics import precision_recall_fscore_support

from jtsgen.errors import InputError
from jtsgen.metrics import (
    best_f1_threshold,
    f1_at_threshold,
    point_adjust,
    point_adjusted_prf,
    point_prf,
)


def _close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=1e-6, atol=1e-7)


# --- point_prf ------------------------------------------------------------------------------


def test_point_prf_hand_computed():
    y_true = [1, 1, 0, 0, 1, 0]
    y_pred = [1, 0, 1, 1, 1, 0]
    # TP = 2 (idx 0, 4), FP = 2 (idx 2, 3), FN = 1 (idx 1)
    p, r, f1 = point_prf(y_true, y_pred)
    _close(p, 2 / 4)
    _close(r, 2 / 3)
    _close(f1, 2 * 2 / (2 * 2 + 2 + 1))


def test_point_prf_flattens_any_shape_and_accepts_bool_int_float_numpy():
    rng = np.random.default_rng(0)
    y_true = rng.random((3, 5, 7)) < 0.3
    y_pred = rng.random((3, 5, 7)) < 0.3
    flat = point_prf(y_true.reshape(-1), y_pred.reshape(-1))
    for t, p in [
        (y_true, y_pred),
        (y_true.astype(np.int32), y_pred.astype(np.int64)),
        (jnp.asarray(y_true, jnp.float32), jnp.asarray(y_pred, jnp.float32)),
    ]:
        for a, b in zip(point_prf(t, p), flat, strict=True):
            _close(a, float(b))


@pytest.mark.parametrize(
    "y_true, y_pred, expected",
    [
        ([0, 0, 0, 0], [0, 1, 1, 0], (0.0, 0.0, 0.0)),  # no true positives at all
        ([0, 0, 0, 0], [0, 0, 0, 0], (0.0, 0.0, 0.0)),  # nothing anywhere: 0/0 := 0
        ([1, 0, 1, 0], [0, 0, 0, 0], (0.0, 0.0, 0.0)),  # nothing predicted: precision 0
        ([1, 1, 1, 1], [1, 1, 1, 1], (1.0, 1.0, 1.0)),  # all positive, all found
        ([1, 1, 1, 1], [1, 1, 0, 0], (1.0, 0.5, 2 / 3)),  # all positive, half found
        ([0, 1, 0, 0], [1, 1, 1, 1], (0.25, 1.0, 0.4)),  # everything predicted
    ],
)
def test_point_prf_edge_cases(y_true, y_pred, expected):
    for got, want in zip(point_prf(y_true, y_pred), expected, strict=True):
        _close(got, want)


@pytest.mark.parametrize("seed, rate", [(0, 0.5), (1, 0.1), (2, 0.02), (3, 0.9)])
def test_point_prf_matches_sklearn(seed, rate):
    rng = np.random.default_rng(seed)
    y_true = (rng.random(500) < rate).astype(int)
    y_pred = (rng.random(500) < rate).astype(int)
    want = precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )[:3]
    for got, w in zip(point_prf(y_true, y_pred), want, strict=True):
        _close(got, w)


def test_point_prf_is_jittable():
    y_true = jnp.array([1.0, 0.0, 1.0, 1.0])
    y_pred = jnp.array([1.0, 1.0, 0.0, 1.0])
    for a, b in zip(jax.jit(point_prf)(y_true, y_pred), point_prf(y_true, y_pred), strict=True):
        _close(a, float(b))


def test_point_prf_rejects_mismatched_shapes():
    with pytest.raises(InputError, match="y_pred"):
        point_prf(np.zeros(5), np.zeros(6))
    with pytest.raises(InputError, match="empty"):
        point_prf(np.zeros(0), np.zeros(0))


# --- point adjustment (extra metric) -----------------------------------------------------


Y_TRUE_BT = np.array([[0, 1, 1, 1, 0, 0, 1, 1], [1, 1, 0, 0, 0, 1, 0, 0]])
Y_PRED_BT = np.array([[0, 0, 1, 0, 0, 1, 0, 1], [0, 0, 0, 0, 1, 0, 0, 0]])


def test_point_adjust_hand_example():
    # Row 0: segment 1..3 is hit at 2 -> all of it counts; segment 6..7 is hit at 7.
    # Row 1: segment 0..1 is NOT hit; it must not inherit row 0's hit at its last column.
    want = np.array([[0, 1, 1, 1, 0, 1, 1, 1], [0, 0, 0, 0, 1, 0, 0, 0]], bool)
    np.testing.assert_array_equal(np.asarray(point_adjust(Y_TRUE_BT, Y_PRED_BT)), want)
    # TP = 5, FP = 2 (row 0 idx 5, row 1 idx 4), FN = 3 (row 1 idx 0, 1, 5)
    p, r, f1 = point_adjusted_prf(Y_TRUE_BT, Y_PRED_BT)
    _close(p, 5 / 7)
    _close(r, 5 / 8)
    _close(f1, 10 / (10 + 2 + 3))
    # The plain point-wise scores are lower: TP = 2, FP = 2, FN = 6.
    _close(point_prf(Y_TRUE_BT, Y_PRED_BT)[2], 4 / (4 + 2 + 6))


def _point_adjust_reference(y_true_bt, y_pred_bt):
    out = y_pred_bt.astype(bool).copy()
    for b in range(y_true_bt.shape[0]):
        t = 0
        while t < y_true_bt.shape[1]:
            if y_true_bt[b, t]:
                end = t
                while end < y_true_bt.shape[1] and y_true_bt[b, end]:
                    end += 1
                if out[b, t:end].any():
                    out[b, t:end] = True
                t = end
            else:
                t += 1
    return out


def test_point_adjust_matches_loop_reference_and_never_lowers_recall():
    rng = np.random.default_rng(7)
    y_true = rng.random((6, 50)) < 0.3
    y_pred = rng.random((6, 50)) < 0.1
    adjusted = np.asarray(jax.jit(point_adjust)(y_true, y_pred))
    np.testing.assert_array_equal(adjusted, _point_adjust_reference(y_true, y_pred))
    assert point_adjusted_prf(y_true, y_pred)[1] >= point_prf(y_true, y_pred)[1]


def test_point_adjust_on_a_single_series():
    p, r, f1 = point_adjusted_prf([0, 1, 1, 1, 0], [0, 0, 0, 1, 0])
    for got in (p, r, f1):
        _close(got, 1.0)


# --- thresholds ----------------------------------------------------------------------------


def test_f1_at_threshold_is_inclusive():
    scores = np.array([0.1, 0.4, 0.35, 0.8])
    y_true = np.array([0, 0, 1, 1])
    _close(f1_at_threshold(scores, y_true, 0.35), 2 * 2 / (2 * 2 + 1 + 0))  # preds 0,1,1,1
    _close(f1_at_threshold(scores, y_true, 0.4), 2 * 1 / (2 * 1 + 1 + 1))  # preds 0,1,0,1
    _close(f1_at_threshold(scores, y_true, 0.9), 0.0)  # nothing predicted


def test_best_threshold_on_separable_scores_gives_f1_one():
    rng = np.random.default_rng(1)
    y_true = (rng.random((4, 60)) < 0.1).astype(np.float32)
    scores = np.where(y_true > 0, 2.0 + rng.random(y_true.shape), rng.random(y_true.shape))
    threshold, f1, p, r = best_f1_threshold(scores, y_true)
    for got in (f1, p, r):
        _close(got, 1.0)
    assert scores[y_true == 0].max() < threshold <= scores[y_true == 1].min()
    _close(f1_at_threshold(scores, y_true, threshold), 1.0)


def _brute_force_best_f1(scores, y_true):
    best = 0.0
    for c in np.unique(scores):
        best = max(best, precision_recall_fscore_support(
            y_true, scores >= c, average="binary", zero_division=0)[2])
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_best_threshold_is_exact_with_ties(seed):
    rng = np.random.default_rng(seed)
    y_true = (rng.random(300) < 0.2).astype(int)
    scores = np.round(rng.random(300) + 0.5 * y_true, 1).astype(np.float32)  # many ties
    threshold, f1, p, r = best_f1_threshold(scores, y_true)
    _close(f1, _brute_force_best_f1(scores, y_true))
    assert threshold in scores
    want_p, want_r, want_f1, _ = precision_recall_fscore_support(
        y_true, scores >= float(threshold), average="binary", zero_division=0)
    for got, want in zip((p, r, f1), (want_p, want_r, want_f1), strict=True):
        _close(got, want)


def test_best_threshold_with_subsampled_candidates():
    rng = np.random.default_rng(3)
    y_true = (rng.random(1000) < 0.1).astype(int)
    scores = rng.random(1000) + 0.7 * y_true
    exact = best_f1_threshold(scores, y_true)
    coarse = best_f1_threshold(scores, y_true, num_thresholds=16)
    assert coarse[1] <= exact[1] + 1e-7
    assert np.isclose(scores, float(coarse[0]), atol=1e-6).any()  # candidates are scores
    _close(coarse[1], f1_at_threshold(scores, y_true, coarse[0]))
    # As many candidates as (distinct) scores: the exact optimum again.
    _close(best_f1_threshold(scores, y_true, num_thresholds=1000)[1], float(exact[1]))


def test_best_threshold_edge_cases_and_jit():
    scores = np.array([0.3, 0.1, 0.7, 0.5])
    _close(best_f1_threshold(scores, np.zeros(4))[1], 0.0)  # no positives: F1 is 0
    threshold, f1, _, _ = best_f1_threshold(scores, np.ones(4))  # all positive
    _close(f1, 1.0)
    _close(threshold, 0.1)
    jitted = jax.jit(best_f1_threshold, static_argnames="num_thresholds")
    for a, b in zip(jitted(scores, np.array([0, 0, 1, 1])),
                    best_f1_threshold(scores, np.array([0, 0, 1, 1])), strict=True):
        _close(a, float(b))


def test_best_threshold_rejects_bad_input():
    with pytest.raises(InputError, match="scores"):
        best_f1_threshold(np.array([0.1, np.nan]), np.array([0, 1]))
    with pytest.raises(InputError, match="num_thresholds"):
        best_f1_threshold(np.array([0.1, 0.2]), np.array([0, 1]), num_thresholds=0)
    with pytest.raises(InputError, match="y_true"):
        best_f1_threshold(np.array([0.1, 0.2]), np.array([0, 1, 1]))
