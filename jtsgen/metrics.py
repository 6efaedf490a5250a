"""Point-wise anomaly detection metrics: precision, recall, F1 and threshold search.

The C-GATS paper (Supp. 6.4) reports *point-based* precision, recall and F1:
every timestep is one binary decision, compared with its label. Point-adjusted
scores (a whole true segment counts as detected once any of its points is) are
known to overestimate detection quality; :func:`point_adjusted_prf` is offered
only as an extra, clearly labelled column.

Conventions shared by every function here:

* Labels and predictions may have any shape (``y_true`` and ``y_pred`` must
  match); values are binarised as ``value > 0.5``, so bool, int {0, 1} and
  float {0, 1} arrays all work. Scores are thresholded as ``score >= threshold``.
* 0/0 is defined as 0, as ``sklearn``'s ``zero_division=0``: precision is 0 when
  nothing is predicted positive, recall is 0 when there are no true positives
  in the labels, and F1 is 0 when precision + recall is 0. Hence with no
  anomalies in ``y_true`` every metric is 0, whatever is predicted.
* Everything is vectorised JAX (no Python loop over points, segments or
  thresholds) and can be wrapped in ``jax.jit``; NumPy inputs are accepted.
  Shape and finiteness checks raise :class:`~jtsgen.errors.InputError` on
  concrete (non-traced) inputs.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.errors import InputError

__all__ = [
    "best_f1_threshold",
    "f1_at_threshold",
    "point_adjust",
    "point_adjusted_prf",
    "point_prf",
]


def _as_array(name: str, value) -> jax.Array:
    try:
        arr = jnp.asarray(value)
    except (TypeError, ValueError) as err:
        raise InputError(name, f"cannot be read as an array ({err})") from None
    if arr.size == 0:
        raise InputError(name, "is empty")
    return arr


def _check_same_shape(name_a: str, a: jax.Array, name_b: str, b: jax.Array) -> None:
    if a.shape != b.shape:
        raise InputError(name_b, f"has shape {b.shape} but {name_a} has shape {a.shape}")


def _check_finite(name: str, arr: jax.Array) -> None:
    """Rejects NaN/inf scores when the array is concrete (skipped under tracing)."""
    if isinstance(arr, jax.core.Tracer) or not jnp.issubdtype(arr.dtype, jnp.floating):
        return
    if not bool(np.all(np.isfinite(np.asarray(arr)))):
        raise InputError(name, "contains NaN or infinite values")


def _binary(arr: jax.Array) -> jax.Array:
    return jnp.asarray(arr, jnp.float32) > 0.5


def _prf_from_counts(tp, fp, fn):
    """Precision, recall, F1 (float32) from counts, with 0/0 := 0."""
    tp, fp, fn = (jnp.asarray(c, jnp.float32) for c in (tp, fp, fn))
    precision = jnp.where(tp + fp > 0, tp / jnp.maximum(tp + fp, 1.0), 0.0)
    recall = jnp.where(tp + fn > 0, tp / jnp.maximum(tp + fn, 1.0), 0.0)
    f1 = jnp.where(tp > 0, 2.0 * tp / jnp.maximum(2.0 * tp + fp + fn, 1.0), 0.0)
    return precision, recall, f1


@jax.jit
def _prf_core(true_n: jax.Array, pred_n: jax.Array):
    t, p = _binary(true_n), _binary(pred_n)
    tp = jnp.sum(t & p)
    fp = jnp.sum(~t & p)
    fn = jnp.sum(t & ~p)
    return _prf_from_counts(tp, fp, fn)


def point_prf(y_true, y_pred):
    """Point-wise precision, recall and F1 over all timesteps.

    Args:
      y_true: ground-truth labels, any shape (e.g. ``[batch, time]``), {0, 1}.
      y_pred: predicted labels, same shape as ``y_true``.

    Returns:
      ``(precision, recall, f1)`` as float32 scalars. Conventions: precision = 0
      when nothing is predicted positive; recall = 0 when ``y_true`` has no
      positives; F1 = 0 when both are 0 (F1 = 2TP / (2TP + FP + FN)).
    """
    y_true = _as_array("y_true", y_true)
    y_pred = _as_array("y_pred", y_pred)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    return _prf_core(y_true.reshape(-1), y_pred.reshape(-1))


@jax.jit
def _adjust_core(true_bt: jax.Array, pred_bt: jax.Array) -> jax.Array:
    t, p = _binary(true_bt), _binary(pred_bt)
    prev = jnp.pad(t[:, :-1], ((0, 0), (1, 0)))  # row starts never continue a segment
    starts = (t & ~prev).reshape(-1)
    seg_n = jnp.where(t.reshape(-1), jnp.cumsum(starts), 0)  # 0 = normal point
    hit = jax.ops.segment_max(
        (p & t).reshape(-1).astype(jnp.int32), seg_n, num_segments=seg_n.shape[0] + 1
    )
    adjusted_n = jnp.where(t.reshape(-1), hit[seg_n] > 0, p.reshape(-1))
    return adjusted_n.reshape(p.shape)


def point_adjusted_prf(y_true, y_pred):
    """EXTRA, not the paper's metric: precision, recall, F1 after point adjustment.

    Point adjustment: if any point of a contiguous true anomalous segment is
    predicted positive, every point of that segment counts as predicted
    positive; predictions outside true segments are left as they are. This
    protocol inflates scores (a single hit covers a long segment) and is
    reported only as a labelled extra column.

    Args:
      y_true: labels ``[batch, time]`` (or ``[time]``; any leading axes are
        flattened into the batch). Segments never cross rows.
      y_pred: predictions, same shape.

    Returns:
      ``(precision, recall, f1)`` float32 scalars with the conventions of
      :func:`point_prf`.
    """
    y_true = _as_array("y_true", y_true)
    y_pred = _as_array("y_pred", y_pred)
    _check_same_shape("y_true", y_true, "y_pred", y_pred)
    num_time = y_true.shape[-1] if y_true.ndim else 1
    true_bt = y_true.reshape(-1, num_time)
    adjusted = _adjust_core(true_bt, y_pred.reshape(-1, num_time))
    return _prf_core(true_bt.reshape(-1), adjusted.reshape(-1))


def point_adjust(y_true_bt, y_pred_bt) -> jax.Array:
    """Point-adjusted predictions (bool, shape of ``y_pred_bt``); see :func:`point_adjusted_prf`."""
    y_true_bt = _as_array("y_true", y_true_bt)
    y_pred_bt = _as_array("y_pred", y_pred_bt)
    _check_same_shape("y_true", y_true_bt, "y_pred", y_pred_bt)
    num_time = y_true_bt.shape[-1] if y_true_bt.ndim else 1
    adjusted = _adjust_core(y_true_bt.reshape(-1, num_time), y_pred_bt.reshape(-1, num_time))
    return adjusted.reshape(y_true_bt.shape)


def f1_at_threshold(scores, y_true, threshold) -> jax.Array:
    """Point-wise F1 of the predictions ``scores >= threshold`` (float32 scalar).

    For precision and recall as well use ``point_prf(y_true, scores >= threshold)``.
    """
    scores = _as_array("scores", scores)
    y_true = _as_array("y_true", y_true)
    _check_same_shape("scores", scores, "y_true", y_true)
    _check_finite("scores", scores)
    return _prf_core(y_true.reshape(-1), (scores >= threshold).reshape(-1))[2]


@functools.partial(jax.jit, static_argnames="num_thresholds")
def _best_core(scores_n: jax.Array, true_n: jax.Array, num_thresholds: int | None):
    n = scores_n.shape[0]
    order = jnp.argsort(scores_n)
    sorted_n = scores_n[order]
    pos_sorted = _binary(true_n)[order].astype(jnp.int32)
    pos_below = jnp.concatenate([jnp.zeros(1, jnp.int32), jnp.cumsum(pos_sorted)])  # [n + 1]
    total_pos = pos_below[-1]
    if num_thresholds is None:
        cand_m = sorted_n
    else:
        idx_m = jnp.round(jnp.linspace(0.0, n - 1.0, num_thresholds)).astype(jnp.int32)
        cand_m = sorted_n[idx_m]
    below_m = jnp.searchsorted(sorted_n, cand_m, side="left")  # scores < candidate
    tp = total_pos - pos_below[below_m]
    fp = (n - below_m) - tp
    fn = total_pos - tp
    precision, recall, f1 = _prf_from_counts(tp, fp, fn)
    best = jnp.argmax(f1)  # first maximum = lowest threshold among ties
    return cand_m[best], f1[best], precision[best], recall[best]


def best_f1_threshold(scores, y_true, num_thresholds: int | None = None):
    """Threshold on anomaly scores that maximises point-wise F1, found exactly.

    A point is predicted anomalous when ``score >= threshold``. Candidate
    thresholds are the observed score values: all of them when
    ``num_thresholds`` is None (exact optimum over every distinct decision),
    otherwise ``num_thresholds`` evenly spaced order statistics (quantiles) of
    the scores. Counts for every candidate come from one sort plus cumulative
    sums and a binary search, so the cost is O(n log n) with no loop over
    thresholds, and ties between equal scores are handled exactly.

    Args:
      scores: anomaly scores, any shape; higher means more anomalous.
      y_true: labels of the same shape, {0, 1}.
      num_thresholds: optional number of quantile candidates (static under jit).

    Returns:
      ``(threshold, f1, precision, recall)`` float32 scalars. Among equally good
      candidates the lowest threshold (highest recall) is returned. With no
      positives in ``y_true`` every F1 is 0 and the lowest score is returned.
    """
    scores = _as_array("scores", scores)
    y_true = _as_array("y_true", y_true)
    _check_same_shape("scores", scores, "y_true", y_true)
    _check_finite("scores", scores)
    if num_thresholds is not None:
        if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)):
            raise InputError("num_thresholds", f"must be an int or None, got {num_thresholds!r}")
        if num_thresholds < 1:
            raise InputError("num_thresholds", f"must be at least 1, got {num_thresholds}")
        num_thresholds = int(num_thresholds)
    scores_n = jnp.asarray(scores, jnp.float32).reshape(-1)
    return _best_core(scores_n, y_true.reshape(-1), num_thresholds)
