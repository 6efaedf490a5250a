"""Specification of RobustTAD: robust decomposition, U-Net, weighted BCE, fit/score."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.data import make_sines
from jtsgen.detect import decompose, robusttad
from jtsgen.errors import InputError
from jtsgen.nn.unet import UNet1D
from tests.detector_checks import (
    assert_ensemble_is_the_mean_of_its_replicas,
    scores_and_f1_against_case1,
    spiky_windows,
)

SMALL = robusttad.Config(trend_window=11, base=8, depth=2, kernel_size=3, batch_size=32,
                         num_steps=150, steps_per_call=50, learning_rate=3e-3)
LENGTH = 96


def test_decomposition_adds_up_and_finds_the_period():
    t = np.arange(120)
    x = np.stack([np.sin(2 * np.pi * t / 12), 0.02 * t + np.sin(2 * np.pi * t / 20)])
    trend, seasonal, residual = decompose.decompose(x, trend_window=11, min_period=4,
                                                    min_acf=0.3)
    np.testing.assert_allclose(trend + seasonal + residual, x, atol=1e-12)
    period = decompose.dominant_period(x - decompose.moving_median(x, 11), 4, 0.3)
    np.testing.assert_array_equal(period, [12, 20])
    # away from the edges (half a trend window) a clean periodic series is fully explained
    assert np.abs(residual[0, 6:-6]).max() < 0.05


def test_a_spike_stays_in_the_residual_and_not_in_the_trend():
    t = np.arange(120)
    x = np.sin(2 * np.pi * t / 12)[None]
    spiked = x.copy()
    spiked[0, 50] += 4.0
    trend0, _, _ = decompose.decompose(x, trend_window=11, min_period=4, min_acf=0.3)
    trend1, _, residual = decompose.decompose(spiked, trend_window=11, min_period=4,
                                              min_acf=0.3)
    assert np.abs(trend1 - trend0).max() < 0.3  # the median ignores the spike
    assert np.argmax(np.abs(residual[0])) == 50 and residual[0, 50] > 3.0



def test_robust_stl_adds_up_keeps_a_spike_in_the_residual_and_falls_back_without_period():
    """``method="stl"``: statsmodels' robust STL on seasonal rows (a spike does not move
    its trend), the moving median on rows without a period."""
    t = np.arange(120)
    x = np.stack([np.sin(2 * np.pi * t / 12) + 0.01 * t,
                  np.random.default_rng(0).normal(size=120)])
    x[0, 50] += 4.0
    kw = dict(trend_window=11, min_period=4, min_acf=0.3)
    trend, seasonal, residual = decompose.decompose(x, method="stl", **kw)
    np.testing.assert_allclose(trend + seasonal + residual, x, atol=1e-9)
    assert np.argmax(np.abs(residual[0])) == 50 and residual[0, 50] > 3.0
    assert np.abs(residual[0, np.r_[6:45, 56:114]]).max() < 0.3  # the rest is explained
    median = decompose.decompose(x, **kw)
    np.testing.assert_array_equal(trend[1], median[0][1])  # no period: the median's parts
    np.testing.assert_array_equal(seasonal[1], median[1][1])
    assert not np.allclose(trend[0], median[0][0])
    with pytest.raises(InputError, match="decomposition"):
        robusttad.Config(decomposition="x13")

def test_features_stack_residual_trend_seasonal_raw_per_channel():
    x = np.random.default_rng(0).normal(size=(3, 40, 2)).astype(np.float32)
    f = robusttad.features(x, SMALL)
    assert f.shape == (3, 40, 8) and f.dtype == np.float32
    np.testing.assert_array_equal(f[..., 3], x[..., 0])  # raw channel 0
    np.testing.assert_array_equal(f[..., 7], x[..., 1])  # raw channel 1
    np.testing.assert_allclose(f[..., 0] + f[..., 1] + f[..., 2], x[..., 0], atol=1e-5)


def test_unet_keeps_the_length_even_when_not_a_power_of_two():
    net = UNet1D(base=4, depth=2, kernel_size=3)
    x = jnp.ones((2, 45, 4))
    params = jax.jit(net.init)(jax.random.key(0), x)
    assert jax.jit(net.apply)(params, x).shape == (2, 45)


def test_positive_weight_is_the_inverse_positive_rate_capped():
    y = np.zeros((4, 50), np.float32)
    y[0, :10] = 1.0  # 10 of 200 steps anomalous
    assert robusttad.positive_weight(y, SMALL) == pytest.approx(19.0)
    y[:, :] = 0.0
    y[0, 0] = 1.0
    assert robusttad.positive_weight(y, SMALL) == SMALL.max_pos_weight
    assert robusttad.positive_weight(y, robusttad.Config(pos_weight=2.0)) == 2.0


def test_weighted_bce_weighs_anomalous_steps():
    y = np.asarray([[0.0, 1.0]], np.float32)
    np.testing.assert_array_equal(robusttad.step_weights(y, 3.0), [[1.0, 3.0]])
    logits = jnp.zeros((1, 2))
    np.testing.assert_allclose(robusttad.weighted_bce(logits, y, robusttad.step_weights(y, 3.0)),
                               np.log(2.0), rtol=1e-6)
    confident_wrong = jnp.asarray([[0.0, -5.0]])
    light = robusttad.weighted_bce(confident_wrong, y, robusttad.step_weights(y, 1.0))
    heavy = robusttad.weighted_bce(confident_wrong, y, robusttad.step_weights(y, 10.0))
    expected = (np.log(2.0) + 10.0 * np.log1p(np.exp(5.0))) / 11.0
    np.testing.assert_allclose(heavy, expected, rtol=1e-5)
    assert heavy > light


@pytest.fixture(scope="module")
def trained():
    """One RobustTAD fit on smoke Sines; the loss may be traced only once."""
    data = make_sines(160, 0, length=LENGTH, freq_range=(0.0, 0.1))
    original = robusttad.make_loss_fn
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(robusttad, "make_loss_fn",
                   lambda c: chex.assert_max_traces(original(c), n=1))
        fitted = robusttad.fit(jax.random.key(0), data.x_btc[:128], data.y_bt[:128], SMALL)
    return data, fitted


def test_loss_falls_gradients_are_finite_and_training_compiles_once(trained):
    _, fitted = trained  # a second trace of the loss would have raised in the fixture
    loss = np.asarray(fitted.info["history"]["loss"])
    grad_norm = np.asarray(fitted.info["history"]["grad_norm"])
    assert np.all(np.isfinite(grad_norm)) and np.all(grad_norm > 0)  # finite, non-zero grads
    assert loss.shape == (SMALL.num_steps,) and np.all(np.isfinite(loss))
    assert loss[-30:].mean() < 0.7 * loss[:30].mean()
    assert fitted.info["pos_weight"] > 1.0


def test_scores_have_one_value_per_step_and_f1_beats_case1(trained):
    data, fitted = trained
    f1, f1_case1 = scores_and_f1_against_case1(fitted, data.x_btc, data.y_bt, n_train=128)
    assert f1 > f1_case1 + 0.3, (f1, f1_case1)


def test_bad_input_raises_input_error(trained):
    _, fitted = trained
    x = np.zeros((4, LENGTH, 1), np.float32)
    y = np.zeros((4, LENGTH), np.float32)
    bad = x.copy()
    bad[2, 7, 0] = np.inf
    with pytest.raises(InputError, match="NaN"):
        robusttad.fit(jax.random.key(0), bad, y, SMALL)
    with pytest.raises(InputError, match="y_bt"):
        robusttad.fit(jax.random.key(0), x, y[:3], SMALL)
    with pytest.raises(InputError, match="longer than the series"):
        robusttad.fit(jax.random.key(0), x[:, :8], y[:, :8], SMALL)
    with pytest.raises(InputError, match="longer than the series"):
        fitted.score(x[:, :8])
    with pytest.raises(InputError, match="x_btc"):
        fitted.score(x[0])
    with pytest.raises(InputError, match="pos_weight"):
        robusttad.Config(pos_weight=-1.0)


def test_a_seed_ensemble_scores_the_mean_logit_of_its_replicas_fitted_alone():
    one = robusttad.Config(trend_window=11, base=4, depth=2, kernel_size=3, batch_size=8,
                           num_steps=20, steps_per_call=10)
    assert_ensemble_is_the_mean_of_its_replicas(robusttad.fit, one,
                                                *spiky_windows(24, 48, slice(20, 23)), atol=1e-4)
    with pytest.raises(InputError, match="replicas"):
        robusttad.Config(replicas=0)
