"""Counter-based sampling noise: standard normal, reproducible, uncorrelated."""

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from jtsgen.nn.noise import (
    counter_bits,
    counter_normal,
    counter_normal_steps,
    element_hash,
    seed_from_key,
)

SEED = seed_from_key(jax.random.key(0))


def test_noise_is_standard_normal():
    z = np.asarray(counter_normal(SEED, 3, (200, 500)))
    assert z.dtype == np.float32 and np.all(np.isfinite(z))
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1.0) < 0.01
    assert stats.kstest(z.ravel()[:20000], "norm").pvalue > 1e-3


def test_same_seed_and_step_repeat_and_anything_else_differs():
    a = counter_normal(SEED, 5, (64,))
    np.testing.assert_array_equal(a, counter_normal(SEED, 5, (64,)))
    assert not np.allclose(a, counter_normal(SEED, 6, (64,)))
    other = seed_from_key(jax.random.key(1))
    assert not np.allclose(a, counter_normal(other, 5, (64,)))


def test_steps_and_neighbouring_elements_are_uncorrelated():
    z = np.stack([np.asarray(counter_normal(SEED, t, (4000,))) for t in range(20)])
    corr = np.corrcoef(z)  # [20, 20] across steps
    off = corr[~np.eye(20, dtype=bool)]
    assert np.abs(off).max() < 0.07  # |r| of independent series of 4000: ~0.016 sd
    lag1 = np.corrcoef(z[:, :-1].ravel(), z[:, 1:].ravel())[0, 1]
    assert abs(lag1) < 0.02


def test_bits_are_a_bijection_of_the_counter_within_a_step():
    bits = np.asarray(counter_bits(SEED, 0, (1 << 16,)))
    assert len(np.unique(bits)) == 1 << 16


def test_step_may_be_traced():
    f = jax.jit(lambda t: counter_normal(SEED, t, (8,)))
    np.testing.assert_array_equal(f(jnp.int32(4)), counter_normal(SEED, 4, (8,)))


def test_many_steps_at_once_are_the_single_steps():
    shape = (3, 50)
    steps = jnp.arange(6, dtype=jnp.int32)
    block = counter_normal_steps(SEED, steps, shape)
    assert block.shape == (6, *shape)
    for t in range(6):
        np.testing.assert_allclose(block[t], counter_normal(SEED, t, shape), rtol=1e-6,
                                   atol=1e-6)


def test_a_precomputed_element_hash_gives_the_same_bits():
    element = element_hash(SEED, (4, 8))
    np.testing.assert_array_equal(counter_bits(SEED, 9, (4, 8), element),
                                  counter_bits(SEED, 9, (4, 8)))
