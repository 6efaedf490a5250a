"""Specification of NCAD: augmentations, contextual hypersphere loss, fit/score."""

import dataclasses
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jtsgen.data import make_sines
from jtsgen.detect import ncad, ncad_augment
from jtsgen.errors import InputError
from tests.detector_checks import (
    assert_ensemble_is_the_mean_of_its_replicas,
    scores_and_f1_against_case1,
    spiky_windows,
)

SMALL = ncad.Config(context=16, suspect=1, features=16, dilations=(1, 2, 4), embedding=8,
                    batch_size=32, num_steps=240, steps_per_call=60, learning_rate=3e-3)
LENGTH = 96

pois = jax.jit(functools.partial(ncad_augment.inject_point_outliers, prob=0.7, n_points=3,
                                 magnitude=(1.0, 3.0)))
coe = jax.jit(functools.partial(ncad_augment.contextual_outlier_exposure, prob=0.7,
                                length=(3, 10)))
mix = jax.jit(functools.partial(ncad_augment.window_mixup, prob=0.7, alpha=0.2))


def _batch(seed, n=16, t=40, c=2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, c)).astype(np.float32)
    y = (rng.random((n, t)) < 0.1).astype(np.float32)
    return x, y


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_point_outlier_injection_labels_exactly_the_injected_points(seed):
    x, y = _batch(seed)
    x2, y2 = map(np.asarray, pois(jax.random.key(seed), x, y))
    changed_bt = np.any(x2 != x, axis=-1)
    np.testing.assert_array_equal(y2, np.maximum(y, changed_bt))  # old labels kept, spikes = 1
    assert 0 < changed_bt.sum(axis=1).max() <= 3  # at most n_points per series


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_coe_swaps_a_segment_of_another_series_and_labels_it(seed):
    x, y = _batch(seed)
    x = (x + 100.0 * np.arange(16)[:, None, None]).astype(np.float32)  # series b near 100 b
    x2, y2 = map(np.asarray, coe(jax.random.key(seed), x, y))
    changed_bt = np.all(x2 != x, axis=-1)
    np.testing.assert_array_equal(y2, np.maximum(y, changed_bt))
    for b in np.flatnonzero(changed_bt.any(axis=1)):
        steps = np.flatnonzero(changed_bt[b])
        assert 3 <= steps.size <= 10 and np.all(np.diff(steps) == 1)  # one segment
        partner = int(np.round(x2[b, steps[0], 0] / 100.0))
        assert partner != b
        np.testing.assert_array_equal(x2[b, steps], x[partner, steps])  # same time steps
    np.testing.assert_array_equal(x2[~changed_bt], x[~changed_bt])


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_mixup_mixes_values_and_labels_with_the_same_weights(seed):
    _, y = _batch(seed)
    x = np.repeat(y[:, :, None], 2, axis=2)  # values equal to labels: mixing must keep that
    x2, y2 = map(np.asarray, mix(jax.random.key(seed), x, y))
    np.testing.assert_allclose(x2[:, :, 0], y2, atol=1e-6)
    np.testing.assert_allclose(x2[:, :, 1], y2, atol=1e-6)
    assert np.all((y2 >= 0) & (y2 <= 1))


def test_augmentations_are_off_at_probability_zero_and_on_at_one():
    x, y = _batch(3)
    key = jax.random.key(3)
    for fn, params in ((ncad_augment.inject_point_outliers,
                        {"n_points": 2, "magnitude": (1.0, 2.0)}),
                       (ncad_augment.contextual_outlier_exposure, {"length": (2, 5)}),
                       (ncad_augment.window_mixup, {"alpha": 0.2})):
        x0, y0 = fn(key, x, y, prob=0.0, **params)
        np.testing.assert_array_equal(x0, x)
        np.testing.assert_array_equal(y0, y)
        x1, _ = fn(key, x, y, prob=1.0, **params)
        assert np.all(np.any(np.asarray(x1) != x, axis=(1, 2)))  # every series changed


