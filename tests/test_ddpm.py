"""DDPM (seed 000, Part 2): schedule, forward process, scan reverse chain, conditioning."""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.data.sines import make_sines
from jtsgen.errors import InputError
from jtsgen.models import ddpm
from jtsgen.nn.noise import counter_normal, seed_from_key
from jtsgen.train import adam, create_state, fit, sample_rows

MLP = ddpm.DDPMConfig(seq_len=16, hidden=16, num_timesteps=50)
TEMPORAL = ddpm.DDPMConfig(seq_len=16, channels=2, num_timesteps=20, denoiser="temporal",
                           width=8, blocks=2, emb_dim=8, conditional=True, p_uncond=0.2)


def _seed_alpha_bars(T):
    betas = np.linspace(1e-4, 0.02, T)
    return betas, np.cumprod(1.0 - betas)


def _sines(n, length, channels=1, seed=0):
    d = make_sines(n, seed, length=length, freq_range=(0.0, 0.1))
    return jnp.asarray(np.repeat(d.x_btc, channels, axis=-1)), jnp.asarray(d.y_bt)


def test_schedule_is_the_seeds_linear_schedule_computed_once():
    s = ddpm.schedule(MLP)
    betas, alpha_bars = _seed_alpha_bars(50)
    np.testing.assert_allclose(s.betas, betas, rtol=1e-6)
    np.testing.assert_allclose(s.alpha_bars, alpha_bars, rtol=1e-5)
    np.testing.assert_allclose(s.eps_coefs, betas / np.sqrt(1 - alpha_bars), rtol=1e-4)
    assert s.sigmas[0] == 0.0 and s.sigmas[1] == pytest.approx(math.sqrt(betas[1]), rel=1e-6)
    assert all(a.dtype == np.float32 for a in s)
    assert ddpm.schedule(MLP) is s  # cached, not recomputed


def test_q_sample_is_the_closed_form_and_has_its_moments():
    _, alpha_bars = _seed_alpha_bars(50)
    rng = np.random.default_rng(0)
    x0 = jnp.asarray(rng.standard_normal((6, 16, 1), dtype=np.float32))
    noise = jnp.asarray(rng.standard_normal((6, 16, 1), dtype=np.float32))
    t = jnp.array([0, 1, 10, 25, 40, 49])
    got = ddpm.q_sample(x0, t, noise, ddpm.schedule(MLP))
    ab = alpha_bars[np.asarray(t)][:, None, None]
    want = np.sqrt(ab) * np.asarray(x0) + np.sqrt(1 - ab) * np.asarray(noise)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # Empirical moments over many noise draws: mean sqrt(ᾱ_t) x0, variance 1 - ᾱ_t.
    n = 20000
    x0_one = jnp.linspace(-2.0, 2.0, 4)[None, :, None]
    for step in (0, 25, 49):
        xt = ddpm.q_sample(jnp.broadcast_to(x0_one, (n, 4, 1)), jnp.full((n,), step),
                           jnp.asarray(rng.standard_normal((n, 4, 1), dtype=np.float32)),
                           ddpm.schedule(MLP))
        var = 1 - alpha_bars[step]
        np.testing.assert_allclose(xt.mean(0)[:, 0], np.sqrt(alpha_bars[step]) * x0_one[0, :, 0],
                                   atol=5 * math.sqrt(var / n))
        np.testing.assert_allclose(xt.var(0), var, rtol=0.05)


def test_mlp_denoiser_is_the_seed_network():
    params = ddpm.init_params(jax.random.key(0), MLP)
    assert params["fc1"]["kernel"].shape == (16 + 1, 16)
    assert params["out"]["kernel"].shape == (16, 16)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((3, 16, 1), dtype=np.float32))
    t = np.array([0, 7, 49])
    got = ddpm.build_denoiser(MLP).apply({"params": params}, x, ddpm.time_table(MLP)[t])
    h = np.concatenate([np.asarray(x)[..., 0], np.sin(t / 50 * 2 * np.pi)[:, None]], axis=1)
    for name in ("fc1", "fc2"):
        h = np.maximum(h @ params[name]["kernel"] + params[name]["bias"], 0.0)
    want = h @ params["out"]["kernel"] + params["out"]["bias"]
    np.testing.assert_allclose(got[..., 0], want, rtol=1e-5, atol=1e-5)


