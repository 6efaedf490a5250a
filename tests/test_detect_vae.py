"""Specification of seed 001's window-VAE reconstruction detector."""

import chex
import jax
import numpy as np
import pytest

from jtsgen.data import fit_standard_scaler, make_periodic_multifeature
from jtsgen.detect import vae_detector as vd
from jtsgen.errors import InputError
from jtsgen.metrics import point_prf

SMALL = vd.Config(window=20, stride=20, latent=4, hidden=(32,), batch_size=16, num_steps=150,
                  steps_per_call=50, learning_rate=3e-3)


@pytest.fixture(scope="module")
def data():
    """Seed 001 data, 10 features: first 1,000 steps train, last 400 test; scaled on train."""
    d = make_periodic_multifeature(1400, 10, seed=0, normalize=False)
    scaler = fit_standard_scaler(d.x_tc[:1000])
    return (scaler.transform(d.x_tc[:1000])[None], d.y_t[None, :1000],
            scaler.transform(d.x_tc[1000:])[None], d.y_t[None, 1000:])


@pytest.fixture(scope="module")
def trained(data):
    x_train, y_train, _, _ = data
    original = vd.make_loss_fn
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(vd, "make_loss_fn", lambda *a: chex.assert_max_traces(original(*a), n=1))
        return vd.fit(jax.random.key(0), x_train, y_train, SMALL)


def test_window_starts_cover_the_tail():
    np.testing.assert_array_equal(vd.window_starts(107, 50, 25), [0, 25, 50, 57])
    np.testing.assert_array_equal(vd.window_starts(100, 50, 25), [0, 25, 50])
    assert len(vd.window_starts(10_000, 50, 1)) == 9951


def test_training_loss_is_finite_falls_and_compiles_once(trained):
    loss = np.asarray(trained.info["history"]["loss"])
    assert loss.shape == (SMALL.num_steps,) and np.all(np.isfinite(loss))
    assert loss[-20:].mean() < 0.8 * loss[:20].mean()
    assert set(trained.info["history"]) >= {"recon", "kl"}


def test_thresholds_are_the_95th_percentile_of_training_errors(data, trained):
    x_train = data[0]
    steps = trained.score(x_train)
    windows = vd.score_windows(trained, x_train)
    assert steps.shape == (1, 1000) and windows.shape == (1, 50)
    assert trained.threshold == pytest.approx(np.percentile(steps, 95), rel=1e-6)
    assert trained.info["window_threshold"] == pytest.approx(np.percentile(windows, 95), rel=1e-6)
    assert trained.predict(x_train).mean() == pytest.approx(0.05, abs=0.002)


def test_window_score_is_the_mean_of_its_step_scores_without_overlap(data, trained):
    # stride == window: every step lies in exactly one window.
    steps = trained.score(data[2])
    windows = vd.score_windows(trained, data[2])
    np.testing.assert_allclose(steps.reshape(1, 20, 20).mean(axis=-1), windows, rtol=1e-5)


def test_detects_seed_001_anomalies_on_held_out_steps(data, trained):
    _, _, x_test, y_test = data
    precision, recall, f1 = (float(v) for v in point_prf(y_test, trained.predict(x_test)))
    rate = float(y_test.mean())
    # Random scores would reach 2p/(1+p) ~ 0.1; a short training run already gets far more.
    assert recall > 0.9 and f1 > max(0.5, 4 * 2 * rate / (1 + rate)), (precision, recall, f1)


def test_overlapping_windows_average_into_step_scores():
    # Windows [0, 4) and [2, 6) with errors 1 and 3: steps 2, 3 are covered by both.
    err = np.array([[[1.0, 1.0, 1.0, 1.0], [3.0, 3.0, 3.0, 3.0]]], np.float32)
    out = np.asarray(vd.overlap_average(err, np.array([0, 2]), 6))
    np.testing.assert_allclose(out, [[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]])


def test_bad_input_is_reported_clearly(data, trained):
    x_train, y_train = data[0][:, :100], data[1][:, :100]
    cfg = vd.Config(window=20, num_steps=1)
    bad = x_train.copy()
    bad[0, 3, 4] = np.nan
    with pytest.raises(InputError, match="NaN"):
        vd.fit(jax.random.key(0), bad, y_train, cfg)
    with pytest.raises(InputError, match="does not match"):
        vd.fit(jax.random.key(0), x_train, y_train[:, :50], cfg)
    with pytest.raises(InputError, match="longer than the series"):
        vd.fit(jax.random.key(0), x_train[:, :10], y_train[:, :10], cfg)
    with pytest.raises(InputError, match="longer than the series"):
        trained.score(x_train[:, :10])
    with pytest.raises(InputError, match="channels"):
        trained.score(x_train[..., :3])
