"""Sliding windows, 80:20 splits and train-only scalers."""

import numpy as np
import pandas as pd
import pytest

from jtsgen.data import (
    Labelled,
    LabelledSeries,
    concat,
    fit_minmax_scaler,
    fit_scaler,
    fit_standard_scaler,
    sliding_windows,
    split_arrays,
    split_by_series,
    split_chronological,
    window_labels,
    windows_from_series,
)
from jtsgen.errors import InputError


def test_windows_of_a_multichannel_series():
    x_tc = np.arange(30, dtype=np.float32).reshape(10, 3)
    y_t = np.zeros(10)
    y_t[6] = 1
    w = sliding_windows(x_tc, y_t, length=4, stride=2)
    assert w.x_btc.shape == (4, 4, 3) and w.y_bt.shape == (4, 4)
    assert w.x_btc.dtype == np.float32 and w.y_bt.dtype == np.float32
    np.testing.assert_array_equal(w.start_b, [0, 2, 4, 6])
    for i, s in enumerate(w.start_b):
        np.testing.assert_array_equal(w.x_btc[i], x_tc[s : s + 4])
        np.testing.assert_array_equal(w.y_bt[i], y_t[s : s + 4])
    np.testing.assert_array_equal(window_labels(w.y_bt), [0, 0, 1, 1])


def test_default_window_is_kpi_240_without_overlap():
    w = sliding_windows(np.zeros(1000), length=240)
    assert w.x_btc.shape == (4, 240, 1)  # 1-D input gets a channel axis; tail dropped
    np.testing.assert_array_equal(w.start_b, [0, 240, 480, 720])
    assert w.y_bt.sum() == 0


def test_windows_from_several_series():
    def make(name, n):
        ts = pd.date_range("2020-01-01", periods=n, freq="min")
        return LabelledSeries(name, ts, np.arange(n, dtype=np.float32), np.zeros(n, np.float32))

    w = windows_from_series([make("a", 10), make("short", 3), make("b", 8)], length=4)
    np.testing.assert_array_equal(w.series_b, [0, 0, 2, 2])
    np.testing.assert_array_equal(w.x_btc[2, :, 0], [0, 1, 2, 3])


def test_split_by_series_is_seeded_disjoint_80_20():
    a = split_by_series(100, train_frac=0.8, seed=0)
    assert len(a.train) == 80 and len(a.test) == 20
    assert set(a.train).isdisjoint(a.test)
    assert set(a.train) | set(a.test) == set(range(100))
    b = split_by_series(100, seed=0)
    np.testing.assert_array_equal(a.train, b.train)
    assert not np.array_equal(a.train, split_by_series(100, seed=1).train)
    assert not np.array_equal(a.train, np.arange(80))  # shuffled


def test_chronological_split_with_gap():
    idx = split_chronological(100, train_frac=0.8)
    np.testing.assert_array_equal(idx.train, np.arange(80))
    np.testing.assert_array_equal(idx.test, np.arange(80, 100))
    gapped = split_chronological(100, train_frac=0.8, gap=3)
    assert gapped.test[0] == 83 and gapped.train[-1] == 79
    with pytest.raises(InputError, match="gap"):
        split_chronological(10, gap=5)


def test_split_arrays():
    x, y = np.arange(50)[:, None, None].astype(np.float32), np.arange(50)[:, None]
    s = split_arrays(x, y, by="series", train_frac=0.7, seed=3)
    assert s.x_train.shape == (35, 1, 1) and s.x_test.shape == (15, 1, 1)
    np.testing.assert_array_equal(s.x_train[:, 0, 0], s.y_train[:, 0])
    t = split_arrays(x, y, by="time", train_frac=0.7)
    assert t.x_train[:, 0, 0].max() < t.x_test[:, 0, 0].min()
    with pytest.raises(InputError, match="by"):
        split_arrays(x, y, by="random")
    with pytest.raises(InputError, match="train_frac"):
        split_arrays(x, y, train_frac=1.0)


