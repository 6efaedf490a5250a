"""Counter-based Gaussian noise for long sampling chains.

``jax.random`` (threefry) is the library's source of randomness everywhere, but on
XLA:CPU drawing its bits costs more than a small denoiser's step in a long DDPM
reverse chain (figures in ``docs/performance.md``). Samplers draw
their per-step noise here instead: a stateless hash of ``(seed, step, element
index)`` — two rounds of the MurmurHash3 32-bit finaliser, a bijection on the
counter for a fixed seed — turned into a uniform in (0, 1) on the 2^23 grid and
then into a normal with ``sqrt(2) erfinv(2u - 1)`` (the transform ``jax.random.normal``
uses). It costs a few elementwise ops per number, can be drawn inside the scan
body step by step (no ``[T, ...]`` noise tensor in memory), and is reproducible
from the ``seed`` alone. The seed itself comes from a ``jax.random`` key
(:func:`seed_from_key`), so one root key still determines everything.

Quality: uniform marginals and no detectable correlation across steps or
elements (``tests/test_noise.py``); it is a simulation-grade generator, not a
cryptographic one, and is used only for sampling noise, never for training.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

_GRID = 2.0**-23  # spacing of the uniform grid (the top 23 bits of the hash)


def seed_from_key(key: jax.Array) -> jax.Array:
    """Two ``uint32`` seed words drawn from a ``jax.random`` key: ``[2]`` uint32."""
    return jax.random.bits(key, (2,), jnp.uint32)


def _fmix32(x: jax.Array) -> jax.Array:
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def element_hash(seed_2: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """The step-independent half of :func:`counter_bits`: ``uint32 [prod(shape)]``.

    Compute it once outside a chain's loop and pass it as ``element=`` to every
    step's draw; the bits are the same as without it."""
    idx = jnp.arange(int(np.prod(shape)), dtype=jnp.uint32)
    return _fmix32(idx ^ seed_2[0])


def counter_bits(seed_2: jax.Array, step: jax.Array | int, shape: tuple[int, ...],
                 element: jax.Array | None = None) -> jax.Array:
    """``uint32`` hash bits of shape ``shape`` for one ``step`` of a chain
    (``element``: :func:`element_hash` of ``(seed_2, shape)``, computed here if None)."""
    if element is None:
        element = element_hash(seed_2, shape)
    mixed_step = _fmix32(jnp.asarray(step, jnp.uint32) * jnp.uint32(0x9E3779B9) ^ seed_2[1])
    return _fmix32(element + mixed_step).reshape(shape)


def counter_normal(seed_2: jax.Array, step: jax.Array | int, shape: tuple[int, ...],
                   dtype=jnp.float32, element: jax.Array | None = None) -> jax.Array:
    """Standard-normal noise ``shape`` for chain step ``step`` (traceable ``step``;
    ``element`` as in :func:`counter_bits`)."""
    bits = counter_bits(seed_2, step, shape, element)
    u = (bits >> 9).astype(jnp.float32) * _GRID + 0.5 * _GRID
    return (np.sqrt(2.0) * jax.scipy.special.erfinv(2.0 * u - 1.0)).astype(dtype)


def counter_normal_steps(seed_2: jax.Array, steps: jax.Array, shape: tuple[int, ...],
                         dtype=jnp.float32) -> jax.Array:
    """The noise of many steps in one call: ``[len(steps), *shape]``, row ``i`` equal to
    ``counter_normal(seed_2, steps[i], shape)`` (same bits; the normal transform may
    round differently in the last float bit)."""
    element = element_hash(seed_2, shape)
    return jax.vmap(lambda t: counter_normal(seed_2, t, shape, dtype, element))(steps)
