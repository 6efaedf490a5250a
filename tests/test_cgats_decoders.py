"""Specification of C-GATS's stage-2 decoders: paper, anomaly latent, autoregressive."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.data.sines import make_sines
from jtsgen.errors import InputError
from jtsgen.evaluate.realism import run_stats
from jtsgen.models import cgats
from jtsgen.models.cgats import DECODERS, CGATSConfig, _nets, decode, posterior
from jtsgen.models.cgats_decoders import warm_start
from jtsgen.models.cgats_labels import label_vector

T = 32
SMOKE = CGATSConfig(seq_len=T, hidden=(8, 16), latent=4, head_hidden=16, batch_size=32,
                    stage1_steps=150, stage2_steps=300, steps_per_call=50, learning_rate=1e-2,
                    unroll=1, anomaly_dim=2)


def _level_shifts(n=400, seed=0):
    d = make_sines(n, seed, length=T, freq_range=(0.0, 0.1), kinds=("level_shift",),
                   level_length=(6, 10), level_magnitude=(2.0, 3.0))
    return d.x_btc, d.y_bt


@pytest.fixture(scope="module")
def stage1():
    x, y = _level_shifts()
    state, _ = cgats.fit_stage1(cgats.CGATSState(SMOKE), jax.random.key(0), x, y, progress=False)
    return state, x, y


def _stage2(stage1, decoder, cond_at="last"):
    base, x, y = stage1
    model = base.replace(config=dataclasses.replace(SMOKE, decoder=decoder, cond_at=cond_at))
    return cgats.fit_stage2(model, jax.random.key(1), x, y, progress=False)[0]


def test_stage1_decoder_is_in_its_pattern_from_the_first_step(stage1):
    """ψ's LSTMs start from states read off z: its first steps reconstruct at least as
    well as the rest (from zero states they were the worst: every window began flat)."""
    base, x, y = stage1
    normal = x[y.max(axis=1) == 0]
    mu, _ = posterior(SMOKE, base.enc_params, normal, np.zeros(normal.shape[:2], np.float32))
    recon = np.asarray(_nets(SMOKE)[1].apply({"params": base.dec1_params}, mu))
    err_t = ((recon - normal) ** 2).mean(axis=(0, 2))
    assert err_t[:2].mean() < err_t[2:].mean()


def test_warm_started_decoder_without_labels_is_the_stage1_decoder(stage1):
    """At y = 0 the label-gated head adds nothing, so φ started from ψ outputs ψ(z)."""
    base, _, _ = stage1
    cfg = dataclasses.replace(SMOKE, decoder="anomaly_latent")
    _, dec1, dec2 = _nets(cfg)
    z = jax.random.normal(jax.random.key(3), (5, SMOKE.latent))
    y0, a = jnp.zeros((5, T)), jax.random.normal(jax.random.key(4), (5, 2))
    init = dec2.init(jax.random.key(5), z, y0, a)["params"]
    mean, _ = dec2.apply({"params": warm_start(init, base.dec1_params)}, z, y0, a)
    want = dec1.apply({"params": base.dec1_params}, z)
    np.testing.assert_allclose(mean, want, rtol=1e-5, atol=1e-6)


def test_first_layer_warm_start_keeps_its_label_rows():
    cfg = dataclasses.replace(SMOKE, cond_at="first")
    _, dec1, dec2 = _nets(cfg)
    z = jnp.zeros((1, SMOKE.latent))
    psi = dec1.init(jax.random.key(0), z)["params"]
    init = dec2.init(jax.random.key(1), z, jnp.zeros((1, T)), jnp.zeros((1, 2)))["params"]
    w = warm_start(init, psi)["lstm1"]["w_ih"]
    n_z, n_dyn = SMOKE.hidden[0], 1 + 2  # y and y * a
    np.testing.assert_array_equal(w[:n_z], psi["lstm1"]["w_ih"][:n_z])
    np.testing.assert_array_equal(w[n_z:n_z + n_dyn], init["lstm1"]["w_ih"][n_z:n_z + n_dyn])
    np.testing.assert_array_equal(w[n_z + n_dyn:], psi["lstm1"]["w_ih"][n_z:])


@pytest.mark.parametrize("decoder, cond_at", [(d, "last") for d in DECODERS]
                         + [("anomaly_latent", "first")])  # Table 11's ablation
def test_sampler_at_temperature_zero_is_the_teacher_forced_forward_pass(stage1, decoder,
                                                                        cond_at):
    """Generation and training run the same network: the mean of the teacher-forced
    pass on a generated series (given its z and a) is that series."""
    model = _stage2(stage1, decoder, cond_at)
    y = np.stack([label_vector(T, segments=[(8, 15)]), label_vector(T, points=[20])])
    z = cgats.sample_latent(model, jax.random.key(2), 2)
    a = cgats.sample_anomaly(model, jax.random.key(3), 2)
    x = cgats.generate(model, jax.random.key(4), y, z_bd=z, a_bd=a, temperature=0.0)
    c = model.config
    params = dict(model.dec_params)
    if decoder == "anomaly_latent":  # teacher forcing with this a: encoder's mean = a
        mean, _, _ = _forward_with_a(c, params, z, y, a)
    else:
        mean, _, _ = decode(c, params, z, jnp.asarray(x), jnp.asarray(y), jax.random.key(0))
    np.testing.assert_allclose(mean, x, rtol=1e-4, atol=1e-5)


def _forward_with_a(c, params, z, y, a):
    _, _, dec2 = _nets(c)
    return (*dec2.apply({"params": params["dec2"]}, z, jnp.asarray(y), a), 0.0)


@pytest.mark.parametrize("decoder, passes", [("anomaly_latent", True), ("paper", False)])
def test_anomaly_latent_makes_level_shifts_both_ways(stage1, decoder, passes):
    """Trained on level shifts up and down (offset ~2.5, flat inside), decoded at
    temperature 0: runs drawn from the anomaly latent sit far from the normal level,
    stay flat, and go both ways. The paper's decoder, whose mean cannot know the
    direction, averages them away (offset ~0.2). (The autoregressive decoder's mean
    path is left out: whether it commits to one direction or to both depends on
    floating-point rounding — one direction on one CI machine, both on another.)"""
    model = _stage2(stage1, decoder)
    y = np.tile(label_vector(T, segments=[(10, 18)]), (200, 1))
    x = cgats.generate(model, jax.random.key(7), y, temperature=0.0)
    s = run_stats(x, y)
    up = np.mean(x[:, 10:18, 0].mean(1) > x[:, [9, 18], 0].mean(1))
    ok = (np.median(s["offset"]) > 1.0 and np.nanmean(s["within_dx"]) < 0.35 * np.mean(s["offset"])
          and 0.15 < up < 0.85)
    assert ok == passes


def test_anomaly_latent_encoder_and_prior(stage1):
    model = _stage2(stage1, "anomaly_latent")
    _, x, y = stage1
    a = cgats.encode_anomaly(model, jax.random.key(0), x[:7], y[:7])
    assert a.shape == (7, 2)
    mu, sigma = model.anomaly_prior
    assert mu.shape[1] == 2 and sigma.shape == mu.shape and bool(jnp.all(sigma > 0))
    draws = cgats.sample_anomaly(model, jax.random.key(1), 3000)
    assert draws.shape == (3000, 2)
    std = cgats.sample_anomaly(model, jax.random.key(1), 3000, prior="standard")
    assert abs(float(std.mean())) < 0.05
    with pytest.raises(InputError, match="a_bd"):
        cgats.generate(model, jax.random.key(0), y[:2], a_bd=np.zeros((2, 5)))
    paper = _stage2(stage1, "paper")
    assert cgats.sample_anomaly(paper, jax.random.key(0), 2) is None
    with pytest.raises(InputError, match="no anomaly latent"):
        cgats.encode_anomaly(paper, jax.random.key(0), x[:2], y[:2])


def test_calibrated_temperature_matches_the_datas_roughness(stage1):
    """Stage 2 ends by choosing the temperature at which generated series are as noisy
    (mean |Δ²x| off the labels) as the training windows; noisier data, hotter sampling."""
    model = _stage2(stage1, "anomaly_latent")
    _, x, y = stage1

    def roughness(x_btc, y_bt):
        normal = (y_bt[:, 2:] == 0) & (y_bt[:, 1:-1] == 0) & (y_bt[:, :-2] == 0)
        return np.abs(np.diff(np.asarray(x_btc)[..., 0], n=2, axis=1))[normal].mean()

    t = model.temperature
    assert 0.0 <= t <= 1.0
    gen = cgats.generate(model, jax.random.key(0), y[:512])  # the default uses it
    if 0.0 < t < 1.0:
        assert abs(roughness(gen, y[:512]) - roughness(x[:512], y[:512])) < 0.1 * roughness(
            x[:512], y[:512])
    noisy = x + 0.3 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)
    assert cgats.calibrate_temperature(model, jax.random.key(1), noisy, y).temperature > t


def test_labelled_steps_get_their_own_calibrated_temperature(stage1):
    """With label_temperature, labelled steps are sampled at a temperature matched to the
    roughness inside the training windows' labelled runs, unlabelled ones as before;
    an explicit temperature still applies everywhere (0 = the decoder's mean)."""
    _, x, y = stage1
    model = cgats.calibrate_temperature(_stage2(stage1, "anomaly_latent"), jax.random.key(1),
                                        x, y)
    split = cgats.calibrate_temperature(
        model.replace(config=dataclasses.replace(model.config, label_temperature=True)),
        jax.random.key(1), x, y)
    assert split.temperature == model.temperature and model.label_temperature is None
    assert 0.0 <= split.label_temperature <= 1.0
    key, labels = jax.random.key(0), y[:64]
    lab = labels > 0
    both = cgats.generate(split, key, labels)
    normal_only = cgats.generate(split, key, labels, label_temperature=0.0)
    mean = cgats.generate(split, key, labels, temperature=0.0)
    np.testing.assert_allclose(normal_only[lab], mean[lab], atol=1e-5)  # labelled: the mean
    np.testing.assert_allclose(normal_only[~lab], both[~lab], atol=1e-5)  # rest: as before
    shared = cgats.generate(model, key, labels)
    np.testing.assert_allclose(shared[~lab], both[~lab], atol=1e-5)
    hot = x.copy()
    hot[y > 0] += 0.5 * np.random.default_rng(0).standard_normal(hot[y > 0].shape).astype(
        np.float32)  # rougher anomalies in the data: hotter labelled sampling
    assert cgats.calibrate_temperature(split, jax.random.key(1), hot, y).label_temperature > (
        split.label_temperature)


def test_bad_decoder_names_are_rejected():
    with pytest.raises(ValueError, match="decoder"):
        CGATSConfig(decoder="transformer")
    with pytest.raises(ValueError, match="anomaly_dim"):
        CGATSConfig(anomaly_dim=0)
