"""NCAD's training-time data augmentations, on device, label-aware.

All three act on a batch ``x_btc [B, T, C]`` with per-step labels ``y_bt [B, T]``
(float32, possibly soft after mixup) and return new ``(x_btc, y_bt)`` of the same
shapes. They are pure jax functions of a key, so NCAD's sampler runs them inside
the jitted, fused training scan.

* :func:`inject_point_outliers` (NCAD's "pois"): adds spikes at random steps and
  labels exactly those steps 1.
* :func:`contextual_outlier_exposure` (COE): replaces a random segment of a series
  by the same time steps of another series of the batch and labels the segment 1.
* :func:`window_mixup`: convex mix of two series and of their labels
  (``jtsgen.augment.mixup`` with soft labels), applied to a random subset.

NCAD draws these per (context, suspect) window; here they act on whole series,
from which every window is then cut, so a window is labelled anomalous exactly
when its suspect part holds a labelled step (see :mod:`jtsgen.detect.ncad`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jtsgen.augment import augment_batch, mixup, random_partners


def inject_point_outliers(
    key: jax.Array,
    x_btc: jax.Array,
    y_bt: jax.Array,
    *,
    prob: float,
    n_points: int,
    magnitude: tuple[float, float],
) -> tuple[jax.Array, jax.Array]:
    """Adds up to ``n_points`` spikes per series; labels the spiked steps 1.

    Each of the ``n_points`` candidate spikes of a series is kept with probability
    ``prob``; its step is uniform in ``[0, T)``; its size is ``U[magnitude] * std``
    of that series and channel (floored at 1e-3), with one sign per series, so
    spikes that land on the same step add up and never cancel. Every spiked step
    (in all channels) gets label 1; all other labels are unchanged.
    """
    batch, length, channels = x_btc.shape
    k_keep, k_pos, k_mag, k_sign = jax.random.split(key, 4)
    keep_bn = jax.random.bernoulli(k_keep, prob, (batch, n_points))
    pos_bn = jax.random.randint(k_pos, (batch, n_points), 0, length)
    hit_bnt = (pos_bn[:, :, None] == jnp.arange(length)) & keep_bn[:, :, None]
    lo, hi = magnitude
    mag_bnc = jax.random.uniform(k_mag, (batch, n_points, channels), jnp.float32, lo, hi)
    sign_b = jnp.where(jax.random.bernoulli(k_sign, 0.5, (batch,)), 1.0, -1.0)
    scale_bc = jnp.maximum(jnp.std(x_btc, axis=1), 1e-3)
    spike_bnc = mag_bnc * (sign_b[:, None] * scale_bc)[:, None, :]
    delta_btc = jnp.einsum("bnt,bnc->btc", hit_bnt.astype(jnp.float32), spike_bnc)
    hit_bt = jnp.any(hit_bnt, axis=1)
    return x_btc + delta_btc, jnp.where(hit_bt, 1.0, y_bt).astype(y_bt.dtype)


def contextual_outlier_exposure(
    key: jax.Array,
    x_btc: jax.Array,
    y_bt: jax.Array,
    *,
    prob: float,
    length: tuple[int, int],
) -> tuple[jax.Array, jax.Array]:
    """With probability ``prob`` per series, swaps in a segment of another series.

    The segment length is uniform in ``length`` (inclusive), its start uniform
    among the positions where it fits; the values at those steps are taken from
    a random other series of the batch (same steps, time stays aligned) and the
    segment's labels are set to 1. Outside the segment nothing changes.
    """
    batch, num_time, _ = x_btc.shape
    k_partner, k_keep, k_len, k_start = jax.random.split(key, 4)
    partner_b = random_partners(k_partner, batch)
    keep_b = jax.random.bernoulli(k_keep, prob, (batch,))
    lo, hi = min(length[0], num_time), min(length[1], num_time)
    len_b = jax.random.randint(k_len, (batch,), lo, hi + 1)
    start_b = jax.random.randint(k_start, (batch,), 0, num_time - len_b + 1)
    t = jnp.arange(num_time)
    inside_bt = keep_b[:, None] & (t >= start_b[:, None]) & (t < (start_b + len_b)[:, None])
    x_out = jnp.where(inside_bt[:, :, None], x_btc[partner_b], x_btc)
    y_out = jnp.where(inside_bt, 1.0, y_bt).astype(y_bt.dtype)
    return x_out, y_out


def window_mixup(
    key: jax.Array,
    x_btc: jax.Array,
    y_bt: jax.Array,
    *,
    prob: float,
    alpha: float,
) -> tuple[jax.Array, jax.Array]:
    """Mixup (``lam ~ Beta(alpha, alpha)``) of a random ``prob`` share of the batch.

    A chosen series becomes ``lam * x + (1 - lam) * x_partner`` with the soft label
    ``lam * y + (1 - lam) * y_partner`` (same ``lam`` and partner for values and
    labels, clipped to [0, 1] against float rounding); the others are returned
    unchanged. Labels must be floating.
    """
    k_mix, k_keep = jax.random.split(key)
    x_mix, y_mix = augment_batch(mixup, k_mix, x_btc, y_bt, alpha=alpha)
    keep_b = jax.random.bernoulli(k_keep, prob, (x_btc.shape[0],))
    x_out = jnp.where(keep_b[:, None, None], x_mix, x_btc)
    y_mix = jnp.clip(y_mix, 0.0, 1.0)  # float rounding of lam*y + (1-lam)*y2
    return x_out, jnp.where(keep_b[:, None], y_mix, y_bt)
