"""DP-SGD: per-example clipping, the noisy mean, the ε accounting, and a DP LSTM-VAE."""

import dp_accounting
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jtsgen.data.generators import make_trend_seasonal_spikes
from jtsgen.models import lstm_vae
from jtsgen.train import create_state, dp, init_replicas, sample_rows


def _linear_loss(params, batch, key):
    """Squared error of a linear model; gradient norms grow with the example's size."""
    x, y = batch
    pred = x @ params["w"] + params["b"]
    return jnp.mean((pred - y) ** 2), {}


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 3)) * np.linspace(0.1, 5.0, 8)[:, None]  # small to large
    y = rng.standard_normal(8)
    params = {"w": jnp.asarray(rng.standard_normal(3), jnp.float32), "b": jnp.float32(0.3)}
    return params, (jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32))


def _by_hand(params, batch, clip):
    """Per-example gradients (a Python loop of jax.grad), their norms and the clipped mean."""
    grads, norms = [], []
    for i in range(batch[0].shape[0]):
        g = jax.grad(lambda p, i=i: _linear_loss(p, (batch[0][i:i + 1], batch[1][i:i + 1]),
                                                 None)[0])(params)
        flat = np.concatenate([np.ravel(g["w"]), np.ravel(g["b"])])
        grads.append(flat)
        norms.append(np.linalg.norm(flat))
    grads, norms = np.array(grads), np.array(norms)
    clipped = grads * np.minimum(1.0, clip / norms)[:, None]
    return grads, norms, clipped.mean(0)


def test_per_example_gradients_and_norms_before_clipping(problem):
    params, batch = problem
    losses, grads = dp.per_example_grads(_linear_loss, params, batch, jax.random.key(0))
    hand, norms, _ = _by_hand(params, batch, 1.0)
    assert losses.shape == (8,) and grads["w"].shape == (8, 3) and grads["b"].shape == (8,)
    np.testing.assert_allclose(np.c_[grads["w"], grads["b"]], hand, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dp.global_norms(grads), norms, rtol=1e-5)


def test_every_per_example_gradient_is_clipped_to_the_bound(problem):
    params, batch = problem
    _, grads = dp.per_example_grads(_linear_loss, params, batch, jax.random.key(0))
    clip = float(np.median(dp.global_norms(grads)))  # half the examples exceed it
    clipped, before = dp.clip_per_example(grads, clip)
    after = np.asarray(dp.global_norms(clipped))
    assert (np.asarray(before) > clip).sum() == 4
    assert np.all(after <= clip * (1 + 1e-5))
    big = np.asarray(before) > clip
    np.testing.assert_allclose(after[big], clip, rtol=1e-5)  # clipped ones sit on the bound
    np.testing.assert_allclose(after[~big], np.asarray(before)[~big], rtol=1e-6)  # others kept


def test_noise_free_step_applies_the_mean_of_clipped_gradients(problem):
    params, batch = problem
    clip = 2.0
    _, _, mean_clipped = _by_hand(params, batch, clip)
    step = dp.make_dp_step_fn(_linear_loss, clip, noise_multiplier=0.0)
    state, metrics = step(create_state(params, optax.sgd(1.0)), batch, jax.random.key(0))
    update = np.r_[params["w"] - state.params["w"], params["b"] - state.params["b"]]
    np.testing.assert_allclose(update, mean_clipped, rtol=1e-5, atol=1e-7)
    assert 0 < float(metrics["clipped_share"]) < 1
    # optax's own DP aggregation of the same per-example gradients agrees
    _, grads = dp.per_example_grads(_linear_loss, params, batch, jax.random.key(0))
    agg = optax.contrib.differentially_private_aggregate(clip, 0.0, jax.random.key(1))
    ref, _ = agg.update(grads, agg.init(params))
    np.testing.assert_allclose(np.r_[ref["w"], ref["b"]], mean_clipped, rtol=1e-5, atol=1e-7)


def test_noise_on_the_mean_has_std_noise_multiplier_times_clip_over_batch():
    def flat_loss(params, batch, key):  # zero gradient: the update is the noise alone
        return 0.0 * jnp.sum(params["v"]) + 0.0 * jnp.sum(batch), {}

    params = {"v": jnp.zeros(20000)}
    step = dp.make_dp_step_fn(flat_loss, clip=0.5, noise_multiplier=1.5)
    state, _ = step(create_state(params, optax.sgd(1.0)), jnp.zeros((10, 1)), jax.random.key(3))
    assert float(jnp.std(state.params["v"])) == pytest.approx(1.5 * 0.5 / 10, rel=0.03)