def test_window_labels_and_step_scores_follow_the_suspect_window():
    y = jnp.asarray([[0, 0, 1, 0, 0, 0]], jnp.float32)
    np.testing.assert_array_equal(ncad.window_labels(y, 1), y)
    np.testing.assert_array_equal(ncad.window_labels(y, 3), [[0, 0, 1, 1, 1, 0]])
    d = jnp.asarray([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_allclose(ncad.step_scores(d, 1), d)
    np.testing.assert_allclose(ncad.step_scores(d, 2), [[1.5, 2.5, 3.5, 4.0]])


def test_hypersphere_loss_is_the_bce_of_exp_minus_distance():
    d = jnp.asarray([[0.5, 2.0]])
    y = jnp.asarray([[0.0, 1.0]])
    expected = (0.5 + -np.log(1 - np.exp(-2.0))) / 2
    np.testing.assert_allclose(ncad.hypersphere_loss(d, y), expected, rtol=1e-6)


def test_windows_with_a_labelled_context_are_left_out_of_the_loss():
    """A long labelled segment (as in KPI's training labels) must not teach NCAD that a
    suspect part like its (anomalous) context is anomalous: those windows weigh 0."""
    y = np.zeros((2, LENGTH), np.float32)
    y[:, 30:71] = 1.0  # 41 steps, longer than the 16-step context
    anyc = dataclasses.replace(SMALL, clean_context="any")
    w = np.asarray(ncad.context_weights(jnp.asarray(y), anyc))  # clean_context reads these
    np.testing.assert_array_equal(w[0, :31], 1.0)  # context ends before step 30
    np.testing.assert_array_equal(w[0, 31:87], 0.0)  # context e-16 .. e-1 meets 30..70
    np.testing.assert_array_equal(w[0, 87:], 1.0)
    x = jnp.asarray(make_sines(2, 0, length=LENGTH, freq_range=(0.0, 0.1)).x_btc)
    params = ncad.init_params(jax.random.key(0), SMALL, LENGTH, 1)
    d = np.asarray(ncad.window_distances(params, x, SMALL))
    per = -np.log(-np.expm1(-d))  # every window ends on an anomalous step or a normal one
    per = np.where(y > 0, per, d)
    a, _ = ncad.make_loss_fn(anyc)(params, (x, jnp.asarray(y)), None)
    np.testing.assert_allclose(a, per[w > 0].mean(), rtol=1e-5)  # labelled contexts left out
    old = ncad.make_loss_fn(dataclasses.replace(SMALL, clean_context="none"))  # all count
    np.testing.assert_allclose(old(params, (x, jnp.asarray(y)), None)[0], per.mean(), rtol=1e-5)


def test_full_rule_leaves_out_only_windows_whose_whole_context_is_labelled():
    """clean_context="full" keeps every window that still sees a normal step before
    its suspect part (the onset of a level shift), so segments shorter than the
    context lose nothing."""
    y = np.zeros((1, LENGTH), np.float32)
    y[:, 30:71] = 1.0  # 41 steps: the 16-step context of windows ending at 46..71 is inside
    y[:, 90:100] = 1.0  # 10 steps, shorter than the context: no window left out
    full = dataclasses.replace(SMALL, clean_context="full")
    w = np.asarray(ncad.context_weights(jnp.asarray(y), full))
    want = np.ones(LENGTH, np.float32)
    want[46:72] = 0.0  # context e-16 .. e-1 within 30..70  <=>  46 <= e <= 71
    np.testing.assert_array_equal(w[0], want)
    none = dataclasses.replace(SMALL, clean_context="none")
    np.testing.assert_array_equal(
        ncad.context_weights(jnp.asarray(y), none), np.ones((1, LENGTH), np.float32))
    assert ncad.Config().clean_context == "full"  # the default
    with pytest.raises(InputError, match="clean_context"):
        dataclasses.replace(SMALL, clean_context="all")


def test_encoder_is_causal_so_scores_ignore_the_future():
    x = make_sines(4, 0, length=LENGTH, freq_range=(0.0, 0.1)).x_btc
    x = np.concatenate([x, 0.5 * x[:, ::-1]], axis=2)  # two channels
    params = ncad.init_params(jax.random.key(0), SMALL, LENGTH, 2)
    distances = jax.jit(lambda x_btc: ncad.window_distances(params, x_btc, SMALL))
    d1 = np.asarray(distances(jnp.asarray(x)))
    x_future = x.copy()
    x_future[:, 60:] += 5.0
    d2 = np.asarray(distances(jnp.asarray(x_future)))
    assert d1.shape == (4, LENGTH)
    np.testing.assert_allclose(d1[:, :60], d2[:, :60], rtol=1e-5, atol=1e-6)
    assert not np.allclose(d1[:, 60:], d2[:, 60:])


@pytest.fixture(scope="module")
def trained():
    """One NCAD fit on smoke Sines; the loss may be traced only once."""
    data = make_sines(160, 0, length=LENGTH, freq_range=(0.0, 0.1))
    original = ncad.make_loss_fn
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ncad, "make_loss_fn", lambda c: chex.assert_max_traces(original(c), n=1))
        fitted = ncad.fit(jax.random.key(0), data.x_btc[:128], data.y_bt[:128], SMALL)
    return data, fitted


def test_loss_falls_gradients_are_finite_and_training_compiles_once(trained):
    _, fitted = trained  # a second trace of the loss would have raised in the fixture
    loss = np.asarray(fitted.info["history"]["loss"])
    grad_norm = np.asarray(fitted.info["history"]["grad_norm"])
    assert np.all(np.isfinite(grad_norm)) and np.all(grad_norm > 0)  # finite, non-zero grads
    assert loss.shape == (SMALL.num_steps,) and np.all(np.isfinite(loss))
    assert loss[-40:].mean() < 0.8 * loss[:40].mean()


def test_scores_have_one_value_per_step_and_f1_beats_case1(trained):
    data, fitted = trained
    f1, f1_case1 = scores_and_f1_against_case1(fitted, data.x_btc, data.y_bt, n_train=128)
    assert f1 > f1_case1 + 0.15, (f1, f1_case1)


def test_bad_input_raises_input_error(trained):
    _, fitted = trained
    x = np.zeros((4, LENGTH, 1), np.float32)
    y = np.zeros((4, LENGTH), np.float32)
    bad = x.copy()
    bad[1, 5, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        ncad.fit(jax.random.key(0), bad, y, SMALL)
    with pytest.raises(InputError, match="y_bt"):
        ncad.fit(jax.random.key(0), x, y[:, :-1], SMALL)
    with pytest.raises(InputError, match="longer than the series"):
        ncad.fit(jax.random.key(0), x[:, :10], y[:, :10], SMALL)
    with pytest.raises(InputError, match="longer than the series"):
        fitted.score(x[:, :10])
    with pytest.raises(InputError, match="pois_prob"):
        ncad.Config(pois_prob=1.5)


def test_a_seed_ensemble_scores_the_mean_of_its_replicas_fitted_alone():
    # few steps: NCAD's training amplifies float rounding (vmapped vs single programs
    # drift by ~1e-2 in loss after 20 steps), so the equality is checked where it is exact
    one = dataclasses.replace(SMALL, num_steps=10, steps_per_call=5, batch_size=8)
    assert_ensemble_is_the_mean_of_its_replicas(ncad.fit, one,
                                                *spiky_windows(16, 40, slice(30, 32)),
                                                atol=2e-3)
    with pytest.raises(InputError, match="replicas"):
        ncad.Config(replicas=0)
