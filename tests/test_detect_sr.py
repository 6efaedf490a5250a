"""Specification of the Spectral Residual saliency and the SR-CNN detector."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.data import make_sines
from jtsgen.detect import baselines, sr_cnn
from jtsgen.detect.spectral_residual import extend_series, saliency, saliency_btc
from jtsgen.errors import InputError
from jtsgen.metrics import point_prf
from tests.detector_checks import assert_ensemble_is_the_mean_of_its_replicas, spiky_windows

SMALL = sr_cnn.Config(features=(16, 16), kernel=5, batch_size=32, num_steps=300,
                      steps_per_call=100, learning_rate=3e-3)


def test_saliency_peaks_at_an_injected_spike():
    t = np.arange(240)
    positions = np.array([10, 60, 117, 180, 225])
    x = np.stack([np.sin(2 * np.pi * f * t) for f in (0.01, 0.03, 0.05, 0.02, 0.08)])
    x[np.arange(5), positions] += 3.0
    sal = np.asarray(saliency_btc(jnp.asarray(x[:, :, None], jnp.float32)))
    assert sal.shape == (5, 240, 1)
    np.testing.assert_array_equal(sal[:, :, 0].argmax(axis=1), positions)
    single = np.asarray(saliency(jnp.asarray(x[2], jnp.float32)))
    np.testing.assert_allclose(single, sal[2, :, 0], rtol=1e-5, atol=1e-6)


def test_extension_continues_the_average_gradient():
    # On a line the average gradient is its slope, so the estimate is the next point.
    out = np.asarray(extend_series(jnp.arange(10.0) * 2.0 + 1.0, extend=3, lookback=5))
    np.testing.assert_allclose(out, np.concatenate([np.arange(10) * 2.0 + 1.0, [21.0] * 3]))


def test_saliency_of_a_pure_sine_is_flat_compared_with_a_spike():
    x = np.sin(2 * np.pi * 0.05 * np.arange(200)).astype(np.float32)
    spiked = x.copy()
    spiked[100] += 3.0
    flat, peak = np.asarray(saliency(jnp.asarray(x))), np.asarray(saliency(jnp.asarray(spiked)))
    assert peak.max() / np.median(peak) > 5 * flat.max() / np.median(flat)


@pytest.fixture(scope="module")
def trained():
    """One SR-CNN fit on Synthetic Sines; the loss is traced at most once."""
    train = make_sines(128, 0, freq_range=(0.0, 0.1))
    original = sr_cnn.make_loss_fn
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sr_cnn, "make_loss_fn", lambda c: chex.assert_max_traces(original(c), n=1))
        fitted = sr_cnn.fit(jax.random.key(0), train.x_btc, train.y_bt, SMALL)
    return train, fitted


def test_training_loss_is_finite_falls_and_compiles_once(trained):
    _, fitted = trained  # assert_max_traces(n=1) would have raised on a second trace
    loss = np.asarray(fitted.info["history"]["loss"])
    assert loss.shape == (SMALL.num_steps,)
    assert np.all(np.isfinite(loss))
    assert loss[-30:].mean() < 0.7 * loss[:30].mean()


def test_sr_cnn_beats_random_scores_on_held_out_sines(trained):
    train, fitted = trained
    test = make_sines(64, 1, freq_range=(0.0, 0.1))
    scores = fitted.score(test.x_btc)
    assert scores.shape == test.y_bt.shape and scores.min() >= 0 and scores.max() <= 1
    f1_srcnn = float(point_prf(test.y_bt, fitted.predict(test.x_btc))[2])
    case1 = baselines.fit(jax.random.key(0), train.x_btc, train.y_bt,
                          baselines.Config(kind="case1"))
    f1_case1 = float(point_prf(test.y_bt, case1.predict(test.x_btc))[2])
    assert f1_srcnn > f1_case1 + 0.05


def test_injection_labels_exactly_the_moved_points():
    x = jnp.tile(jnp.sin(jnp.arange(50.0))[None, :, None], (16, 1, 2))
    cfg = sr_cnn.Config(inject_prob=1.0, inject_points=3, inject_scale=(2.0, 3.0))
    x_new, y_new = jax.jit(sr_cnn.inject, static_argnums=3)(
        jax.random.key(0), x, jnp.zeros((16, 50)), cfg)
    moved = np.any(np.asarray(x_new) != np.asarray(x), axis=-1)
    np.testing.assert_array_equal(moved, np.asarray(y_new) > 0)
    per_series = np.asarray(y_new).sum(axis=1)
    assert per_series.min() >= 1 and per_series.max() <= 3  # positions may coincide


def test_scoring_checks_its_input(trained):
    _, fitted = trained
    x = make_sines(2, 3, length=60).x_btc
    assert fitted.score(x).shape == (2, 60)  # fully convolutional: any length works
    with pytest.raises(InputError, match="channels"):
        fitted.score(np.concatenate([x, x], axis=-1))
    with pytest.raises(InputError, match="longer than the series"):
        fitted.score(x[:, :3])


def test_bad_input_is_reported_clearly():
    data = make_sines(4, 0, length=40)
    x, y = data.x_btc.copy(), data.y_bt
    cfg = sr_cnn.Config(num_steps=1)
    x[2, 5, 0] = np.inf
    with pytest.raises(InputError, match="NaN or inf"):
        sr_cnn.fit(jax.random.key(0), x, y, cfg)
    with pytest.raises(InputError, match="does not match"):
        sr_cnn.fit(jax.random.key(0), data.x_btc, y[:3], cfg)
    with pytest.raises(InputError, match="longer than the series"):
        sr_cnn.fit(jax.random.key(0), data.x_btc[:, :4], y[:, :4], cfg)


def _level_shifts(n: int, seed: int, t: int = 240):
    """Windows on a random baseline (offset U[-2, 2] plus a slow sine); every other one
    has a level shift of 120-179 steps by ±U[1, 2]: a step inside the shift is told
    from the baseline only by seeing where the shift starts or ends."""
    rng = np.random.default_rng(seed)
    x, y = np.zeros((n, t, 1), np.float32), np.zeros((n, t), np.float32)
    steps = np.arange(t)
    for i in range(n):
        phase, freq = rng.uniform(0, 2 * np.pi), rng.uniform(0.01, 0.05)
        x[i, :, 0] = (rng.uniform(-2, 2) + 0.5 * np.sin(2 * np.pi * freq * steps + phase)
                      + 0.1 * rng.standard_normal(t))
        if i % 2 == 0:
            length = rng.integers(120, 180)
            start = rng.integers(0, t - length)
            x[i, start:start + length, 0] += rng.choice([-1, 1]) * rng.uniform(1.0, 2.0)
            y[i, start:start + length] = 1
    return x, y


def test_receptive_field_is_one_plus_kernel_span_times_dilations():
    assert sr_cnn.receptive_field(sr_cnn.Config()) == 1 + 6 * (1 + 2 + 4)  # 43
    assert sr_cnn.receptive_field(sr_cnn.Config(features=(8,) * 5)) == 187
    assert sr_cnn.receptive_field(SMALL) == 1 + 4 * (1 + 2)


def test_resolve_deepens_for_long_runs_and_keeps_short_ones():
    y = np.zeros((10, 240), np.float32)
    y[:, 50:60] = 1  # median run 10: 43 steps already cover it
    assert sr_cnn.resolve(sr_cnn.Config(), y).features == (32, 32, 32)
    y[:, 50:200] = 1  # median run 150: four layers see 91, five see 187
    assert sr_cnn.resolve(sr_cnn.Config(), y).features == (32,) * 5
    y[:] = 1  # whole windows: capped at the window (240), six layers see 379
    assert sr_cnn.resolve(sr_cnn.Config(), y).features == (32,) * 6
    off = sr_cnn.Config(fit_context=False)
    assert sr_cnn.resolve(off, y).features == (32, 32, 32)
    assert sr_cnn.resolve(sr_cnn.Config(), np.zeros((4, 240))).features == (32, 32, 32)


def test_resolve_raises_steps_to_min_epochs_in_whole_calls():
    cfg = sr_cnn.Config(num_steps=400, batch_size=64, steps_per_call=50, min_epochs=5.0)
    assert sr_cnn.resolve(cfg, np.zeros((1000, 240))).num_steps == 400  # 78 steps < 400
    assert sr_cnn.resolve(cfg, np.zeros((20000, 240))).num_steps == 1600  # 1,563 -> 32 calls
    off = dataclasses.replace(cfg, min_epochs=0.0)
    assert sr_cnn.resolve(off, np.zeros((20000, 240))).num_steps == 400


def test_long_level_shifts_are_found_once_the_field_covers_them():
    x_train, y_train = _level_shifts(256, 0)
    x_test, y_test = _level_shifts(128, 1)
    f1 = {}
    for fit_context in (False, True):
        cfg = dataclasses.replace(SMALL, fit_context=fit_context)
        fitted = sr_cnn.fit(jax.random.key(0), x_train, y_train, cfg)
        _, _, f1[fit_context] = point_prf(np.asarray(fitted.score(x_test)) > fitted.threshold,
                                          y_test)
    assert fitted.info["config"].features == (16,) * 6  # field 253 >= median run ~150
    assert float(f1[True]) > 0.85
    assert float(f1[True]) > float(f1[False]) + 0.2


def test_a_seed_ensemble_scores_the_mean_of_its_replicas_fitted_alone():
    one = sr_cnn.Config(features=(8,), kernel=3, batch_size=8, num_steps=20,
                        steps_per_call=10, min_epochs=0.0)
    assert_ensemble_is_the_mean_of_its_replicas(sr_cnn.fit, one,
                                                *spiky_windows(24, 48, slice(20, 23)),
                                                atol=1e-4)
    with pytest.raises(InputError, match="replicas"):
        sr_cnn.Config(replicas=0)
