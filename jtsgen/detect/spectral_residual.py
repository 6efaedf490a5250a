"""Spectral Residual saliency (Ren et al., KDD 2019, "Time-Series Anomaly Detection
Service at Microsoft"), in pure JAX.

For one series ``x_t`` of length ``T``:

1. extend it by ``extend`` copies of an estimated next point, so that the last real
   points are not at the border of the FFT window: with the ``lookback`` (``m``)
   previous points, ``g = mean_{i=1..m} (x_n - x_{n-i}) / i`` (average gradient) and
   ``x_{n+1} = x_{n-m+1} + g·m``;
2. ``A = |FFT(x)|``, ``P`` = phase, ``L = log A``;
3. ``AL = h_q * L``, a moving average of ``L`` over ``q`` bins (trailing window,
   fewer bins at the start);
4. ``R = L - AL`` (the spectral residual);
5. saliency ``S = |IFFT(exp(R + iP))|``, cropped back to the first ``T`` steps.

Everything is shape-static and vmappable; :func:`saliency_btc` maps over series and
channels. Shapes: ``x_t`` ``[T]``; ``x_btc`` ``[B, T, C]`` -> saliency ``[B, T, C]``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

EPS = 1e-8


def extend_series(x_t: jax.Array, extend: int = 5, lookback: int = 5) -> jax.Array:
    """``[T] -> [T + extend]``: appends ``extend`` copies of the estimated next point."""
    n = x_t.shape[0]
    m = min(lookback, n - 1)
    if extend == 0 or m < 1:
        return jnp.concatenate([x_t, jnp.full((extend,), x_t[-1], x_t.dtype)])
    i = jnp.arange(1, m + 1, dtype=x_t.dtype)
    past = x_t[n - 1 - jnp.arange(1, m + 1)]
    grad = jnp.mean((x_t[-1] - past) / i)
    nxt = x_t[n - m] + grad * m
    return jnp.concatenate([x_t, jnp.full((extend,), nxt, x_t.dtype)])


def trailing_mean(v_n: jax.Array, q: int) -> jax.Array:
    """Mean of ``v[max(0, j-q+1) .. j]`` for every ``j`` (the SR average filter)."""
    c = jnp.cumsum(v_n)
    shifted = jnp.concatenate([jnp.zeros((q,), v_n.dtype), c[:-q]]) if q < v_n.shape[0] else 0.0
    count = jnp.minimum(jnp.arange(1, v_n.shape[0] + 1, dtype=v_n.dtype), q)
    return (c - shifted) / count


def saliency(x_t: jax.Array, q: int = 3, extend: int = 5, lookback: int = 5) -> jax.Array:
    """Spectral Residual saliency map ``[T]`` of one series ``x_t [T]`` (float32)."""
    n = x_t.shape[0]
    xe = extend_series(x_t.astype(jnp.float32), extend, lookback)
    spec = jnp.fft.fft(xe)
    amp = jnp.abs(spec)
    safe = amp > EPS
    log_amp = jnp.log(jnp.where(safe, amp, EPS))
    residual = log_amp - trailing_mean(log_amp, q)
    unit_phase = jnp.where(safe, spec / jnp.where(safe, amp, 1.0), 0.0)  # exp(iP)
    sal = jnp.abs(jnp.fft.ifft(jnp.exp(residual) * unit_phase))
    return sal[:n].astype(jnp.float32)


@functools.partial(jax.jit, static_argnames=("q", "extend", "lookback"))
def saliency_btc(x_btc: jax.Array, q: int = 3, extend: int = 5, lookback: int = 5) -> jax.Array:
    """Saliency of every series and channel: ``[B, T, C] -> [B, T, C]``."""
    per_series = functools.partial(saliency, q=q, extend=extend, lookback=lookback)
    over_channels = jax.vmap(per_series, in_axes=1, out_axes=1)  # [T, C] -> [T, C]
    return jax.vmap(over_channels)(x_btc)


@functools.partial(jax.jit, static_argnames=("q", "extend", "lookback", "z"))
def sr_score_btc(
    x_btc: jax.Array, q: int = 3, extend: int = 5, lookback: int = 5, z: int = 21
) -> jax.Array:
    """The unsupervised SR score ``(S - S̄_z) / S̄_z`` with ``S̄_z`` a trailing mean of
    ``z`` saliency values; ``[B, T, C] -> [B, T, C]``."""
    sal = saliency_btc(x_btc, q, extend, lookback)
    local = jax.vmap(jax.vmap(lambda s: trailing_mean(s, z), in_axes=1, out_axes=1))(sal)
    return (sal - local) / (local + EPS)
