"""RCGAN baseline: WGAN-GP critic with pac, label-conditioned LSTM generator, training."""

from __future__ import annotations

import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.errors import InputError
from jtsgen.models import rcgan
from jtsgen.train import fit
from jtsgen.train.loop import compiled_fused
from tests.test_train_core import run_on_cpu_devices

CFG = rcgan.RCGANConfig(seq_len=8, channels=2, noise_dim=3, hidden=8, pac=2, n_critic=2)


def _data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, CFG.seq_len, CFG.channels), dtype=np.float32)
    y = (rng.random((n, CFG.seq_len)) < 0.2).astype(np.float32)
    return jnp.asarray(x), jnp.asarray(y)


def test_pack_puts_group_members_side_by_side_in_member_order():
    x = jnp.arange(4 * 2 * 1, dtype=jnp.float32).reshape(4, 2, 1)  # B=4, T=2, C=1
    y = jnp.full((4, 2), -1.0)
    packed = rcgan.pack(x, y, pac=2)
    assert packed.shape == (2, 2, 4)
    # group 0 at t=1: [x(b0), y(b0), x(b1), y(b1)]; group 1 at t=0: samples 2 and 3.
    assert packed[0, 1].tolist() == [1.0, -1.0, 3.0, -1.0]
    assert packed[1, 0].tolist() == [4.0, -1.0, 6.0, -1.0]
    with pytest.raises(InputError, match="batch.*pac"):
        rcgan.pack(jnp.zeros((3, 2, 1)), jnp.zeros((3, 2)), pac=2)


@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_gradient_penalty_of_a_linear_critic_is_exact(scale):
    # D(p) = <w, p> per group: its input gradient is w everywhere, so GP = (||w|| - 1)^2.
    w = np.random.default_rng(0).standard_normal((CFG.seq_len, 2 * (CFG.channels + 1)))
    w = jnp.asarray(w * scale / np.linalg.norm(w), jnp.float32)
    linear = lambda w, packed: jnp.sum(packed * w, axis=(1, 2))  # noqa: E731
    real, y = _data(8)
    fake = real[::-1] * 2.0
    gp = rcgan.gradient_penalty(linear, w, real, fake, y, jax.random.key(1), pac=2)
    np.testing.assert_allclose(gp, (scale - 1.0) ** 2, rtol=1e-5, atol=1e-6)