def python_loop_sampler(params, key, n, cfg, labels=None, w=0.0):
    """The seed's reverse loop, one Python iteration per step, on the documented noise."""
    betas = np.linspace(1e-4, 0.02, cfg.num_timesteps).astype(np.float32)
    alphas = 1 - betas
    alpha_bars = np.cumprod(alphas)
    seed = seed_from_key(key)
    shape = (n, cfg.seq_len, cfg.channels)
    z = [counter_normal(seed, t, shape) for t in range(cfg.num_timesteps + 1)]
    model, table = ddpm.build_denoiser(cfg), ddpm.time_table(cfg)
    apply = jax.jit(lambda x, temb, y: model.apply({"params": params}, x, temb, y))
    null = None if labels is None else jnp.full_like(labels, ddpm.NULL_LABEL)
    x = z[cfg.num_timesteps]
    for t in range(cfg.num_timesteps - 1, -1, -1):
        temb = jnp.broadcast_to(table[t], (n, *table.shape[1:]))
        eps = apply(x, temb, labels)
        if labels is not None and w:
            eps_u = apply(x, temb, null)
            eps = (1 + w) * eps - w * eps_u
        x = (x - (1 - alphas[t]) / np.sqrt(1 - alpha_bars[t]) * eps) / np.sqrt(alphas[t])
        if t > 0:
            x = x + np.sqrt(betas[t]) * z[t]
    return x


@pytest.mark.parametrize("cfg,guided", [(MLP, False), (TEMPORAL, True)])
def test_scan_reverse_chain_equals_the_python_loop(cfg, guided):
    params = ddpm.init_params(jax.random.key(1), cfg)
    key = jax.random.key(7)
    labels = (jnp.arange(16)[None, :] % 5 == 0).astype(jnp.float32).repeat(4, 0) if guided \
        else None
    w = 1.5 if guided else 0.0
    fast = ddpm.sample(params, key, 4, cfg, labels, guidance=w)
    slow = python_loop_sampler(params, key, 4, cfg, labels, w)
    assert fast.shape == (4, 16, cfg.channels)
    np.testing.assert_allclose(fast, slow, rtol=1e-5, atol=1e-5)


def test_noise_drawn_before_the_loop_or_inside_it_gives_the_same_chain():
    params = ddpm.init_params(jax.random.key(1), MLP)
    seed = seed_from_key(jax.random.key(7))
    x_T = counter_normal(seed, MLP.num_timesteps, (4, MLP.seq_len, MLP.channels))
    chain = jax.jit(ddpm.reverse_chain, static_argnames=("config", "predraw_max"))
    before = chain(params, x_T, seed, config=MLP)  # small: drawn before the loop
    inside = chain(params, x_T, seed, config=MLP, predraw_max=0)
    np.testing.assert_allclose(before, inside, rtol=1e-5, atol=1e-5)


def test_mlp_loss_falls_on_sines():
    x, _ = _sines(256, 16)
    state = create_state(ddpm.init_params(jax.random.key(0), MLP), adam(3e-3))
    out = fit(state, x, jax.random.key(1), loss_fn=ddpm.make_loss_fn(MLP),
              sampler=sample_rows(64), num_steps=300, steps_per_call=100, progress=False)
    loss = np.asarray(out.history["loss"])
    assert np.all(np.isfinite(loss))
    assert loss[-30:].mean() < 0.8 * loss[:30].mean()


