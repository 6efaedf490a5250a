"""Specification of the compiled training core (issue: Foundation)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import struct

from jtsgen.data.sines import make_sines
from jtsgen.errors import InputError
from jtsgen.models import lstm_vae
from jtsgen.train import (
    TrainingDiverged,
    create_state,
    device_mean,
    fit,
    fit_ensemble,
    init_replicas,
    make_step_fn,
    make_train_step,
    sample_rows,
)

SMALL = lstm_vae.LSTMVAEConfig(seq_len=24, hidden=8, latent=2, unroll=1)


def _sines(n=64, length=24, seed=0):
    return jnp.asarray(make_sines(n, seed, length=length, freq_range=(0.0, 0.1)).x_btc)


def _state(cfg=SMALL, seed=0, lr=1e-2):
    return create_state(lstm_vae.init_params(jax.random.key(seed), cfg), optax.adam(lr))


def test_lstm_vae_loss_falls_over_200_steps_on_sines():
    # The seed's decoder sees z only through its initial state, so on long windows it
    # needs far more than 200 steps; short sine windows show learning within 200.
    cfg = lstm_vae.LSTMVAEConfig(seq_len=24)
    x = jnp.asarray(make_sines(256, 0, length=24, freq_range=(0.0, 0.1), anomaly_prob=0.0).x_btc)
    state = create_state(lstm_vae.init_params(jax.random.key(0), cfg), optax.adam(1e-2))
    out = fit(state, x, jax.random.key(1), loss_fn=lstm_vae.make_loss_fn(cfg),
              sampler=sample_rows(32), num_steps=200, steps_per_call=50, progress=False)
    loss = np.asarray(out.history["loss"])
    assert loss.shape == (200,)
    assert loss[-20:].mean() < 0.9 * loss[:20].mean()


def test_train_step_compiles_once():
    loss_fn = lstm_vae.make_loss_fn(SMALL)
    step = make_step_fn(loss_fn)
    traced = chex.assert_max_traces(step, n=1)
    jitted = jax.jit(traced, donate_argnums=(0,))
    state, x = _state(), _sines()
    for i in range(4):
        state, metrics = jitted(state, x[i * 8:(i + 1) * 8], jax.random.key(0))
    assert int(state.step) == 4
    assert np.isfinite(float(metrics["loss"]))


def test_step_key_is_folded_with_the_step_counter():
    step = make_train_step(lstm_vae.make_loss_fn(SMALL), donate=False)
    state, x = _state(), _sines()[:8]
    _, m1 = step(state, x, jax.random.key(0))
    _, m2 = step(state.replace(step=state.step + 1), x, jax.random.key(0))
    _, m3 = step(state, x, jax.random.key(0))
    assert float(m1["loss"]) == float(m3["loss"])
    assert float(m1["loss"]) != float(m2["loss"])


def test_killed_run_resumes_to_the_same_parameters(tmp_path):
    loss_fn, x, key = lstm_vae.make_loss_fn(SMALL), _sines(), jax.random.key(3)
    kwargs = dict(loss_fn=loss_fn, sampler=sample_rows(8), num_steps=60, steps_per_call=10,
                  progress=False)
    full = fit(_state(), x, key, **kwargs)
    ckpt = tmp_path / "ckpt"
    first = fit(_state(), x, key, checkpoint_dir=ckpt, checkpoint_every=20, stop_after=30, **kwargs)
    assert int(first.state.step) == 30
    resumed = fit(_state(), x, key, checkpoint_dir=ckpt, checkpoint_every=20, **kwargs)
    assert resumed.resumed_from == 30
    assert len(resumed.history["loss"]) == 60
    chex.assert_trees_all_close(resumed.state.params, full.state.params, atol=1e-6, rtol=0)


class HeavyBall(struct.PyTreeNode):
    """A state that is not a TrainState: a counter, weights and a momentum buffer."""

    step: jax.Array
    w: jax.Array
    velocity: jax.Array


def heavy_ball_step(state: HeavyBall, batch, key):
    """Momentum SGD on noisy least squares, written by hand (not from a loss_fn)."""
    noise = 0.01 * jax.random.normal(jax.random.fold_in(key, state.step), state.w.shape)
    loss, grad = jax.value_and_grad(lambda w: jnp.mean((batch["x"] @ w - batch["y"]) ** 2))(
        state.w)
    loss, grad = device_mean((loss, grad))
    velocity = 0.9 * state.velocity - 0.05 * (grad + noise)
    new = HeavyBall(step=state.step + 1, w=state.w + velocity, velocity=velocity)
    return new, {"loss": loss, "speed": jnp.linalg.norm(velocity)}


def test_fit_runs_a_ready_step_on_any_state_and_resumes(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    data = {"x": jnp.asarray(x), "y": jnp.asarray(x @ np.array([[1.0], [-2.0], [0.5]],
                                                                 np.float32))}
    fresh = lambda: HeavyBall(step=jnp.zeros((), jnp.int32),  # noqa: E731
                              w=jnp.zeros((3, 1)), velocity=jnp.zeros((3, 1)))
    kw = dict(step=heavy_ball_step, sampler=sample_rows(16), num_steps=40, steps_per_call=10,
              progress=False)
    full = fit(fresh(), data, jax.random.key(1), **kw)
    assert int(full.state.step) == 40 and len(full.history["speed"]) == 40
    loss = np.asarray(full.history["loss"])
    assert loss[-5:].mean() < 0.05 * loss[:5].mean()
    ckpt = tmp_path / "ckpt"
    first = fit(fresh(), data, jax.random.key(1), checkpoint_dir=ckpt, checkpoint_every=10,
                stop_after=20, **kw)
    assert int(first.state.step) == 20
    resumed = fit(fresh(), data, jax.random.key(1), checkpoint_dir=ckpt, **kw)
    assert resumed.resumed_from == 20 and isinstance(resumed.state, HeavyBall)
    assert resumed.history["loss"] == full.history["loss"]
    chex.assert_trees_all_close(resumed.state, full.state, atol=1e-6, rtol=0)

    # A loss's step given as step= is the loss_fn= program: the same run.
    loss_fn, xs = lstm_vae.make_loss_fn(SMALL), _sines()
    common = dict(sampler=sample_rows(8), num_steps=10, steps_per_call=5, progress=False)
    by_loss = fit(_state(), xs, jax.random.key(3), loss_fn=loss_fn, **common)
    by_step = fit(_state(), xs, jax.random.key(3), step=make_step_fn(loss_fn), **common)
    assert by_step.history == by_loss.history
    chex.assert_trees_all_equal(by_step.state.params, by_loss.state.params)

    with pytest.raises(InputError, match="loss_fn/step"):
        fit(fresh(), data, jax.random.key(1), loss_fn=loss_fn, **kw)
    with pytest.raises(InputError, match="loss_fn/step"):
        fit(fresh(), data, jax.random.key(1), sampler=sample_rows(16), num_steps=1)
    with pytest.raises(InputError, match="microbatches"):
        fit(fresh(), data, jax.random.key(1), microbatches=2, **kw)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tmp_path):
    base = lstm_vae.make_loss_fn(SMALL)

    def poisoned(params, batch, key):
        loss, aux = base(params, batch, key)
        return loss + jnp.where(batch[0, 0, 0] > 10.0, jnp.nan, 0.0), aux

    x = np.asarray(_sines())
    x_bad = x.copy()
    x_bad[:, 0, 0] = 100.0  # every batch drawn from x_bad is poisoned
    ckpt = tmp_path / "ckpt"
    fit(_state(), jnp.asarray(x), jax.random.key(0), loss_fn=poisoned, sampler=sample_rows(8),
        num_steps=20, steps_per_call=10, checkpoint_dir=ckpt, progress=False)
    with pytest.raises(TrainingDiverged, match=r"non-finite at step 20.*checkpoint: step 20"):
        fit(_state(), jnp.asarray(x_bad), jax.random.key(0), loss_fn=poisoned,
            sampler=sample_rows(8), num_steps=40, steps_per_call=10, checkpoint_dir=ckpt,
            progress=False)
    assert sorted(int(p.name) for p in ckpt.iterdir() if p.name.isdigit()) == [20]


def test_vmapped_ensemble_equals_separate_runs():
    loss_fn, x = lstm_vae.make_loss_fn(SMALL), _sines()
    seeds = jnp.arange(4)
    init = lambda k: create_state(lstm_vae.init_params(k, SMALL), optax.adam(1e-2))  # noqa: E731
    init_keys = jax.vmap(jax.random.key)(seeds)
    train_keys = jax.vmap(lambda s: jax.random.key(s + 100))(seeds)
    states, hist = fit_ensemble(init_replicas(init, init_keys), x, train_keys, loss_fn=loss_fn,
                                sampler=sample_rows(8), num_steps=20, steps_per_call=10)
    assert hist["loss"].shape == (4, 20)
    for r in range(4):
        single = fit(init(jax.random.key(r)), x, jax.random.key(r + 100), loss_fn=loss_fn,
                     sampler=sample_rows(8), num_steps=20, steps_per_call=10, progress=False)
        replica = jax.tree.map(lambda a, r=r: a[r], states.params)
        chex.assert_trees_all_close(replica, single.state.params, atol=1e-5, rtol=1e-5)
        np.testing.assert_allclose(hist["loss"][r], single.history["loss"], rtol=1e-5)


SHARDED = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from jtsgen.models import lstm_vae
    from jtsgen.train import create_state, make_train_step, data_mesh, replicate, shard_batch
    from benchmarks.step_variants import make_sharded_train_step
    assert jax.device_count() == 8, jax.devices()
    cfg = lstm_vae.LSTMVAEConfig(seq_len=24, hidden=8, latent=2, unroll=1)
    loss_fn = lstm_vae.make_loss_fn(cfg)
    x = jax.random.normal(jax.random.key(0), (32, 24, 1))
    state = create_state(lstm_vae.init_params(jax.random.key(1), cfg), optax.adam(1e-2))
    single = make_train_step(loss_fn, donate=False)
    mesh = data_mesh()
    sharded = make_sharded_train_step(loss_fn, mesh, donate=False)
    s1, s8 = state, replicate(state, mesh)
    for i in range(3):
        s1, m1 = single(s1, x, jax.random.key(2))
        s8, m8 = sharded(s8, shard_batch(x, mesh), jax.random.key(2))
        np.testing.assert_allclose(float(m1["loss"]), float(m8["loss"]), rtol=1e-5, atol=1e-5)
    print("OK", float(m1["loss"]), float(m8["loss"]))
""")


