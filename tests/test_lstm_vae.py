"""The LSTM-VAE equals the seed's step-by-step definition."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.errors import InputError
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


def test_recurrence_gradients_equal_autodiff_of_the_plain_scan():
    from jax import lax

    from jtsgen.nn.lstm import scan_recurrence

    def plain(xp, w, h0, c0):
        def body(carry, x):
            h, c = carry
            i, f, g, o = jnp.split(x + h @ w, 4, -1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        (h, c), hs = lax.scan(body, (h0, c0), xp)
        return jnp.sum(hs**2) + jnp.sum(h) + 3 * jnp.sum(c)

    def fast(xp, w, h0, c0):
        hs, (h, c) = scan_recurrence(xp, w, h0, c0, unroll=2)
        return jnp.sum(hs**2) + jnp.sum(h) + 3 * jnp.sum(c)

    k = jax.random.split(jax.random.key(0), 4)
    args = (jax.random.normal(k[0], (7, 3, 16)), 0.5 * jax.random.normal(k[1], (4, 16)),
            jax.random.normal(k[2], (3, 4)), jax.random.normal(k[3], (3, 4)))
    np.testing.assert_allclose(fast(*args), plain(*args), rtol=1e-5)
    for a, b in zip(jax.grad(fast, argnums=(0, 1, 2, 3))(*args),
                    jax.grad(plain, argnums=(0, 1, 2, 3))(*args), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_lstm_layer_gradients_equal_autodiff_of_the_step_loop_for_both_projections():
    """C <= 4 projects inside the loop (own VJP); C > 4 precomputes the projection."""
    from jtsgen.nn.lstm import LSTM

    for channels in (2, 6):
        layer = LSTM(5, unroll=1)
        k = jax.random.split(jax.random.key(channels), 3)
        x = jax.random.normal(k[0], (3, 7, channels))
        h0 = (jax.random.normal(k[1], (3, 5)), jax.random.normal(k[2], (3, 5)))
        params = layer.init(jax.random.key(1), x)["params"]

        def loop(p, x, h0):
            h, c = h0
            hs = []
            for t in range(x.shape[1]):
                h, c = lstm_gates(x[:, t] @ p["w_ih"] + h @ p["w_hh"] + p["b"], c)
                hs.append(h)
            return jnp.sum(jnp.sin(jnp.stack(hs, 1))) + 2 * jnp.sum(c)

        def fast(p, x, h0, layer=layer):
            hs, (_, c) = layer.apply({"params": p}, x, h0)
            return jnp.sum(jnp.sin(hs)) + 2 * jnp.sum(c)

        np.testing.assert_allclose(fast(params, x, h0), loop(params, x, h0), rtol=1e-5)
        got = jax.grad(fast, argnums=(0, 1, 2))(params, x, h0)
        want = jax.grad(loop, argnums=(0, 1, 2))(params, x, h0)
        for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_lstm_with_static_and_shared_inputs_equals_the_layer_on_the_concatenated_input():
    """static [B, D] (same at every step) and shared [T, F] (same for every series) are
    projected once, yet values and all gradients match concat([static, x, shared])."""
    from jtsgen.nn.lstm import LSTM

    b, t, d, f = 3, 6, 5, 4
    k = jax.random.split(jax.random.key(7), 4)
    static = jax.random.normal(k[0], (b, d))
    shared = jax.random.normal(k[1], (t, f))
    for channels, use_static, use_shared in [(1, True, False), (0, True, True), (0, True, False),
                                             (2, False, True),
                                             (6, True, True), (6, True, False)]:
        layer = LSTM(5)
        x = jax.random.normal(k[2], (b, t, channels))
        s_in = static if use_static else None
        f_in = shared if use_shared else None

        def joined(s_in, x, f_in):
            parts = ([jnp.broadcast_to(s_in[:, None], (b, t, d))] if s_in is not None else [])
            parts.append(x)
            if f_in is not None:
                parts.append(jnp.broadcast_to(f_in, (b, t, f)))
            return jnp.concatenate(parts, -1)

        params = LSTM(5).init(jax.random.key(1), joined(s_in, x, f_in))["params"]

        def split(p, s_in, x, f_in, layer=layer):
            hs, (_, c) = layer.apply({"params": p}, x, static_bd=s_in, shared_tf=f_in)
            return jnp.sum(jnp.sin(hs)) + 2 * jnp.sum(c)

        def concat(p, s_in, x, f_in, layer=layer):
            hs, (_, c) = layer.apply({"params": p}, joined(s_in, x, f_in))
            return jnp.sum(jnp.sin(hs)) + 2 * jnp.sum(c)

        args = (params, s_in, x, f_in)
        np.testing.assert_allclose(split(*args), concat(*args), rtol=1e-5)
        got = jax.grad(split, argnums=(0, 1, 2, 3))(*args)
        want = jax.grad(concat, argnums=(0, 1, 2, 3))(*args)
        for a, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
            np.testing.assert_allclose(a, w, atol=1e-5)


COND = lstm_vae.LSTMVAEConfig(seq_len=12, channels=1, hidden=8, latent=3, cond_dim=2)


def naive_conditional_decoder(p, z_bd, c_bk, seq_len):
    """Exercise 4 decoder written out: h_0 = relu(W [z, c]) and the condition
    concatenated to every step's input (the fed-back output)."""
    w_in = jnp.concatenate([p["w_ih"], p["w_cond"]], axis=0)
    h = jax.nn.relu(jnp.concatenate([z_bd, c_bk], -1) @ p["fc"]["kernel"] + p["fc"]["bias"])
    c = jnp.zeros_like(h)
    x = jnp.zeros((z_bd.shape[0], p["w_ih"].shape[0]))
    outs = []
    for _ in range(seq_len):
        h, c = lstm_gates(jnp.concatenate([x, c_bk], -1) @ w_in + h @ p["w_hh"] + p["b"], c)
        x = h @ p["w_out"] + p["b_out"]
        outs.append(x)
    return jnp.stack(outs, axis=1)


