"""The LSTM-VAE equals the seed's step-by-step definition."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.models import lstm_vae
from jtsgen.nn.lstm import lstm_gates


def naive_decoder(p, z_bd, seq_len):
    """Seed 000 decoder as written there: feed back output(h) one step at a time."""
    h = jax.nn.relu(z_bd @ p["fc"]["kernel"] + p["fc"]["bias"])
    c = jnp.zeros_like(h)
    x = jnp.zeros((z_bd.shape[0], p["w_ih"].shape[0]))
    outs = []
    for _ in range(seq_len):
        h, c = lstm_gates(x @ p["w_ih"] + h @ p["w_hh"] + p["b"], c)
        x = h @ p["w_out"] + p["b_out"]
        outs.append(x)
    return jnp.stack(outs, axis=1)


def naive_encoder(p, x_btc):
    h = c = jnp.zeros((x_btc.shape[0], p["LSTM_0"]["w_hh"].shape[0]))
    for t in range(x_btc.shape[1]):
        h, c = lstm_gates(x_btc[:, t] @ p["LSTM_0"]["w_ih"] + h @ p["LSTM_0"]["w_hh"]
                          + p["LSTM_0"]["b"], c)
    return h @ p["fc_mu"]["kernel"] + p["fc_mu"]["bias"]


def test_folded_decoder_equals_the_feedback_loop():
    cfg = lstm_vae.LSTMVAEConfig(seq_len=30, channels=2, hidden=8, latent=3, unroll=2)
    params = lstm_vae.init_params(jax.random.key(0), cfg)
    z = jax.random.normal(jax.random.key(1), (5, 3))
    fast = lstm_vae.LSTMVAE(cfg).apply({"params": params}, z, method=lstm_vae.LSTMVAE.decode)
    slow = naive_decoder(params["decoder"], z, 30)
    assert fast.shape == (5, 30, 2)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)


def test_encoder_equals_the_recurrence():
    cfg = lstm_vae.LSTMVAEConfig(seq_len=30, channels=2, hidden=8, latent=3)
    params = lstm_vae.init_params(jax.random.key(0), cfg)
    x = jax.random.normal(jax.random.key(2), (4, 30, 2))
    mu, logvar = lstm_vae.LSTMVAE(cfg).apply({"params": params}, x,
                                             method=lambda m, x: m.encoder(x))
    assert mu.shape == logvar.shape == (4, 3)
    np.testing.assert_allclose(mu, naive_encoder(params["encoder"], x), rtol=1e-5, atol=1e-5)


def test_gradients_are_finite_and_generate_has_the_right_shape():
    cfg = lstm_vae.LSTMVAEConfig(seq_len=20, hidden=8)
    params = lstm_vae.init_params(jax.random.key(0), cfg)
    x = jax.random.normal(jax.random.key(1), (4, 20, 1))
    grads, _ = jax.grad(lstm_vae.make_loss_fn(cfg), has_aux=True)(params, x, jax.random.key(2))
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
    assert lstm_vae.generate(params, jax.random.key(3), 7, cfg).shape == (7, 20, 1)
