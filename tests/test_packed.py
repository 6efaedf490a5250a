"""Packed train states: one buffer per dtype crosses the jit boundary, same updates."""

from __future__ import annotations

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.step_variants import PackedLayout, make_packed_train_step
from jtsgen.models import lstm_vae
from jtsgen.train import create_state, make_train_step

SMALL = lstm_vae.LSTMVAEConfig(seq_len=12, hidden=8, latent=2)


def test_layout_round_trips_a_mixed_dtype_tree():
    tree = {"w": jnp.arange(6.0).reshape(2, 3), "n": jnp.array(7, jnp.int32),
            "b": jnp.ones(4), "m": jnp.arange(4, dtype=jnp.int32).reshape(2, 2)}
    layout = PackedLayout.of(tree)
    buffers = layout.pack(tree)
    # jax.tree order is b, m, n, w; buffers in order of first appearance of each dtype
    assert [b.dtype for b in buffers] == [jnp.float32, jnp.int32]
    assert [b.shape for b in buffers] == [(10,), (5,)]
    np.testing.assert_array_equal(buffers[1], [0, 1, 2, 3, 7])
    chex.assert_trees_all_equal(layout.unpack(buffers), tree)


def test_packed_step_gives_the_same_states_and_metrics_as_the_plain_step():
    loss_fn = lstm_vae.make_loss_fn(SMALL)
    x = jax.random.normal(jax.random.key(0), (8, 12, 1))
    state = create_state(lstm_vae.init_params(jax.random.key(1), SMALL), optax.adam(1e-2))
    layout = PackedLayout.of(state)
    buffers = layout.pack(state)
    assert len(buffers) == 2  # float32 params + moments, int32 counters
    plain = make_train_step(loss_fn, donate=False)
    packed = make_packed_train_step(loss_fn, layout)
    for i in range(3):
        key = jax.random.key(10 + i)
        state, m_plain = plain(state, x, key)
        buffers, m_packed = packed(buffers, x, key)
        np.testing.assert_allclose(float(m_packed["loss"]), float(m_plain["loss"]), rtol=1e-6)
    unpacked = layout.unpack(buffers)
    assert int(unpacked.step) == 3
    chex.assert_trees_all_close(unpacked.params, state.params, rtol=1e-6, atol=1e-7)
    chex.assert_trees_all_close(unpacked.opt_state, state.opt_state, rtol=1e-6, atol=1e-7)
