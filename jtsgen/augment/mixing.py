"""Augmentations that mix two series: Mixup (Zhang et al.) and CutMix (Yun et al.).

Both are pure functions ``(key, x_tc, y_t, x2_tc, y2_t, **params) -> (x'_tc,
y'_t)`` on two series of the same shape ``[time, channels]`` with labels
``[time]``; they are marked ``pairwise = True`` so that
:func:`jtsgen.augment.augment_batch` pairs every series of a batch with a
random partner. Shapes and the dtypes of ``x_tc`` / ``y_t`` are preserved.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from jtsgen.data.validate import check_pair_tc, check_positive
from jtsgen.errors import InputError

__all__ = ["cutmix", "mixup", "sample_mix_ratio"]

_JOHNK_PROPOSALS = 32


@functools.partial(jax.jit, static_argnames="alpha")
def sample_mix_ratio(key: jax.Array, alpha: float) -> jax.Array:
    """Draws ``lam ~ Beta(alpha, alpha)`` as a float32 scalar.

    For ``alpha <= 1`` (mixup's usual range) this uses Johnk's method with a
    fixed batch of 32 proposals ``X = U**(1/alpha), Y = V**(1/alpha)`` (in log
    space), returning ``X / (X + Y)`` for the first one with ``X + Y <= 1``.
    Each proposal is accepted with probability >= 1/2, so all 32 fail with
    probability < 3e-10 (the first proposal is then used). This has no loop
    and compiles much faster than ``jax.random.beta``, which is used for
    ``alpha > 1``.
    """
    check_positive("alpha", alpha)
    if alpha > 1.0:
        return jax.random.beta(key, alpha, alpha, dtype=jnp.float32)
    tiny = jnp.finfo(jnp.float32).tiny
    log_u = jnp.log(jax.random.uniform(key, (2, _JOHNK_PROPOSALS), jnp.float32, tiny, 1.0))
    log_x, log_y = log_u[0] / alpha, log_u[1] / alpha
    log_sum = jnp.logaddexp(log_x, log_y)
    first = jnp.argmax(log_sum <= 0.0)  # 0 when no proposal is accepted
    return jnp.exp(log_x[first] - log_sum[first])


@functools.partial(jax.jit, static_argnames=("alpha", "hard"))
def mixup(
    key: jax.Array,
    x_tc: jax.Array,
    y_t: jax.Array,
    x2_tc: jax.Array,
    y2_t: jax.Array,
    alpha: float = 0.2,
    hard: bool = False,
):
    """Convex combination of two series and of their labels.

    Draws ``lam ~ Beta(alpha, alpha)`` (:func:`sample_mix_ratio`; the paper
    uses alpha = 0.2, so ``lam``
    is usually close to 0 or 1) and returns ``x' = lam * x + (1 - lam) * x2``.

    Labels: the paper mixes "the features and their labels", so by default the
    soft label ``y' = lam * y + (1 - lam) * y2`` in [0, 1] is returned (this
    needs floating labels). With ``hard=True`` the soft label is thresholded,
    ``y' = 1[soft >= 0.5]``: a timestep is anomalous when the dominant series
    is anomalous there (at ``lam = 0.5`` either one suffices). Use hard labels
    for detectors and metrics that need {0, 1} targets.

    Args:
      key: PRNG key.
      x_tc, y_t: first series ``[time, channels]`` and labels ``[time]``.
      x2_tc, y2_t: second series and labels, same shapes.
      alpha: Beta concentration, > 0.
      hard: return {0, 1} labels instead of soft ones (static).
    """
    x_tc, y_t, x2_tc, y2_t = check_pair_tc(x_tc, y_t, x2_tc, y2_t)
    check_positive("alpha", alpha)
    if not hard and not jnp.issubdtype(y_t.dtype, jnp.floating):
        raise InputError("y_t", f"soft mixup labels need a floating dtype, got {y_t.dtype}; "
                         "pass float32 labels or hard=True")
    lam = sample_mix_ratio(key, alpha)
    lam_x = lam.astype(x_tc.dtype)
    x_out = lam_x * x_tc + (1.0 - lam_x) * x2_tc
    soft_t = lam * y_t.astype(jnp.float32) + (1.0 - lam) * y2_t.astype(jnp.float32)
    y_out = (soft_t >= 0.5) if hard else soft_t
    return x_out, y_out.astype(y_t.dtype)


@functools.partial(jax.jit, static_argnames=("min_fraction", "max_fraction"))
def cutmix(
    key: jax.Array,
    x_tc: jax.Array,
    y_t: jax.Array,
    x2_tc: jax.Array,
    y2_t: jax.Array,
    min_fraction: float = 0.0,
    max_fraction: float = 1.0,
):
    """Pastes a random contiguous time segment of the second series into the first.

    The segment covers a fraction of the series drawn uniformly from
    ``[min_fraction, max_fraction]`` (the defaults reproduce CutMix with its
    usual Beta(1, 1) mixing ratio), rounded to whole timesteps; its start is
    uniform among the positions where it fits, and it is taken from the same
    positions of ``x2`` (time stays aligned). Labels are pasted with the
    values: ``y'[t] = y2[t]`` inside the segment and ``y[t]`` outside, so
    every label still describes its value. The jumps at the segment's two
    edges are not labelled (the paper notes that CutMix can thereby create
    anomalies that the labels do not account for).

    Args:
      key: PRNG key.
      x_tc, y_t: receiving series ``[time, channels]`` and labels ``[time]``.
      x2_tc, y2_t: donor series and labels, same shapes.
      min_fraction, max_fraction: range of the pasted fraction, in [0, 1] (static).
    """
    x_tc, y_t, x2_tc, y2_t = check_pair_tc(x_tc, y_t, x2_tc, y2_t)
    if not 0.0 <= min_fraction <= max_fraction <= 1.0:
        raise InputError("min_fraction/max_fraction",
                         f"need 0 <= min <= max <= 1, got {min_fraction}, {max_fraction}")
    num_time = x_tc.shape[0]
    u = jax.random.uniform(key, (2,), jnp.float32)  # one draw: length and start
    fraction = min_fraction + (max_fraction - min_fraction) * u[0]
    length = jnp.round(fraction * num_time).astype(jnp.int32)
    start = jnp.minimum(jnp.floor(u[1] * (num_time - length + 1)).astype(jnp.int32),
                        num_time - length)
    t = jnp.arange(num_time)
    inside_t = (t >= start) & (t < start + length)
    x_out = jnp.where(inside_t[:, None], x2_tc, x_tc)
    y_out = jnp.where(inside_t, y2_t, y_t)
    return x_out, y_out


mixup.pairwise = True
cutmix.pairwise = True
