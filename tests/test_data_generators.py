"""Seed generators: 000 (trend+seasonal+spikes), 001 (10-feature periodic), 003 (hourly)."""

import numpy as np
import pandas as pd

from jtsgen.data import (
    make_hourly_multichannel,
    make_periodic_multifeature,
    make_trend_seasonal_spikes,
    sliding_windows,
    window_labels,
)


def test_seed000_shapes_and_spike_labels():
    data = make_trend_seasonal_spikes(n_series=200, seq_len=100, seed=0)
    assert data.x_btc.shape == (200, 100, 1) and data.x_btc.dtype == np.float32
    assert data.y_bt.shape == (200, 100) and data.y_bt.dtype == np.float32
    assert set(np.unique(data.n_spikes_b)) == {0, 1, 2}
    per_series = data.y_bt.sum(axis=1)
    # At most one label per drawn spike (two spikes may share a step), none without spikes.
    assert np.all(per_series <= data.n_spikes_b)
    assert np.all(per_series[data.n_spikes_b == 0] == 0)
    assert np.all(per_series[data.n_spikes_b > 0] >= 1)


def test_seed000_components_without_spikes():
    data = make_trend_seasonal_spikes(n_series=50, seq_len=100, seed=1, max_spikes=0)
    assert data.y_bt.sum() == 0
    t = np.arange(100)
    expected = 0.01 * t + 0.5 * np.sin(2 * np.pi * t / 7) + 0.3 * np.sin(2 * np.pi * t / 30)
    resid = data.x_btc[:, :, 0] - expected
    resid = resid - resid.mean(axis=1, keepdims=True)  # removes the random offset
    assert 0.08 < resid.std() < 0.12  # the N(0, 0.1^2) noise


def test_seed000_deterministic():
    a, b = make_trend_seasonal_spikes(10, 30, seed=3), make_trend_seasonal_spikes(10, 30, seed=3)
    np.testing.assert_array_equal(a.x_btc, b.x_btc)
    assert not np.array_equal(a.x_btc, make_trend_seasonal_spikes(10, 30, seed=4).x_btc)


def test_seed001_five_percent_anomalies_and_window_labels():
    data = make_periodic_multifeature(seed=0)
    assert data.x_tc.shape == (10_000, 10) and data.x_tc.dtype == np.float32
    assert data.y_t.sum() == 500
    np.testing.assert_allclose(data.x_tc.mean(axis=0), 0.0, atol=1e-4)
    # Anomalous steps are magnitude perturbations: far larger than normal steps.
    energy = np.abs(data.x_tc).mean(axis=1)
    assert energy[data.y_t == 1].mean() > 2 * energy[data.y_t == 0].mean()
    w = sliding_windows(data.x_tc, data.y_t, length=50, stride=1)
    assert w.x_btc.shape == (9951, 50, 10)
    expected = np.array([data.y_t[s : s + 50].max() for s in w.start_b], np.float32)
    np.testing.assert_array_equal(window_labels(w.y_bt), expected)


def test_seed001_deterministic():
    a = make_periodic_multifeature(500, 3, seed=2)
    np.testing.assert_array_equal(a.x_tc, make_periodic_multifeature(500, 3, seed=2).x_tc)
    assert not np.array_equal(a.x_tc, make_periodic_multifeature(500, 3, seed=5).x_tc)


def test_seed003_hourly_multichannel():
    data = make_hourly_multichannel(n_steps=2000, n_channels=3, seed=42)
    assert data.x_tc.shape == (2000, 3) and data.x_tc.dtype == np.float32
    assert isinstance(data.timestamps, pd.DatetimeIndex)
    assert data.timestamps[0] == pd.Timestamp("2019-01-01")
    assert (data.timestamps[1:] - data.timestamps[:-1] == pd.Timedelta(hours=1)).all()
    np.testing.assert_array_equal(data.y_t, (data.events_t > 0).astype(np.float32))
    # Daily seasonality dominates: strong correlation at a 24 h lag, negative at 12 h.
    x = data.x_tc[:, 0] - data.x_tc[:, 0].mean()
    assert np.corrcoef(x[:-24], x[24:])[0, 1] > 0.7
    assert np.corrcoef(x[:-12], x[12:])[0, 1] < 0
    # Channel amplitudes grow with the channel index, as in the seed.
    assert data.x_tc[:, 2].std() > data.x_tc[:, 0].std()
    assert list(data.to_frame().columns) == ["x1", "x2", "x3"]


def test_seed003_deterministic_and_coupling():
    a = make_hourly_multichannel(300, seed=1)
    np.testing.assert_array_equal(a.x_tc, make_hourly_multichannel(300, seed=1).x_tc)
    coupled = make_hourly_multichannel(300, seed=1, coupling=0.2)
    np.testing.assert_array_equal(coupled.x_tc[:, 0], a.x_tc[:, 0])
    assert not np.allclose(coupled.x_tc[:, 1], a.x_tc[:, 1])


def test_trend_volatility_series_have_the_slope_sign_and_noise_level_of_their_attributes():
    from jtsgen.data.generators import make_trend_volatility

    data = make_trend_volatility(n_series=400, seq_len=64, seed=0, slope=0.02,
                                 noise_std=(0.1, 0.4))
    x = data.x_btc[:, :, 0].astype(np.float64)
    assert data.x_btc.shape == (400, 64, 1) and data.x_btc.dtype == np.float32
    for attr in (data.trend_b, data.vol_b):
        assert attr.shape == (400,) and set(np.unique(attr)) == {0, 1}
        assert 0.4 < attr.mean() < 0.6  # drawn uniformly
    t = np.arange(64)
    seasonal = 0.5 * np.sin(2 * np.pi * t / 7) + 0.3 * np.sin(2 * np.pi * t / 30)
    tc = t - t.mean()
    slope = (x - seasonal) @ tc / (tc @ tc)  # least squares, seasonal removed
    np.testing.assert_allclose(slope, np.where(data.trend_b == 1, 0.02, -0.02), atol=0.008)
    raw_slope = x @ tc / (tc @ tc)  # with the seasonal part: the sign still follows the trend
    assert np.array_equal(raw_slope > 0, data.trend_b == 1)
    resid = x - seasonal - np.where(data.trend_b == 1, 0.02, -0.02)[:, None] * t
    resid = resid - resid.mean(axis=1, keepdims=True)  # removes the random offset
    for vol, std in ((0, 0.1), (1, 0.4)):
        assert abs(resid[data.vol_b == vol].std() / std - 1.0) < 0.03


def test_trend_volatility_is_seeded_and_checks_its_arguments():
    import pytest

    from jtsgen.data.generators import make_trend_volatility
    from jtsgen.errors import InputError

    a = make_trend_volatility(20, 16, seed=5)
    b = make_trend_volatility(20, 16, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a.x_btc, b.x_btc)
    np.testing.assert_array_equal(a.vol_b, b.vol_b)
    assert not np.array_equal(a.x_btc, make_trend_volatility(20, 16, seed=6).x_btc)
    with pytest.raises(InputError, match="noise_std"):
        make_trend_volatility(20, 16, noise_std=(0.4, 0.1))
    with pytest.raises(InputError, match="slope"):
        make_trend_volatility(20, 16, slope=0.0)
