"""Classic label-preserving time series augmentations (Um et al. 2017).

Every augmenter here is a pure function ``(key, x_tc, y_t, **params) ->
(x'_tc, y'_t)`` on ONE series ``x_tc`` of shape ``[time, channels]`` (floating)
with per-timestep labels ``y_t`` of shape ``[time]`` ({0, 1}, float32 preferred).
Shapes and dtypes are preserved and all shapes are static. Every function is
already wrapped in ``jax.jit`` with its keyword parameters static (so they must
be hashable Python scalars; each new value compiles once), nests in other
jitted code, and ``jax.vmap``-s over a batch; see
:func:`jtsgen.augment.augment_batch`.

Label handling: scaling and jitter change values only, so labels are returned
unchanged; permutation and time warping move values in time, and labels move
with them (see each docstring). :func:`combination` is the paper's
"Combination" baseline (Supp. 6.5): one of the four picked at random per series.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from jax import lax

from jtsgen.data.validate import check_nonnegative, check_positive, check_series_tc
from jtsgen.errors import InputError

__all__ = ["combination", "jitter", "permutation", "scaling", "time_warp", "warp_positions"]

# Warped positions this close to an integer are snapped to it, so that rounding
# noise never yields a negligible interpolation weight (and a spurious label).
_SNAP = 1e-3


@functools.partial(jax.jit, static_argnames=("sigma",))
def scaling(key: jax.Array, x_tc: jax.Array, y_t: jax.Array, sigma: float = 0.1):
    """Multiplies each channel by its own factor drawn from N(1, sigma²).

    Returns ``(x_tc * factor_1c, y_t)``: labels are unchanged.
    """
    x_tc, y_t = check_series_tc(x_tc, y_t)
    check_nonnegative("sigma", sigma)
    factor_1c = 1.0 + sigma * jax.random.normal(key, (1, x_tc.shape[1]), x_tc.dtype)
    return x_tc * factor_1c, y_t


@functools.partial(jax.jit, static_argnames=("sigma",))
def jitter(key: jax.Array, x_tc: jax.Array, y_t: jax.Array, sigma: float = 0.03):
    """Adds i.i.d. Gaussian noise N(0, sigma²) to every value; labels unchanged."""
    x_tc, y_t = check_series_tc(x_tc, y_t)
    check_nonnegative("sigma", sigma)
    noise_tc = sigma * jax.random.normal(key, x_tc.shape, x_tc.dtype)
    return x_tc + noise_tc, y_t


@functools.partial(jax.jit, static_argnames=("num_segments", "random_cuts"))
def permutation(
    key: jax.Array,
    x_tc: jax.Array,
    y_t: jax.Array,
    num_segments: int = 5,
    random_cuts: bool = True,
):
    """Cuts the series into ``num_segments`` contiguous pieces and shuffles them.

    Cut points are distinct random positions (``random_cuts=True``) or equally
    spaced. Every output timestep is a copy of one input timestep (values of
    all channels together with its label), so each label travels with its
    values: no anomalous point is lost or invented. Note that the junctions
    between pieces may create jumps that are not labelled.

    Args:
      key: PRNG key.
      x_tc: series ``[time, channels]``.
      y_t: labels ``[time]``.
      num_segments: number of pieces, 1 <= num_segments <= time (static).
      random_cuts: random (True) or equal-length (False) pieces (static).

    Returns:
      ``(x'_tc, y'_t)`` with ``x'[t] = x[src[t]]`` and ``y'[t] = y[src[t]]``.
    """
    x_tc, y_t = check_series_tc(x_tc, y_t)
    num_time = x_tc.shape[0]
    if not isinstance(num_segments, int) or not 1 <= num_segments <= num_time:
        raise InputError("num_segments", f"must be an int in [1, {num_time}], got {num_segments}")
    # One draw for everything (cheaper to compile): cut-point and piece-order priorities.
    u = jax.random.uniform(key, (num_time - 1 + num_segments,))
    if random_cuts:  # a uniformly random subset of the num_time - 1 possible cut points
        cuts = jnp.sort(jnp.argsort(u[: num_time - 1])[: num_segments - 1]) + 1
    else:
        cuts = (jnp.arange(1, num_segments) * num_time) // num_segments
    starts_s = jnp.concatenate([jnp.zeros(1, jnp.int32), cuts.astype(jnp.int32)])
    lengths_s = jnp.diff(jnp.append(starts_s, num_time))
    order_s = jnp.argsort(u[num_time - 1 :])
    new_lengths_s = lengths_s[order_s]
    new_starts_s = jnp.cumsum(new_lengths_s) - new_lengths_s
    t = jnp.arange(num_time)
    piece_t = jnp.sum(new_starts_s[None, :] <= t[:, None], axis=1) - 1
    src_t = starts_s[order_s[piece_t]] + (t - new_starts_s[piece_t])
    return x_tc[src_t], y_t[src_t]


@functools.partial(jax.jit, static_argnames=("num_time", "sigma", "num_knots", "max_ratio"))
def warp_positions(
    key: jax.Array, num_time: int, sigma: float = 0.2, num_knots: int = 4, max_ratio: float = 1.9
) -> jax.Array:
    """Random smooth, strictly increasing map of output steps to source positions.

    Local speeds are drawn as N(1, sigma²) at ``num_knots + 2`` equally spaced
    knots, interpolated linearly (so the warp, their cumulative sum, is a C¹
    piecewise quadratic curve), clipped to ``[1/sqrt(max_ratio), sqrt(max_ratio)]``
    and rescaled so that the warp runs from 0 to ``num_time - 1``. Positions
    within 1e-3 of an integer are snapped to it. Consecutive positions are
    therefore less than ``max_ratio + 0.002`` (< 2) apart.

    Returns:
      ``tau_t``: float32 ``[num_time]`` source positions, ``tau[0] = 0``,
      ``tau[-1] = num_time - 1``.
    """
    if not isinstance(num_time, int) or num_time < 2:
        raise InputError("num_time", f"must be an int >= 2, got {num_time}")
    check_nonnegative("sigma", sigma)
    if not isinstance(num_knots, int) or num_knots < 0:
        raise InputError("num_knots", f"must be an int >= 0, got {num_knots}")
    if not 1.0 < max_ratio <= 1.99:
        raise InputError("max_ratio", f"must be in (1, 1.99] so no point is skipped: {max_ratio}")
    num_steps = num_time - 1
    knot_speed = 1.0 + sigma * jax.random.normal(key, (num_knots + 2,), jnp.float32)
    # Linear interpolation between equally spaced knots at steps 0 .. num_steps - 1.
    pos = jnp.arange(num_steps, dtype=jnp.float32) * ((num_knots + 1) / max(num_steps - 1, 1))
    k0 = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, num_knots)
    frac = pos - k0
    speed = (1.0 - frac) * knot_speed[k0] + frac * knot_speed[k0 + 1]
    bound = math.sqrt(max_ratio)
    speed = jnp.clip(speed, 1.0 / bound, bound)
    steps = speed * (num_steps / jnp.sum(speed))
    tau_t = jnp.concatenate([jnp.zeros(1, jnp.float32), jnp.cumsum(steps)])
    nearest_t = jnp.round(tau_t)
    tau_t = jnp.where(jnp.abs(tau_t - nearest_t) < _SNAP, nearest_t, tau_t)
    return jnp.clip(tau_t, 0.0, float(num_steps))


@functools.partial(jax.jit, static_argnames=("sigma", "num_knots", "max_ratio"))
def time_warp(
    key: jax.Array,
    x_tc: jax.Array,
    y_t: jax.Array,
    sigma: float = 0.2,
    num_knots: int = 4,
    max_ratio: float = 1.9,
):
    """Smoothly speeds up and slows down time (one warp shared by all channels).

    The source position ``tau[t]`` of each output step comes from
    :func:`warp_positions`; values are linearly interpolated between the two
    neighbouring source steps ``i = floor(tau)`` and ``i + 1`` with weights
    ``1 - w`` and ``w``.

    Labels: ``y'[t]`` is the maximum label over the neighbours that carry a
    nonzero weight (at least 1e-3, see :func:`warp_positions`), i.e. ``y'[t] = 1``
    exactly when ``x'[t]`` receives a contribution from an anomalous source
    point. Hence no label is invented (a labelled output always contains
    anomalous signal), and because consecutive positions are less than 2
    apart every source point has a nonzero weight somewhere, so no anomalous
    point is lost.
    A stretched point anomaly may cover up to three output steps; the outer
    ones contain only part of its amplitude.

    Args:
      key: PRNG key.
      x_tc: series ``[time, channels]``, time >= 2.
      y_t: labels ``[time]``.
      sigma: standard deviation of the knot speeds.
      num_knots: interior knots of the speed curve (static).
      max_ratio: bound on the fastest-to-slowest speed ratio, in (1, 1.99] (static).
    """
    x_tc, y_t = check_series_tc(x_tc, y_t)
    num_time = x_tc.shape[0]
    if num_time < 2:
        raise InputError("x_tc", "time warping needs at least 2 timesteps")
    tau_t = warp_positions(key, num_time, sigma, num_knots, max_ratio)
    i0_t = jnp.clip(jnp.floor(tau_t).astype(jnp.int32), 0, num_time - 2)
    w_t = tau_t - i0_t
    w_t1 = w_t[:, None].astype(x_tc.dtype)
    x_out = (1.0 - w_t1) * x_tc[i0_t] + w_t1 * x_tc[i0_t + 1]
    zero = jnp.zeros((), y_t.dtype)
    y_out = jnp.maximum(
        jnp.where(w_t < 1.0, y_t[i0_t], zero), jnp.where(w_t > 0.0, y_t[i0_t + 1], zero)
    )
    return x_out, y_out


@functools.partial(
    jax.jit, static_argnames=("scaling_sigma", "jitter_sigma", "num_segments", "warp_sigma")
)
def combination(
    key: jax.Array,
    x_tc: jax.Array,
    y_t: jax.Array,
    scaling_sigma: float = 0.1,
    jitter_sigma: float = 0.03,
    num_segments: int = 5,
    warp_sigma: float = 0.2,
):
    """The paper's "Combination" baseline: one classic augmenter chosen per series.

    Picks uniformly among :func:`scaling`, :func:`jitter`, :func:`permutation`
    and :func:`time_warp` with ``lax.switch`` (under ``vmap`` each series gets
    its own choice) and applies it with the given parameters. Labels are
    handled by the chosen augmenter.
    """
    x_tc, y_t = check_series_tc(x_tc, y_t)
    check_positive("num_segments", num_segments)
    num_segments = min(num_segments, x_tc.shape[0])
    choice_key, aug_key = jax.random.split(key)
    branches = [
        lambda k, x, y: scaling(k, x, y, sigma=scaling_sigma),
        lambda k, x, y: jitter(k, x, y, sigma=jitter_sigma),
        lambda k, x, y: permutation(k, x, y, num_segments=num_segments),
        lambda k, x, y: time_warp(k, x, y, sigma=warp_sigma) if x.shape[0] >= 2 else (x, y),
    ]
    index = jax.random.randint(choice_key, (), 0, len(branches))
    return lax.switch(index, branches, aug_key, x_tc, y_t)