def _cond_inputs(b=5):
    k = jax.random.split(jax.random.key(11), 3)
    z = jax.random.normal(k[0], (b, COND.latent))
    c = jnp.sign(jax.random.normal(k[1], (b, 2)))
    x = jax.random.normal(k[2], (b, COND.seq_len, 1))
    return z, c, x


def test_conditional_decoder_and_encoder_read_the_condition_at_every_step():
    params = lstm_vae.init_params(jax.random.key(0), COND)
    z, c, x = _cond_inputs()
    model = lstm_vae.LSTMVAE(COND)
    fast = model.apply({"params": params}, z, None, c, method=lstm_vae.LSTMVAE.decode)
    assert fast.shape == (5, 12, 1)
    np.testing.assert_allclose(fast, naive_conditional_decoder(params["decoder"], z, c, 12),
                               rtol=1e-5, atol=1e-5)
    mu, _ = model.apply({"params": params}, x, None, c,
                        method=lambda m, x, s, c: m.encoder(x, s, c))
    joined = jnp.concatenate([jnp.broadcast_to(c[:, None], (5, 12, 2)), x], -1)
    np.testing.assert_allclose(mu, naive_encoder(params["encoder"], joined), rtol=1e-5, atol=1e-5)


def test_conditional_model_shapes_gradients_and_samples():
    params = lstm_vae.init_params(jax.random.key(0), COND)
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes["encoder"]["LSTM_0"]["w_ih"] == (2 + 1, 32)  # condition rows first
    assert shapes["decoder"]["fc"]["kernel"] == (3 + 2, 8)
    assert shapes["decoder"]["w_cond"] == (2, 32)
    z, c, x = _cond_inputs(4)
    m = lstm_vae.mask_from_lengths(jnp.array([12, 5, 9, 3]), 12)
    loss_fn = lstm_vae.make_loss_fn(COND)
    for batch in ((x, c), (x, m, c)):
        (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, batch,
                                                                       jax.random.key(2))
        assert np.isfinite(float(loss))
        assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))
        assert float(jnp.abs(grads["decoder"]["w_cond"]).sum()) > 0
    c_bk = jnp.array([[1.0, -1.0]] * 7)
    assert lstm_vae.generate_conditional(params, jax.random.key(3), c_bk, COND).shape == (7, 12, 1)
    with pytest.raises(InputError, match="generate_conditional"):
        lstm_vae.generate(params, jax.random.key(3), 7, COND)
    with pytest.raises(InputError, match="c_bk"):
        loss_fn(params, (x, c[:, :1]), jax.random.key(2))


