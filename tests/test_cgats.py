"""Specification of C-GATS: label model, occlusion, two-stage training, generation."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.data.sines import make_sines
from jtsgen.errors import InputError
from jtsgen.models import cgats
from jtsgen.models.cgats import (
    DECODERS,
    CGATSConfig,
    _nets,
    decode,
    init_decoder_params,
    posterior,
    stage2_loss_fn,
)
from jtsgen.models.cgats_labels import (
    fit_label_model,
    label_vector,
    occlude,
    sample_labels,
    segments_of,
)

T = 32
SMOKE = CGATSConfig(seq_len=T, hidden=(8, 16), latent=4, head_hidden=16, batch_size=32,
                    stage1_steps=40, stage2_steps=300, steps_per_call=20, learning_rate=1e-2,
                    unroll=1)


def _data(n=600, seed=0):
    d = make_sines(n, seed, length=T, freq_range=(0.0, 0.1), kinds=("point",),
                   point_length=(1, 1), point_magnitude=3.0)
    return d.x_btc, d.y_bt


@pytest.fixture(scope="module")
def fitted():
    """``(state, history)`` of C-GATS trained on 600 windows."""
    x, y = _data()
    return cgats.fit(jax.random.key(0), x, y, SMOKE, progress=False)


@pytest.fixture(scope="module")
def trained(fitted):
    return fitted[0]


def test_occlusion_zeroes_exactly_the_labelled_points():
    x = jax.random.normal(jax.random.key(0), (3, 10, 2)) + 5.0
    y = jnp.zeros((3, 10)).at[0, 3].set(1).at[2, 5:8].set(1)
    xo = occlude(x, y)
    assert bool(jnp.all((xo == 0) == (y[..., None] == 1)))
    assert bool(jnp.all(jnp.where(y[..., None] == 1, True, xo == x)))


def test_label_model_samples_segments_seen_in_training():
    y = np.zeros((4, 50), np.float32)
    y[0, 10:13] = 1  # length 3
    y[1, 40] = 1  # length 1
    y[2, 5:10] = 1  # length 5 ...
    y[2, 30] = 1  # ... and a second segment
    model = fit_label_model(y[:3])
    assert sorted(np.asarray(model.lengths).tolist()) == [1, 1, 3, 5]
    assert sorted(np.asarray(model.counts).tolist()) == [1, 1, 2]
    samples = np.asarray(sample_labels(model, jax.random.key(0), 200))
    assert samples.shape == (200, 50) and set(np.unique(samples)) <= {0.0, 1.0}
    for row in samples:
        segs = segments_of(row)
        assert 1 <= len(segs) <= 2
    assert samples.sum(1).max() <= 10 and samples.sum(1).min() >= 1


def test_explicit_label_vectors():
    y = label_vector(240, segments=[(100, 141)], points=[30, 180])
    assert y.sum() == 43 and y[100] == y[140] == y[30] == y[180] == 1 and y[141] == 0
    with pytest.raises(InputError, match="segments"):
        label_vector(240, segments=[(200, 300)])


def test_network_shapes():
    enc, dec1, dec2 = _nets(SMOKE)
    x, y = jnp.zeros((5, T, 1)), jnp.zeros((5, T))
    pe = enc.init(jax.random.key(0), x)["params"]
    mu, logvar = enc.apply({"params": pe}, x)
    assert mu.shape == logvar.shape == (5, 4)
    p1 = dec1.init(jax.random.key(1), mu)["params"]
    assert dec1.apply({"params": p1}, mu).shape == (5, T, 1)
    _, fourier, _ = _nets(dataclasses.replace(SMOKE, n_freq=3))
    pf = fourier.init(jax.random.key(1), mu)["params"]
    assert pf["lstm1"]["w_ih"].shape[0] == 8 + 6  # zc + sin/cos of 3 frequencies
    assert fourier.apply({"params": pf}, mu).shape == (5, T, 1)
    for decoder in DECODERS:
        cfg = dataclasses.replace(SMOKE, decoder=decoder)
        p2 = init_decoder_params(cfg, jax.random.key(2))
        mean, lv, kl_a = decode(cfg, p2, mu, x, y, jax.random.key(3))
        assert mean.shape == lv.shape == (5, T, 1) and np.shape(kl_a) == ()
        assert ("anom" in p2) == (decoder == "anomaly_latent")


def test_stage2_leaves_encoder_parameters_bit_identical():
    x, y = _data(200)
    cfg = dataclasses.replace(SMOKE, stage1_steps=20, stage2_steps=20)
    model, _ = cgats.fit_stage1(cgats.CGATSState(cfg), jax.random.key(0), x, y, progress=False)
    before = jax.tree.map(np.array, model.enc_params)
    model, history = cgats.fit_stage2(model, jax.random.key(1), x, y, progress=False)
    after = jax.tree.map(np.array, model.enc_params)
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True):
        assert np.array_equal(a, b)
    assert history["loss"][-1] != history["loss"][0]


def test_posterior_in_chunks_equals_encoding_all_windows_at_once():
    x, y = _data(70)
    enc, _, _ = _nets(SMOKE)
    p = enc.init(jax.random.key(0), jnp.zeros((1, T, 1)))["params"]
    mu, logvar = enc.apply({"params": p}, occlude(jnp.asarray(x), jnp.asarray(y)))
    mu_c, logvar_c = posterior(SMOKE, p, x, y, chunk=32)  # 32 + 32 + 6 (padded)
    assert mu_c.shape == logvar_c.shape == (70, SMOKE.latent)
    np.testing.assert_allclose(mu_c, mu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logvar_c, logvar, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="x_btc"):
        posterior(SMOKE, p, x[:0], y[:0])


def test_stage2_loss_on_the_cached_posterior_is_the_loss_of_encoding_the_batch():
    """Algorithm 2 encodes each batch with the frozen θ; carrying its posterior in the
    batch gives the same loss and decoder gradient."""
    x, y = (jnp.asarray(a) for a in _data(16))
    enc, _, _ = _nets(SMOKE)
    pe = enc.init(jax.random.key(0), x[:1])["params"]
    pd = init_decoder_params(SMOKE, jax.random.key(1))
    key = jax.random.key(2)
    mu, logvar = enc.apply({"params": pe}, occlude(x, y))
    k_z, k_a = jax.random.split(key)
    z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(k_z, mu.shape)

    def by_hand(pd):
        mean, lv, kl_a = decode(SMOKE, pd, z, x, y, k_a)
        lv = jnp.maximum(lv, SMOKE.min_logvar)
        nll = jnp.mean(0.5 * jnp.sum(lv + (x - mean) ** 2 / jnp.exp(lv), axis=(1, 2)))
        return (nll + SMOKE.anomaly_kl_weight * kl_a) / T

    loss_fn = stage2_loss_fn(SMOKE)
    (loss, _), grads = jax.value_and_grad(loss_fn, has_aux=True)(pd, (x, y, (mu, logvar)), key)
    want, want_grads = jax.value_and_grad(by_hand)(pd)
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(want_grads), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_stage1_reconstructs_normal_windows_well_below_their_variance():
    """The foundation VAE learns: z carries the window (no posterior collapse)."""
    x, y = _data(600)
    _, history = cgats.fit_stage1(cgats.CGATSState(dataclasses.replace(SMOKE, stage1_steps=300)),
                                  jax.random.key(0), x, y, progress=False)
    recon = np.asarray(history["recon"])
    variance = float(np.mean(x[y.max(axis=1) == 0] ** 2))  # sines have mean ~0
    assert recon[-20:].mean() < 0.5 * variance
    assert np.asarray(history["kl"])[-20:].mean() > 1.0


def test_stage2_loss_falls(fitted):
    loss = np.asarray(fitted[1]["stage2"]["loss"])
    assert loss[-20:].mean() < loss[:20].mean() - 0.1


def test_generation_has_shape_and_carries_its_labels(trained):
    y = np.stack([label_vector(T, points=[5]), label_vector(T, segments=[(10, 20)])])
    x = cgats.generate(trained, jax.random.key(0), y)
    assert x.shape == (2, T, 1) and x.dtype == np.float32
    z = cgats.encode(trained, jax.random.key(1), x, y)
    assert z.shape == (2, 4)
    x2 = cgats.generate(trained, jax.random.key(0), y, z_bd=z)
    assert x2.shape == (2, T, 1)


def test_latent_prior_is_fitted_to_the_encoded_training_windows(trained):
    mean, chol = trained.latent_prior
    assert mean.shape == (4,) and chol.shape == (4, 4)
    z = np.asarray(cgats.sample_latent(trained, jax.random.key(2), 4000))
    np.testing.assert_allclose(z.mean(axis=0), mean, atol=0.1 * float(np.abs(chol).max()) + 0.02)
    np.testing.assert_allclose(np.cov(z, rowvar=False), chol @ chol.T, rtol=0.15, atol=0.02)
    x, y = _data(200)
    normal = y.max(axis=1) == 0
    z_enc = np.asarray(cgats.encode(trained, jax.random.key(3), x[normal], y[normal]))
    assert np.all(np.abs(z_enc.mean(axis=0) - mean) < 0.5 * np.sqrt(np.diag(chol @ chol.T)) + 0.05)
    z_std = np.asarray(cgats.sample_latent(trained, jax.random.key(2), 4000, prior="standard"))
    assert abs(z_std.mean()) < 0.05 and abs(z_std.std() - 1) < 0.05
    with pytest.raises(InputError, match="prior"):
        cgats.sample_latent(trained, jax.random.key(0), 2, prior="uniform")


def test_a_single_labelled_point_changes_the_output_most_at_that_point(trained):
    hits = 0
    for i, p in enumerate((6, 12, 20, 26)):
        y = label_vector(T, points=[p])[None]
        key = jax.random.key(10 + i)
        xa = cgats.generate(trained, key, y)
        xn = cgats.generate(trained, key, np.zeros_like(y))
        hits += int(np.argmax(np.abs(xa - xn)[0, :, 0]) == p)
    assert hits >= 3


@pytest.mark.parametrize("labels, message", [
    (np.zeros((2, T + 1)), "length"),
    (np.full((1, T), 0.5), "0 or 1"),
])
def test_bad_label_vectors_are_rejected(trained, labels, message):
    with pytest.raises(InputError, match=message):
        cgats.generate(trained, jax.random.key(0), labels)


def test_generate_before_training_is_an_error():
    with pytest.raises(InputError, match="not trained"):
        cgats.generate(cgats.CGATSState(SMOKE), jax.random.key(0), np.zeros((1, T)))


def test_ablations_train_and_generate():
    x, y = _data(200)
    for cfg in (dataclasses.replace(SMOKE, variant="cvae", stage2_steps=20),
                dataclasses.replace(SMOKE, cond_at="first", stage1_steps=20, stage2_steps=20)):
        model, _ = cgats.fit(jax.random.key(0), x, y, cfg, progress=False)
        out = cgats.generate(model, jax.random.key(1), label_vector(T, points=[3]))
        assert out.shape == (1, T, 1) and np.all(np.isfinite(out))


def test_multivariate_input_works():
    d = make_sines(120, 1, length=T, freq_range=(0.0, 0.1))
    x = np.concatenate([d.x_btc, -d.x_btc], axis=-1)
    cfg = dataclasses.replace(SMOKE, channels=2, stage1_steps=20, stage2_steps=20)
    model, _ = cgats.fit(jax.random.key(0), x, d.y_bt, cfg, progress=False)
    out = cgats.generate(model, jax.random.key(1), d.y_bt[:3])
    assert out.shape == (3, T, 2)


def test_orbax_resume_reaches_the_uninterrupted_parameters(tmp_path):
    x, y = _data(200)
    cfg = dataclasses.replace(SMOKE, stage1_steps=20, stage2_steps=40)
    full, _ = cgats.fit(jax.random.key(0), x, y, cfg, progress=False)
    short = dataclasses.replace(cfg, stage2_steps=20)
    cgats.fit(jax.random.key(0), x, y, short, checkpoint_dir=tmp_path, progress=False)
    resumed, _ = cgats.fit(jax.random.key(0), x, y, cfg, checkpoint_dir=tmp_path, progress=False)
    for a, b in zip(jax.tree.leaves(full.dec_params), jax.tree.leaves(resumed.dec_params),
                    strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_bad_training_input_is_rejected():
    x, y = _data(50)
    x = x.copy()
    x[3, 4, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        cgats.fit(jax.random.key(0), x, y, SMOKE, progress=False)
    with pytest.raises(InputError, match="x_btc"):
        cgats.fit(jax.random.key(0), x[:, :10], y, SMOKE, progress=False)


def test_quantile_marginal_generates_in_the_data_range_and_encodes_data_space_input():
    x, y = _data(200)
    shifted = 100.0 + 0.1 * x  # values near 100: the networks must see N(0, 1) scores
    cfg = dataclasses.replace(SMOKE, marginal="quantile", stage1_steps=20, stage2_steps=20)
    model, _ = cgats.fit(jax.random.key(0), shifted, y, cfg, progress=False)
    assert model.marginal_q.shape[1] == 1
    out = cgats.generate(model, jax.random.key(1), y[:16])
    assert out.shape == (16, T, 1)
    assert shifted.min() <= out.min() and out.max() <= shifted.max()
    # encode reads data-space series (the same codes as the scores it maps them to)
    z = cgats.encode(model, jax.random.key(2), shifted[:4], y[:4])
    z_scores = cgats._reparam(jax.random.key(2), *posterior(
        cfg, model.enc_params, cgats._marginal(model).transform(shifted[:4]), y[:4]))
    np.testing.assert_allclose(z, z_scores, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="marginal"):
        dataclasses.replace(SMOKE, marginal="log")


def test_residual_noise_adds_a_normal_training_window_residual_to_the_mean():
    x, y = _data(200)
    cfg = dataclasses.replace(SMOKE, noise="residual", stage1_steps=20, stage2_steps=20)
    model, _ = cgats.fit(jax.random.key(0), x, y, cfg, progress=False)
    normal = x[y.max(axis=1) == 0]
    assert model.residual_bank.shape == normal.shape
    # with one residual in the bank and z the posterior mean of its own window, the
    # generated series at temperature 1 is that training window itself
    i, y0 = 3, np.zeros((1, T), np.float32)
    one = model.replace(residual_bank=model.residual_bank[i:i + 1])
    mu, _ = posterior(cfg, model.enc_params, normal[i:i + 1], y0)
    out = cgats.generate(one, jax.random.key(1), y0, z_bd=mu, temperature=1.0)
    np.testing.assert_allclose(out, normal[i:i + 1], atol=1e-4)
    mean = cgats.generate(one, jax.random.key(1), y0, z_bd=mu, temperature=0.0)
    assert np.abs(out - mean).max() > 1e-2  # the residual is not nothing
    with pytest.raises(ValueError, match="non-autoregressive"):
        dataclasses.replace(SMOKE, noise="residual", decoder="autoregressive")


def test_anomalies_inserted_into_given_series_use_their_own_occluded_z(trained):
    x, y_own = _data(8, seed=5)
    y_new = np.stack([label_vector(T, segments=[(4 + i, 10 + i)]) for i in range(8)])
    key = jax.random.key(7)
    kz, kg = jax.random.split(key)
    occluded_at = np.maximum(y_own, y_new)  # neither the old nor the new anomaly reaches z
    z = cgats.encode(trained, kz, x, occluded_at)
    expected = cgats.generate(trained, kg, y_new, z_bd=z)
    np.testing.assert_allclose(cgats.insert_anomalies(trained, key, x, y_own, y_new),
                               expected, rtol=1e-6, atol=1e-6)
    pasted = cgats.insert_anomalies(trained, key, x, y_own, y_new, paste=True)
    keep = occluded_at[..., None] == 0
    np.testing.assert_array_equal(pasted[np.broadcast_to(keep, x.shape)],
                                  x[np.broadcast_to(keep, x.shape)])
    np.testing.assert_allclose(pasted[~np.broadcast_to(keep, x.shape)],
                               expected[~np.broadcast_to(keep, x.shape)], rtol=1e-6, atol=1e-6)


def test_regenerated_series_keep_the_normal_pattern_of_the_given_ones():
    """With a foundation model that has learnt (600 steps), each regenerated series is
    closer to its own given series than to another one (0.71 of it when written)."""
    x, y = _data(600)
    state, _ = cgats.fit(jax.random.key(0), x, y, dataclasses.replace(
        SMOKE, stage1_steps=600, stage2_steps=40), progress=False)
    x, y_own = _data(64, seed=6)
    out = cgats.insert_anomalies(state, jax.random.key(0), x, y_own, np.zeros_like(y_own),
                                 temperature=0.0)
    normal = y_own[..., None] == 0
    own = np.abs(out - x)[normal].mean()
    another = np.abs(out - np.roll(x, 1, axis=0))[normal & np.roll(normal, 1, axis=0)].mean()
    assert own < 0.8 * another


def test_inserting_into_series_of_another_shape_is_refused(trained):
    x, y_own = _data(4)
    with pytest.raises(InputError, match="agree"):
        cgats.insert_anomalies(trained, jax.random.key(0), x[:3], y_own, y_own)
