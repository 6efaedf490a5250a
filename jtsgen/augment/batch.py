"""Apply a single-series augmenter to a batch: one key per series, ``jax.vmap``."""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp

from jtsgen.errors import InputError

__all__ = ["augment_batch", "random_partners"]


@functools.partial(jax.jit, static_argnames="batch_size")
def random_partners(key: jax.Array, batch_size: int) -> jax.Array:
    """For each series of a batch, a uniformly random *other* series index ``[batch]``.

    With a batch of one the only partner is the series itself.
    """
    if batch_size == 1:
        return jnp.zeros(1, jnp.int32)
    i = jnp.arange(batch_size, dtype=jnp.int32)
    draw = jax.random.randint(key, (batch_size,), 0, batch_size - 1, dtype=jnp.int32)
    return draw + (draw >= i)  # skip self: uniform over the other batch_size - 1 series


def augment_batch(fn: Callable, key: jax.Array, x_btc: jax.Array, y_bt: jax.Array, **params):
    """Augments every series of a batch with ``fn`` and its own random key.

    Args:
      fn: a single-series augmenter ``(key, x_tc, y_t, **params)``, or a pairwise
        one ``(key, x_tc, y_t, x2_tc, y2_t, **params)`` (marked with
        ``fn.pairwise = True``, e.g. mixup, cutmix), which is given a random
        other series of the batch (and its labels) as partner.
      key: PRNG key; ``split(key, batch + 1)`` gives the partner key, then one key
        per series.
      x_btc: batch ``[batch, time, channels]``.
      y_bt: labels ``[batch, time]``.
      **params: static keyword parameters passed to ``fn``.

    Returns:
      ``(x'_btc, y'_bt)``. Jit with e.g. ``jax.jit(functools.partial(augment_batch, fn))``.
    """
    x_btc = jnp.asarray(x_btc)
    y_bt = jnp.asarray(y_bt)
    if x_btc.ndim != 3:
        raise InputError("x_btc", f"must be [batch, time, channels], got shape {x_btc.shape}")
    if y_bt.shape != x_btc.shape[:2]:
        raise InputError("y_bt", f"must be [batch, time] = {x_btc.shape[:2]}, got {y_bt.shape}")
    batch_size = x_btc.shape[0]
    if batch_size < 1:
        raise InputError("x_btc", "batch is empty")
    one = functools.partial(fn, **params)
    keys = jax.random.split(key, batch_size + 1)
    partner_key, keys_b = keys[0], keys[1:]
    if getattr(fn, "pairwise", False):
        partner_b = random_partners(partner_key, batch_size)
        return jax.vmap(one)(keys_b, x_btc, y_bt, x_btc[partner_b], y_bt[partner_b])
    return jax.vmap(one)(keys_b, x_btc, y_bt)
