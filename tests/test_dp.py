"""DP-SGD: per-example clipping, the noisy mean, the ε accounting, and a DP LSTM-VAE."""

import dp_accounting
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jtsgen.data.generators import make_trend_seasonal_spikes
from jtsgen.models import lstm_vae
from jtsgen.train import create_state, dp, sample_rows


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