def test_epsilon_is_dp_accountings_rdp_epsilon():
    sigma, q, steps, delta = 1.1, 0.01, 500, 1e-5
    accountant = dp_accounting.rdp.RdpAccountant()
    accountant.compose(dp_accounting.SelfComposedDpEvent(
        dp_accounting.PoissonSampledDpEvent(q, dp_accounting.GaussianDpEvent(sigma)), steps))
    assert dp.epsilon(sigma, q, steps, delta) == pytest.approx(accountant.get_epsilon(delta),
                                                                 rel=1e-9)


def test_epsilon_grows_with_steps_and_shrinks_with_noise():
    by_steps = [dp.epsilon(1.0, 0.01, s, 1e-5) for s in (100, 1000, 10000)]
    by_noise = [dp.epsilon(s, 0.01, 1000, 1e-5) for s in (0.7, 1.0, 2.0, 4.0)]
    assert by_steps == sorted(by_steps) and len(set(by_steps)) == 3
    assert by_noise == sorted(by_noise, reverse=True) and len(set(by_noise)) == 4


def test_dp_training_of_the_lstm_vae_still_lowers_its_loss():
    config = lstm_vae.LSTMVAEConfig(seq_len=24, hidden=16)
    x = make_trend_seasonal_spikes(256, 24, seed=0).x_btc  # seed 000 series, z-normalised
    x = jnp.asarray((x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True), jnp.float32)
    state = create_state(lstm_vae.init_params(jax.random.key(0), config), optax.adam(1e-2))
    result = dp.fit_dp(state, x, jax.random.key(1), loss_fn=lstm_vae.make_loss_fn(config),
                       sampler=sample_rows(16), num_steps=100, steps_per_call=100, clip=0.1,
                       noise_multiplier=0.5, progress=False)
    h = result.history
    assert np.mean(h["loss"][-10:]) < 0.95 * np.mean(h["loss"][:10])  # measured: 1.01 -> 0.88
    assert np.mean(h["clipped_share"]) > 0.1  # the bound is active: this is DP-SGD, not SGD
    assert int(result.state.step) == 100



def test_an_interrupted_dp_run_resumes_to_the_uninterrupted_state(problem, tmp_path):
    params, data = problem
    kw = dict(loss_fn=_linear_loss, sampler=sample_rows(4), num_steps=20, steps_per_call=5,
              clip=0.5, noise_multiplier=1.0, progress=False)

    def fresh():  # fit donates its state's buffers
        return create_state(jax.tree.map(jnp.array, params), optax.sgd(0.1))

    whole = dp.fit_dp(fresh(), data, jax.random.key(3), **kw)
    ckpt = str(tmp_path / "ckpt")
    first = dp.fit_dp(fresh(), data, jax.random.key(3),
                      checkpoint_dir=ckpt, checkpoint_every=5, stop_after=10, **kw)
    assert int(first.state.step) == 10
    resumed = dp.fit_dp(fresh(), data, jax.random.key(3),
                        checkpoint_dir=ckpt, checkpoint_every=5, **kw)
    assert int(resumed.state.step) == 20
    assert resumed.resumed_from == 10  # from the checkpoint, not from scratch
    np.testing.assert_allclose(resumed.history["loss"], whole.history["loss"], rtol=1e-6)
    for a, b in zip(jax.tree.leaves(resumed.state.params), jax.tree.leaves(whole.state.params),
                    strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)  # the noise replays from the step key


def test_poisson_rows_join_independently_at_the_rate_and_fill_the_first_places():
    n, q = 200, 0.1
    data = (jnp.arange(n, dtype=jnp.float32)[:, None], jnp.arange(n))
    capacity = dp.poisson_capacity(n, q)
    assert capacity == 20 + int(np.ceil(6 * np.sqrt(20 * 0.9)))  # 46
    sample = jax.jit(dp.poisson_rows(q, capacity))
    counts, joined_rows = [], np.zeros(n)
    for i in range(400):
        batch = sample(jax.random.key(i), data)
        k = int(batch.mask_b.sum())
        counts.append(k)
        assert batch.mask_b.shape == (capacity,) and float(batch.denominator) == q * n
        mask = np.asarray(batch.mask_b)
        assert np.all(mask[:k] == 1) and np.all(mask[k:] == 0)  # joined rows come first
        ids = np.asarray(batch.rows[1][:k])
        assert len(set(ids.tolist())) == k  # each joined row at most once (no replacement)
        np.testing.assert_array_equal(np.asarray(batch.rows[0][:k, 0]), ids.astype(np.float32))
        joined_rows[ids] += 1
        assert int(batch.overflow) == 0
    assert np.mean(counts) == pytest.approx(q * n, rel=0.05)  # binomial(200, 0.1)
    assert np.var(counts) == pytest.approx(q * (1 - q) * n, rel=0.25)
    assert joined_rows.min() > 0 and joined_rows.mean() == pytest.approx(40, rel=0.05)
    small = dp.poisson_rows(q, 5)(jax.random.key(0), data)  # ~20 join, 5 places
    assert int(small.mask_b.sum()) == 5 and int(small.overflow) > 0