def test_windows_and_splits_hand_out_the_one_labelled_container():
    x = np.arange(20, dtype=np.float32)
    y = (np.arange(20) == 7).astype(np.float32)
    w = sliding_windows(x, y, length=5, stride=5)
    assert isinstance(w.labelled, Labelled)
    np.testing.assert_array_equal(w.labelled.y_bt[1], [0, 0, 1, 0, 0])
    s = split_arrays(w.x_btc, w.y_bt, by="time", train_frac=0.5)
    assert isinstance(s.train, Labelled) and isinstance(s.test, Labelled)
    both = concat(s.train, s.test)
    np.testing.assert_array_equal(both.x_btc, w.x_btc)
    np.testing.assert_array_equal(both.y_bt, w.y_bt)


def test_standard_scaler_is_fitted_on_train_only():
    rng = np.random.default_rng(0)
    x_btc = rng.normal(loc=[1.0, -5.0], scale=[2.0, 0.5], size=(40, 30, 2)).astype(np.float32)
    x_btc[32:] += 10.0  # the test part has a different level
    split = split_arrays(x_btc, np.zeros((40, 30)), by="time")
    scaler = fit_standard_scaler(split.x_train)
    np.testing.assert_allclose(scaler.loc_c, split.x_train.mean(axis=(0, 1)), rtol=1e-5)
    np.testing.assert_allclose(scaler.scale_c, split.x_train.std(axis=(0, 1)), rtol=1e-5)
    assert not np.allclose(scaler.loc_c, x_btc.mean(axis=(0, 1)))
    z = scaler.transform(split.x_train)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=(0, 1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=(0, 1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(scaler.inverse_transform(z), split.x_train, atol=1e-5)


def test_minmax_scaler_and_constant_channel():
    x_tc = np.stack([np.linspace(-3, 5, 20), np.full(20, 7.0)], axis=1)
    scaler = fit_minmax_scaler(x_tc, feature_range=(-1.0, 1.0))
    z = scaler.transform(x_tc)
    np.testing.assert_allclose(z[:, 0].min(), -1.0, atol=1e-6)
    np.testing.assert_allclose(z[:, 0].max(), 1.0, atol=1e-6)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(scaler.inverse_transform(z), x_tc, atol=1e-5)
    assert fit_scaler("minmax", x_tc).kind == "minmax"


def test_scaler_rejects_wrong_channel_count_and_nan():
    scaler = fit_standard_scaler(np.ones((5, 3)))
    with pytest.raises(InputError, match="3 channel"):
        scaler.transform(np.ones((5, 2)))
    with pytest.raises(InputError, match="NaN"):
        fit_standard_scaler(np.array([[1.0], [np.nan]]))
    with pytest.raises(InputError, match="kind"):
        fit_scaler("robust", np.ones((5, 3)))


def test_quantile_normal_maps_training_values_to_standard_normal_scores_and_back():
    from jtsgen.data.scalers import fit_quantile_normal

    rng = np.random.default_rng(0)
    x = rng.standard_t(2, size=(400, 50, 2))  # heavy-tailed, two channels
    x[..., 1] = x[..., 1] ** 2  # and skewed
    t = fit_quantile_normal(x)
    g = t.transform(x)
    assert g.shape == x.shape and g.dtype == np.float32
    np.testing.assert_allclose(g.mean(axis=(0, 1)), 0.0, atol=0.01)
    np.testing.assert_allclose(g.std(axis=(0, 1)), 1.0, atol=0.02)
    # the median maps to 0 and the 97.5 % quantile to Φ⁻¹(0.975) = 1.96
    q = np.quantile(x[..., 0], [0.5, 0.975])
    np.testing.assert_allclose(t.transform(np.stack([q, q], -1))[:, 0], [0.0, 1.96], atol=0.01)
    back = t.inverse_transform(g)
    assert np.abs(back - x).max() / np.ptp(x) < 1e-3
    # outside the training range: the outermost quantile, finite scores
    far = t.transform(np.array([[1e9, 1e9], [-1e9, -1e9]]))
    assert np.all(np.isfinite(far)) and far[0, 0] > 5 and far[1, 0] < -5


def test_quantile_normal_sends_tied_values_to_the_middle_of_their_levels():
    from jtsgen.data.scalers import fit_quantile_normal

    counts = np.array([0.0] * 50 + [1.0] * 50)  # half zeros, half ones
    t = fit_quantile_normal(counts)
    np.testing.assert_allclose(t.transform(np.array([0.0, 1.0])), [-0.674, 0.674], atol=0.01)
    with pytest.raises(InputError, match="channel"):
        t.transform(np.zeros((3, 2)))