def test_conditional_temporal_ddpm_learns_and_samples_given_labels():
    data = _sines(128, 16, channels=2)
    state = create_state(ddpm.init_params(jax.random.key(0), TEMPORAL), adam(3e-3))
    out = fit(state, data, jax.random.key(1), loss_fn=ddpm.make_loss_fn(TEMPORAL),
              sampler=sample_rows(32), num_steps=100, steps_per_call=100, progress=False)
    loss = np.asarray(out.history["loss"])
    assert loss[-20:].mean() < 0.8 * loss[:20].mean()
    labels = data[1][:4]
    labels = labels.at[:, 5:9].set(1.0)
    key = jax.random.key(3)
    guided = ddpm.sample(out.state.params, key, 4, TEMPORAL, labels, guidance=1.5)
    assert guided.shape == (4, 16, 2) and bool(jnp.all(jnp.isfinite(guided)))
    plain = ddpm.sample(out.state.params, key, 4, TEMPORAL, labels, guidance=0.0)
    other = ddpm.sample(out.state.params, key, 4, TEMPORAL, jnp.zeros_like(labels))
    assert not np.allclose(guided, plain) and not np.allclose(plain, other)


def test_label_dropout_drops_whole_series():
    y = jnp.asarray((np.random.default_rng(0).random((200, 16)) < 0.3).astype(np.float32))
    np.testing.assert_array_equal(ddpm.drop_labels(y, jax.random.key(1), 0.0), y)
    assert bool(jnp.all(ddpm.drop_labels(y, jax.random.key(1), 1.0) == ddpm.NULL_LABEL))
    half = np.asarray(ddpm.drop_labels(y, jax.random.key(1), 0.5))
    dropped = np.all(half == ddpm.NULL_LABEL, axis=1)
    np.testing.assert_array_equal(half[~dropped], np.asarray(y)[~dropped])
    assert 60 < dropped.sum() < 140


def test_killed_run_resumes_to_the_same_parameters(tmp_path):
    x, _ = _sines(64, 16)
    kwargs = dict(loss_fn=ddpm.make_loss_fn(MLP), sampler=sample_rows(16), num_steps=40,
                  steps_per_call=10, progress=False)
    init = lambda: create_state(ddpm.init_params(jax.random.key(0), MLP), adam(1e-3))  # noqa: E731
    full = fit(init(), x, jax.random.key(2), **kwargs)
    ckpt = tmp_path / "ckpt"
    first = fit(init(), x, jax.random.key(2), checkpoint_dir=ckpt, stop_after=20, **kwargs)
    assert int(first.state.step) == 20
    resumed = fit(init(), x, jax.random.key(2), checkpoint_dir=ckpt, **kwargs)
    assert resumed.resumed_from == 20 and len(resumed.history["loss"]) == 40
    chex.assert_trees_all_close(resumed.state.params, full.state.params, atol=1e-6, rtol=0)


def test_bad_input_is_reported_clearly():
    params = ddpm.init_params(jax.random.key(0), MLP)
    with pytest.raises(InputError, match="labels_bt.*unconditional"):
        ddpm.sample(params, jax.random.key(0), 2, MLP, jnp.zeros((2, 16)))
    cond = ddpm.init_params(jax.random.key(0), TEMPORAL)
    with pytest.raises(InputError, match="labels_bt.*shape"):
        ddpm.sample(cond, jax.random.key(0), 2, TEMPORAL, jnp.zeros((3, 16)))
    with pytest.raises(InputError, match="batch.*conditional"):
        ddpm.make_loss_fn(TEMPORAL)(cond, jnp.zeros((2, 16, 2)), jax.random.key(0))
    with pytest.raises(InputError, match="batch"):
        ddpm.make_loss_fn(MLP)(params, jnp.zeros((2, 15, 1)), jax.random.key(0))
    with pytest.raises(InputError, match="denoiser"):
        ddpm.DDPMConfig(denoiser="unet")