def test_gradient_penalty_on_an_lstm_critic_equals_direct_per_group_gradients():
    critic = rcgan.Critic(hidden=8)
    real, y = _data(8)
    fake = _data(8, seed=5)[0]
    params = jax.jit(critic.init)(jax.random.key(2), rcgan.pack(real, y, 2))["params"]
    apply = lambda p, packed: critic.apply({"params": p}, packed)  # noqa: E731
    key = jax.random.key(3)
    got = rcgan.gradient_penalty(apply, params, real, fake, y, key, pac=2)
    # Definition: eps per group (documented draw), x_hat per sample, gradient per group.
    eps_g = np.asarray(jax.random.uniform(key, (4, 1, 1)))
    x_hat = np.stack([eps_g[b // 2] * real[b] + (1 - eps_g[b // 2]) * fake[b] for b in range(8)])
    packed = rcgan.pack(jnp.asarray(x_hat), y, 2)
    score_one = lambda g: apply(params, g[None])[0]  # noqa: E731
    grads = jax.jit(jax.vmap(jax.grad(score_one)))(packed)  # each group on its own
    want = np.mean([(float(jnp.linalg.norm(g)) - 1.0) ** 2 for g in grads])
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_fused_critic_loss_equals_the_wgan_gp_definition():
    state = rcgan.init_state(jax.random.key(0), CFG)
    critic_loss, _ = rcgan.make_losses(CFG)
    critic = rcgan.Critic(CFG.hidden)
    apply = lambda p, packed: critic.apply({"params": p}, packed)  # noqa: E731

    @jax.jit
    def both(critic_params, gen_params, x, y, key):
        loss, aux = critic_loss(critic_params, gen_params, (x, y), key)
        k_noise, k_gp = jax.random.split(key)
        noise = jax.random.normal(k_noise, (*y.shape, CFG.noise_dim))
        fake = rcgan.Generator(CFG.hidden, CFG.channels).apply({"params": gen_params}, noise, y)
        d_real = apply(critic_params, rcgan.pack(x, y, CFG.pac))
        d_fake = apply(critic_params, rcgan.pack(fake, y, CFG.pac))
        gp = rcgan.gradient_penalty(apply, critic_params, x, fake, y, k_gp, pac=CFG.pac)
        return loss, aux["gp"], jnp.mean(d_fake) - jnp.mean(d_real) + 10.0 * gp, gp, d_real

    loss, aux_gp, want, gp, d_real = both(state.critic.params, state.gen.params, *_data(8),
                                          jax.random.key(4))
    assert d_real.shape == (8 // CFG.pac,)  # one score per pac group
    np.testing.assert_allclose(loss, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(aux_gp, gp, rtol=1e-5)


def test_shapes_and_generation_follows_the_labels():
    state = rcgan.init_state(jax.random.key(0), CFG)
    lstm = state.critic.params["lstm"]
    assert lstm["w_ih"].shape == (CFG.pac * (CFG.channels + 1), 4 * CFG.hidden)
    assert state.gen.params["lstm"]["w_ih"].shape == (CFG.noise_dim + 1, 4 * CFG.hidden)
    _, y = _data(5)
    key = jax.random.key(1)
    x = rcgan.generate(state.gen.params, key, y, CFG)
    assert x.shape == (5, CFG.seq_len, CFG.channels)
    assert not np.allclose(x, rcgan.generate(state.gen.params, key, 1.0 - y, CFG))
    with pytest.raises(InputError, match="labels_bt"):
        rcgan.generate(state.gen.params, key, y[:, :4], CFG)


def test_critic_step_changes_only_the_critic_and_generator_step_only_the_generator():
    steps = rcgan.compile_steps(CFG, donate=False)
    state = rcgan.init_state(jax.random.key(0), CFG)
    x, y = _data(8)
    after, m = steps.critic_step(state, (x, y), jax.random.key(1))
    assert np.isfinite(float(m["d_loss"])) and float(m["gp"]) >= 0
    chex.assert_trees_all_equal(after.gen, state.gen)
    assert int(after.critic.step) == 1
    assert not np.allclose(after.critic.params["lstm"]["w_hh"], state.critic.params["lstm"]["w_hh"])
    after2, m = steps.generator_step(after, y, jax.random.key(2))
    assert np.isfinite(float(m["g_loss"]))
    chex.assert_trees_all_equal(after2.critic, after.critic)
    assert not np.allclose(after2.gen.params["out"]["kernel"], after.gen.params["out"]["kernel"])
    with pytest.raises(InputError, match="batch"):
        steps.critic_step(state, (x[:5], y[:5]), jax.random.key(1))


def test_training_is_finite_compiles_once_and_resumes_to_the_same_parameters(tmp_path):
    data, key = _data(32), jax.random.key(7)
    step, sampler = rcgan.make_step(CFG), rcgan.make_sampler(CFG, 4)
    kwargs = dict(step=step, sampler=sampler, num_steps=4, steps_per_call=2, progress=False)
    full = fit(rcgan.init_state(jax.random.key(0), CFG), data, key, **kwargs)
    assert int(full.state.step) == 4
    assert int(full.state.critic.step) == 4 * CFG.n_critic and int(full.state.gen.step) == 4
    for name in ("loss", "d_loss", "wasserstein", "gp", "g_loss"):
        assert len(full.history[name]) == 4 and np.all(np.isfinite(full.history[name]))
    ckpt = tmp_path / "ckpt"
    first = fit(rcgan.init_state(jax.random.key(0), CFG), data, key,
                checkpoint_dir=ckpt, stop_after=2, **kwargs)
    assert int(first.state.step) == 2
    resumed = fit(rcgan.init_state(jax.random.key(0), CFG), data, key,
                  checkpoint_dir=ckpt, **kwargs)
    assert resumed.resumed_from == 2 and len(resumed.history["g_loss"]) == 4
    for net in ("gen", "critic"):
        a, b = getattr(resumed.state, net), getattr(full.state, net)
        chex.assert_trees_all_close((a.params, a.opt_state), (b.params, b.opt_state), atol=1e-6)
    # make_step / make_sampler are cached per config: one compile for the 3 runs.
    assert rcgan.make_step(CFG) is step and rcgan.make_sampler(CFG, 4) is sampler
    assert compiled_fused(None, sampler, 2, step=step)._cache_size() == 1
    with pytest.raises(InputError, match="batch_size"):
        rcgan.make_sampler(CFG, 3)
    with pytest.raises(InputError, match="data"):
        fit(rcgan.init_state(jax.random.key(0), CFG), (data[0][..., :1], data[1]), key,
            **kwargs)


def test_config_rejects_bad_values():
    with pytest.raises(InputError, match="pac"):
        rcgan.RCGANConfig(pac=0)


DATA_PARALLEL = textwrap.dedent("""
    import tempfile
    import chex, jax, jax.numpy as jnp, numpy as np
    from jax.sharding import PartitionSpec as P
    from jtsgen.errors import InputError
    from jtsgen.models import rcgan
    from jtsgen.train import fit, local_mesh, replicate
    from jtsgen.train.step import traced_per_device
    from tests.test_rcgan import CFG, _data
    mesh = local_mesh(2)

    # Each device's own rows: the update applies the mean of the devices' gradients.
    x, y = _data(8)
    state, key = rcgan.init_state(jax.random.key(0), CFG), jax.random.key(1)
    critic_loss, _ = rcgan.make_losses(CFG)
    grads = [jax.grad(critic_loss, has_aux=True)(state.critic.params, state.gen.params,
                                                 (x[r], y[r]), key)[0]
             for r in (slice(0, 4), slice(4, 8))]
    want = state.critic.apply_gradients(grads=jax.tree.map(lambda a, b: (a + b) / 2, *grads))
    split = jax.jit(jax.shard_map(rcgan.make_critic_step(CFG, "data"), mesh=mesh,
                                  in_specs=(P(), P("data"), P()), out_specs=(P(), P()),
                                  check_vma=False))
    got, _ = split(replicate(state, mesh), (x, y), key)
    got = jax.tree.map(np.asarray, (got.critic.params, got.critic.opt_state))
    chex.assert_trees_all_close(got, (want.params, want.opt_state), rtol=1e-5, atol=1e-6)

    # Traced as in fit's data-parallel program, the step averages without an axis name.
    local = jax.jit(jax.shard_map(
        lambda s, b, k: rcgan.make_critic_step(CFG)(s, b, k), mesh=mesh,
        in_specs=(P(), P("data"), P()), out_specs=(P(), P()), check_vma=False))
    with traced_per_device("data"):
        got2, _ = local(replicate(state, mesh), (x, y), key)
    chex.assert_trees_all_close(jax.tree.map(np.asarray, got2.critic.params), got[0])

    # fit over the mesh: each device draws its own rows; a killed run resumes exactly.
    data, key = _data(32), jax.random.key(7)
    kw = dict(step=rcgan.make_step(CFG), sampler=rcgan.make_sampler(CFG, 8, mesh),
              num_steps=4, steps_per_call=2, progress=False, mesh=mesh)
    full = fit(rcgan.init_state(jax.random.key(0), CFG), data, key, **kw)
    assert int(full.state.step) == 4
    assert full.state.gen.params["out"]["kernel"].sharding.is_fully_replicated
    assert all(np.all(np.isfinite(v)) and len(v) == 4 for v in full.history.values())
    with tempfile.TemporaryDirectory() as tmp:
        for stop in (2, None):
            resumed = fit(rcgan.init_state(jax.random.key(0), CFG), data, key,
                          checkpoint_dir=tmp, stop_after=stop, **kw)
    assert resumed.resumed_from == 2
    chex.assert_trees_all_close(jax.tree.map(np.asarray, resumed.state.gen.params),
                                jax.tree.map(np.asarray, full.state.gen.params), atol=1e-6)
    # The two devices drew different rows: not the one-device run of 4 rows per step.
    solo = fit(rcgan.init_state(jax.random.key(0), CFG), data, key,
               **{**kw, "sampler": rcgan.make_sampler(CFG, 4), "mesh": None})
    assert not np.allclose(solo.history["d_loss"], full.history["d_loss"])

    for bad in (6, 5):  # 3 rows per device is not a multiple of pac; 5 does not split
        try:
            rcgan.make_sampler(CFG, bad, mesh)
        except InputError as e:
            assert "batch_size" in str(e), e
        else:
            raise AssertionError(bad)
    print("OK")
""")


def test_rcgan_trains_data_parallel_over_2_devices():
    run_on_cpu_devices(DATA_PARALLEL, 2)