def test_a_poisson_step_sums_the_joined_clipped_gradients_over_the_fixed_denominator(problem):
    params, (x, y) = problem
    clip, n, q = 1.0, 8, 0.5
    batch = dp.PoissonBatch((x, y), jnp.asarray([1, 0, 1, 1, 0, 0, 1, 0], jnp.float32),
                            jnp.float32(q * n), jnp.int32(0))
    grads, norms, _ = _by_hand(params, (x, y), clip)
    clipped = grads * np.minimum(1.0, clip / norms)[:, None]
    expected = (clipped * np.asarray(batch.mask_b)[:, None]).sum(0) / (q * n)
    step = dp.make_dp_step_fn(_linear_loss, clip=clip, noise_multiplier=0.0)
    state, metrics = step(create_state(params, optax.sgd(1.0)), batch, jax.random.key(0))
    update = np.concatenate([np.ravel(params["w"] - state.params["w"]),
                             np.ravel(params["b"] - state.params["b"])])
    np.testing.assert_allclose(update, expected, rtol=1e-5, atol=1e-6)
    joined = np.asarray(batch.mask_b) > 0
    assert float(metrics["batch_size"]) == 4
    assert float(metrics["grad_norm_mean"]) == pytest.approx(norms[joined].mean(), rel=1e-5)
    assert float(metrics["clipped_share"]) == pytest.approx(np.mean(norms[joined] > clip))


def test_dp_training_with_poisson_sampling_lowers_the_loss(problem):
    params, data = problem
    state = create_state(jax.tree.map(jnp.array, params), optax.sgd(0.05))  # fit donates it
    n, q = 8, 0.5
    result = dp.fit_dp(state, data, jax.random.key(2), loss_fn=_linear_loss,
                       sampler=dp.poisson_rows(q, dp.poisson_capacity(n, q)), num_steps=200,
                       steps_per_call=50, clip=5.0, noise_multiplier=0.1, progress=False)
    h = result.history
    assert np.mean(h["loss"][-20:]) < 0.8 * np.mean(h["loss"][:20])
    assert np.mean(h["batch_size"]) == pytest.approx(q * n, rel=0.15)
    assert int(np.sum(h["overflow"])) == 0


def test_a_dp_sweep_replica_equals_fit_dp_with_its_settings(problem):
    params, data = problem
    settings = dp.DPSettings(clip=[0.1, 0.5, 2.0], noise_multiplier=[0.0, 1.0, 4.0])
    keys, sgd = jax.random.split(jax.random.key(5), 3), optax.sgd(0.1)

    def fresh(_key=None):
        return create_state(jax.tree.map(jnp.array, params), sgd)

    stacked = init_replicas(fresh, keys)  # three copies of one start
    programs = {}
    states, first = dp.fit_dp_sweep(stacked, data, keys, settings, loss_fn=_linear_loss,
                                    sampler=sample_rows(4), num_steps=10, steps_per_call=5,
                                    programs=programs)
    states, second = dp.fit_dp_sweep(states, data, keys, settings, loss_fn=_linear_loss,
                                     sampler=sample_rows(4), num_steps=10, steps_per_call=5,
                                     programs=programs)  # trained on in a second segment
    assert list(programs) == [5] and first["loss"].shape == (3, 10)
    for k in range(3):
        alone = dp.fit_dp(fresh(), data, keys[k], loss_fn=_linear_loss, sampler=sample_rows(4),
                          num_steps=20, steps_per_call=5, clip=settings.clip[k],
                          noise_multiplier=settings.noise_multiplier[k], progress=False)
        np.testing.assert_allclose(np.r_[first["loss"][k], second["loss"][k]],
                                   alone.history["loss"], rtol=1e-5)
        np.testing.assert_allclose(states.params["w"][k], alone.state.params["w"], rtol=1e-5,
                                   atol=1e-6)
    share = first["clipped_share"].mean(axis=1)  # a tighter bound clips more examples
    assert share[0] > share[2] and share[0] >= 0.75
    assert not np.allclose(states.params["w"][1], states.params["w"][2])