def run_on_cpu_devices(script: str, devices: int) -> None:
    """Runs ``script`` in a fresh interpreter with ``devices`` emulated CPU devices (the flag
    is read when JAX starts) and requires it to exit cleanly, its last line starting ``OK``."""
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}",
               JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1].startswith("OK"), proc.stdout[-3000:]


def test_sharded_step_over_8_devices_matches_one_device():
    run_on_cpu_devices(SHARDED, 8)


SHARDED_ENSEMBLE = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from jtsgen.errors import InputError
    from jtsgen.models import lstm_vae
    from jtsgen.train import (create_state, data_mesh, fit_ensemble, init_replicas,
                              sample_rows, shard_replicas)
    assert jax.device_count() == 2, jax.devices()
    cfg = lstm_vae.LSTMVAEConfig(seq_len=24, hidden=8, latent=2, unroll=1)
    loss_fn = lstm_vae.make_loss_fn(cfg)
    x = jax.random.normal(jax.random.key(0), (32, 24, 1))
    init = lambda k: create_state(lstm_vae.init_params(k, cfg), optax.adam(1e-2))
    keys = jax.random.split(jax.random.key(1), 4)
    train_keys = jax.random.split(jax.random.key(2), 4)
    runs = {}
    for name, mesh in (("one", None), ("two", data_mesh())):
        states, hist = fit_ensemble(init_replicas(init, keys), x, train_keys, loss_fn=loss_fn,
                                    sampler=sample_rows(8), num_steps=6, steps_per_call=3,
                                    mesh=mesh)
        runs[name] = (states, hist)
    two = runs["two"][0].params
    assert len(jax.tree.leaves(two)[0].sharding.device_set) == 2
    for a, b in zip(jax.tree.leaves(runs["one"][0].params), jax.tree.leaves(two)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(runs["one"][1]["loss"], runs["two"][1]["loss"], rtol=1e-5)
    try:
        shard_replicas(jax.random.split(jax.random.key(3), 3), data_mesh())
    except InputError as e:
        assert "replicas" in str(e) and "multiple of 2" in str(e), e
    else:
        raise AssertionError("3 replicas on 2 devices must be refused")
    print("OK")
""")


def test_ensemble_split_over_2_devices_matches_one_device():
    run_on_cpu_devices(SHARDED_ENSEMBLE, 2)


DATA_PARALLEL = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np, optax
    from jtsgen.errors import InputError
    from jtsgen.models import lstm_vae
    from benchmarks.step_variants import make_data_parallel_step
    from jtsgen.train import (create_state, data_mesh, make_data_parallel_fused_steps,
                              make_train_step, replicate, shard_batch)
    assert jax.device_count() == 2, jax.devices()
    mesh = data_mesh()

    def mse(params, batch, key):  # ignores its key: updates must match exactly
        err = batch["x"] @ params["w"] + params["b"] - batch["y"]
        loss = jnp.mean(err ** 2)
        return loss, {"mae": jnp.mean(jnp.abs(err))}

    rng = np.random.default_rng(0)
    batch = {"x": jnp.asarray(rng.normal(size=(16, 3)), jnp.float32),
             "y": jnp.asarray(rng.normal(size=(16, 2)), jnp.float32)}
    params = {"w": jnp.zeros((3, 2), jnp.float32), "b": jnp.zeros((2,), jnp.float32)}
    single = make_train_step(mse, donate=False)
    for micro in (1, 2, 4):
        s1 = create_state(params, optax.adam(1e-1))
        s2 = replicate(s1, mesh)
        step = make_data_parallel_step(mse, mesh, microbatches=micro, donate=False)
        for i in range(3):
            s1, m1 = single(s1, batch, jax.random.key(0))
            s2, m2 = step(s2, shard_batch(batch, mesh), jax.random.key(0))
            for name in ("loss", "mae", "grad_norm"):
                np.testing.assert_allclose(float(m1[name]), float(m2[name]), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s2.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        assert int(s2.step) == 3
        # Fused: 3 steps in one call, each device "sampling" its whole shard.
        whole_shard = lambda key, data: data
        fused = make_data_parallel_fused_steps(mse, whole_shard, 3, mesh, microbatches=micro,
                                               donate=False)
        s3, m3 = fused(replicate(create_state(params, optax.adam(1e-1)), mesh),
                       shard_batch(batch, mesh), jax.random.key(0))
        assert m3["loss"].shape == (3,) and int(s3.step) == 3
        np.testing.assert_allclose(float(m3["loss"][-1]), float(m1["loss"]), rtol=1e-5)
        for a, b in zip(jax.tree.leaves(s1.params), jax.tree.leaves(s3.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)

    # A loss that draws noise (the LSTM-VAE) learns with microbatches on both devices.
    cfg = lstm_vae.LSTMVAEConfig(seq_len=16, hidden=8, latent=2, unroll=1)
    t = np.arange(16, dtype=np.float32)
    x = jnp.asarray(np.sin(t[None, :, None] / 3 + rng.uniform(0, 6, (32, 1, 1))), jnp.float32)
    state = replicate(create_state(lstm_vae.init_params(jax.random.key(1), cfg),
                                   optax.adam(2e-2)), mesh)
    step = make_data_parallel_step(lstm_vae.make_loss_fn(cfg), mesh, microbatches=2)
    losses = []
    for i in range(200):
        state, m = step(state, shard_batch(x, mesh), jax.random.key(2))
        losses.append(float(m["loss"]))
    assert np.all(np.isfinite(losses)), losses
    assert np.mean(losses[-5:]) < 0.25 * np.mean(losses[:5]), losses[::10]
    # (the fused steps learning the LSTM-VAE: test_fit_and_experiments_... below)

    for bad, micro, word in ((6, 2, "microbatches"), (16, 0, "microbatches")):
        try:
            make_data_parallel_step(mse, mesh, microbatches=micro)(
                replicate(create_state(params, optax.adam(1e-1)), mesh),
                shard_batch({"x": batch["x"][:bad], "y": batch["y"][:bad]}, mesh),
                jax.random.key(0))
        except InputError as e:
            assert word in str(e), e
        else:
            raise AssertionError(f"batch {bad} with {micro} microbatches must be refused")
    print("OK")
""")