def test_cond_dim_zero_is_the_seed_model_and_a_zero_condition_reduces_to_it():
    base = lstm_vae.LSTMVAEConfig(seq_len=12, hidden=8, latent=3)
    assert base.cond_dim == 0 and not base.obs_noise
    seed_params = lstm_vae.init_params(jax.random.key(0), base)
    assert "w_cond" not in seed_params["decoder"]
    assert jax.tree.map(jnp.shape, seed_params)["decoder"]["fc"]["kernel"] == (3, 8)
    # the conditional model at c = 0 is the unconditional one without the condition's weights
    params = lstm_vae.init_params(jax.random.key(0), COND)
    dec = {k: v for k, v in params["decoder"].items() if k != "w_cond"}
    dec["fc"] = {"kernel": dec["fc"]["kernel"][:3], "bias": dec["fc"]["bias"]}
    lstm = dict(params["encoder"]["LSTM_0"], w_ih=params["encoder"]["LSTM_0"]["w_ih"][2:])
    plain = {"decoder": dec, "encoder": dict(params["encoder"], LSTM_0=lstm)}
    z, _, x = _cond_inputs()
    zero = jnp.zeros((5, 2))
    a = lstm_vae.LSTMVAE(COND).apply({"params": params}, x, jax.random.key(4), None, zero)
    b = lstm_vae.LSTMVAE(base).apply({"params": plain}, x, jax.random.key(4))
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-6)


def test_the_decoder_output_depends_on_the_condition_through_its_weights_only():
    params = lstm_vae.init_params(jax.random.key(0), COND)
    z = jnp.broadcast_to(jax.random.normal(jax.random.key(1), (1, 3)), (2, 3))
    c = jnp.array([[1.0, 1.0], [-1.0, -1.0]])

    def decode(p):
        return lstm_vae.LSTMVAE(COND).apply({"params": p}, z, None, c,
                                            method=lstm_vae.LSTMVAE.decode)

    out = decode(params)
    assert float(jnp.max(jnp.abs(out[0] - out[1]))) > 1e-2  # same z, other condition
    dec = dict(params["decoder"], w_cond=jnp.zeros_like(params["decoder"]["w_cond"]))
    dec["fc"] = dict(dec["fc"], kernel=dec["fc"]["kernel"].at[3:].set(0.0))
    blind = decode(dict(params, decoder=dec))
    np.testing.assert_allclose(blind[0], blind[1], rtol=1e-6, atol=1e-7)


def test_observation_noise_head_leaves_the_seed_gradients_and_draws_its_std():
    noisy = dataclasses.replace(COND, obs_noise=True)
    params = lstm_vae.init_params(jax.random.key(0), noisy)
    head = params["decoder"]["fc_noise"]
    assert head["kernel"].shape == (8 + 2, 1)  # [h_t, c] -> log sigma per channel
    plain = dict(params, decoder={k: v for k, v in params["decoder"].items() if k != "fc_noise"})
    _, c, x = _cond_inputs()
    g_noisy = jax.grad(lambda p: lstm_vae.make_loss_fn(noisy)(p, (x, c), jax.random.key(2))[0])(
        params)
    g_plain = jax.grad(lambda p: lstm_vae.make_loss_fn(COND)(p, (x, c), jax.random.key(2))[0])(
        plain)
    assert float(jnp.abs(g_noisy["decoder"]["fc_noise"]["kernel"]).sum()) > 0
    g_noisy["decoder"].pop("fc_noise")
    for a, b in zip(jax.tree.leaves(g_noisy), jax.tree.leaves(g_plain), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)  # stop-gradient: unchanged
    # samples are the decoded mean plus sigma * N(0, 1): here sigma = 0.5 everywhere
    fixed = {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.log(jnp.array([0.5]))}
    p = dict(params, decoder=dict(params["decoder"], fc_noise=fixed))
    c_bk = jnp.tile(jnp.array([[1.0, -1.0]]), (4000, 1))
    key = jax.random.key(9)
    x = lstm_vae.generate_conditional(p, key, c_bk, noisy)
    z = jax.random.normal(key, (4000, 3))  # the latent generate_conditional draws
    mean, _ = lstm_vae.LSTMVAE(noisy).apply({"params": p}, z, None, c_bk,
                                           method=lstm_vae.LSTMVAE.decode)
    resid = np.asarray(x - mean)
    assert abs(resid.std() - 0.5) < 0.01 and abs(resid.mean()) < 0.01
    # the noise term is minimised where sigma^2 is the mean squared residual
    r = jax.random.normal(jax.random.key(3), (2, 50, 1)) * 0.3
    best = 0.5 * jnp.log(jnp.mean(r**2))
    slope = jax.grad(lambda s: lstm_vae.noise_nll(jnp.zeros_like(r), jnp.full_like(r, s), r))
    assert abs(float(slope(best))) < 1e-5
    assert float(slope(best - 0.1)) < 0 < float(slope(best + 0.1))