def test_data_parallel_steps_over_2_devices_match_one_device_and_learn():
    run_on_cpu_devices(DATA_PARALLEL, 2)


FIT_DATA_PARALLEL = textwrap.dedent("""
    import dataclasses, tempfile
    import jax, jax.numpy as jnp, numpy as np
    from experiments import cgats_sines, lstm_vae
    from jtsgen.errors import InputError
    from jtsgen.models import cgats
    from jtsgen.train import (adam, create_state, fit, local_mesh, make_step_fn,
                              per_device_rows, sample_rows)
    mesh = local_mesh(2)
    assert local_mesh(1) is None

    def mse(params, batch, key):  # ignores its key: updates must match exactly
        err = batch["x"] @ params["w"] + params["b"] - batch["y"]
        return jnp.mean(err ** 2), {}

    rng = np.random.default_rng(0)
    data = {"x": jnp.asarray(rng.normal(size=(12, 3)), jnp.float32),
            "y": jnp.asarray(rng.normal(size=(12, 2)), jnp.float32)}
    fresh = lambda: create_state({"w": jnp.zeros((3, 2), jnp.float32),
                                  "b": jnp.zeros((2,), jnp.float32)}, adam(0.1))  # fit donates
    everything = lambda key, data: data  # every device's batch is the whole data set
    kw = dict(loss_fn=mse, sampler=everything, num_steps=7, steps_per_call=3, progress=False)
    one = fit(fresh(), data, jax.random.key(0), **kw)
    two = fit(fresh(), data, jax.random.key(0), mesh=mesh,
              microbatches=2, **kw)
    np.testing.assert_allclose(two.history["loss"], one.history["loss"], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(one.state.params), jax.tree.leaves(two.state.params)):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6)
    assert two.state.params["w"].sharding.is_fully_replicated
    # A killed data-parallel run resumes from its checkpoint to the same end.
    with tempfile.TemporaryDirectory() as tmp:
        for stop in (4, None):
            resumed = fit(fresh(), data, jax.random.key(0),
                          mesh=mesh, microbatches=2, checkpoint_dir=tmp, stop_after=stop, **kw)
    assert resumed.resumed_from == 4 and len(resumed.history["loss"]) == 7
    np.testing.assert_allclose(np.asarray(resumed.state.params["w"]),
                               np.asarray(two.state.params["w"]), rtol=1e-6)
    # A ready step (step=) data parallel: the whole data set on every device gives the
    # one-device run; own rows per device still give one state (the step's device_mean).
    by_step = {**kw, "loss_fn": None, "step": make_step_fn(mse)}
    two_steps = fit(fresh(), data, jax.random.key(0), mesh=mesh, **by_step)
    np.testing.assert_allclose(two_steps.history["loss"], one.history["loss"], rtol=1e-5)
    drawn = fit(fresh(), data, jax.random.key(0), mesh=mesh,
                **{**by_step, "sampler": sample_rows(4)})
    w0, w1 = (np.asarray(s.data) for s in drawn.state.params["w"].addressable_shards)
    np.testing.assert_array_equal(w0, w1)

    # The experiments train over config.devices: the LSTM-VAE learns on both devices.
    lv = lstm_vae.get_config("smoke")
    lv = dataclasses.replace(lv, devices=2, num_steps=100, steps_per_call=50,
                             model=dataclasses.replace(lv.model, learning_rate=1e-2))
    x = lstm_vae.load_data(lv)
    result = lstm_vae.train(lv, x, jax.random.key(1), jax.random.key(2), progress=False)
    losses = result.history["loss"]
    assert np.mean(losses[-10:]) < 0.6 * np.mean(losses[:10]), losses[::10]
    # C-GATS splits both stages' batches over the mesh.
    cg = cgats_sines.get_config("smoke")
    x_tr, y_tr, _, _ = cgats_sines.load_data(cg)
    model = dataclasses.replace(cg.model, stage1_steps=20, stage2_steps=20)
    g, hist = cgats.fit(jax.random.key(3), x_tr, y_tr, model, progress=False, mesh=mesh)
    assert len(hist["stage1"]["loss"]) == 20 and len(hist["stage2"]["loss"]) == 20
    assert np.all(np.isfinite(cgats.generate(g, jax.random.key(4), y_tr[:4])))

    def refused(fn, word):
        try:
            fn()
        except InputError as e:
            assert word in str(e), e
        else:
            raise AssertionError(f"must be refused: {word}")

    refused(lambda: local_mesh(3), "devices")
    refused(lambda: per_device_rows(15, mesh), "batch_size")
    refused(lambda: fit(fresh(), data, jax.random.key(0),
                        microbatches=2, **kw), "microbatches")
    print("OK")
""")


def test_fit_and_experiments_train_data_parallel_over_2_devices():
    run_on_cpu_devices(FIT_DATA_PARALLEL, 2)


def test_loss_ends_are_the_means_of_the_first_and_last_steps():
    from jtsgen.train import loss_ends

    assert loss_ends([4.0, 2.0, 1.0, 1.0, 0.0], n=2) == (3.0, 0.5)
    assert loss_ends(np.arange(30.0)) == (4.5, 24.5)
