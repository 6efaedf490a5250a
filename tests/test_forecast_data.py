"""Forecasting data and baselines: no validation or test step reaches training or the
scaler; persistence, seasonal persistence and ARIMA(p,1,0) against references."""

import numpy as np
import pytest

from jtsgen.errors import InputError
from jtsgen.forecast import baselines
from jtsgen.forecast.data import load_csv, prepare, split_bounds, window_part


def _ramp(n_time=200, channels=2):
    """Values equal to their time index (channel c offset by 1000 c): a window's values
    say exactly which time steps it holds."""
    t = np.arange(n_time, dtype=np.float64)[:, None]
    return t + 1000.0 * np.arange(channels)[None, :]


def test_split_is_chronological_70_15_15():
    assert split_bounds(2000, 0.7, 0.15) == (1400, 1700)


def test_windows_of_each_part_stay_inside_it_and_cover_it():
    data = prepare(_ramp(), input_len=10, horizon=3)
    train_end, val_end = data.bounds
    for part, (lo, hi) in ((data.train, (0, train_end)), (data.val, (train_end, val_end)),
                           (data.test, (val_end, 200))):
        steps = np.round(data.scaler.inverse_transform(
            np.concatenate([part.x_bic, part.y_bhc], axis=1))[..., 0]).astype(int)
        assert steps.min() == lo and steps.max() == hi - 1
        # each window is 13 consecutive steps starting at start_b
        np.testing.assert_array_equal(steps, part.start_b[:, None] + np.arange(13)[None])
        assert len(part.start_b) == (hi - lo) - 13 + 1


def test_scaler_sees_only_the_training_part():
    x = _ramp()
    data = prepare(x, input_len=10, horizon=3)
    train = x[:data.bounds[0]]
    np.testing.assert_allclose(data.scaler.loc_c, train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(data.scaler.scale_c, train.std(axis=0), rtol=1e-6)
    # changing every validation and test value leaves the training windows and the scaler
    changed = x.copy()
    changed[data.bounds[0]:] *= -7.0
    other = prepare(changed, input_len=10, horizon=3)
    np.testing.assert_array_equal(other.train.x_bic, data.train.x_bic)
    np.testing.assert_array_equal(other.scaler.loc_c, data.scaler.loc_c)


def test_too_short_series_is_an_input_error_naming_the_source():
    with pytest.raises(InputError, match="my.csv: too short"):
        prepare(_ramp(50), input_len=10, horizon=3, source="my.csv")


def test_window_part_stride():
    w = window_part(_ramp(20, 1), 100, 4, 2, stride=5)
    np.testing.assert_array_equal(w.start_b, [100, 105, 110])


def test_persistence_and_seasonal_persistence():
    x = _ramp(30, 1)[None]  # one window: values 0..29
    np.testing.assert_array_equal(baselines.persistence(x, 3)[0, :, 0], [29, 29, 29])
    # period 24: step h repeats the value 24 steps before the target: 29 + h - 24
    np.testing.assert_array_equal(baselines.seasonal_persistence(x, 3, 24)[0, :, 0],
                                  [6, 7, 8])
    # period 2 over a horizon of 5: 28, 29, 28, 29, 28
    np.testing.assert_array_equal(baselines.seasonal_persistence(x, 5, 2)[0, :, 0],
                                  [28, 29, 28, 29, 28])
    with pytest.raises(InputError, match="period"):
        baselines.seasonal_persistence(x, 3, 31)


def test_arima_rolling_origin_equals_statsmodels_filtered_forecast():
    from statsmodels.tsa.arima.model import ARIMA

    rng = np.random.default_rng(0)
    d = np.zeros(400)
    for t in range(2, 400):  # an AR(2) on differences
        d[t] = 0.5 * d[t - 1] - 0.3 * d[t - 2] + rng.normal()
    series = np.cumsum(d)[:, None]
    phi = baselines.fit_arima(series[:300], p=2)
    assert phi.shape == (1, 2)
    np.testing.assert_allclose(phi[0], [0.5, -0.3], atol=0.15)
    res = ARIMA(series[:300, 0], order=(2, 1, 0)).fit()
    for origin in (320, 377):
        ours = baselines.arima_forecast(phi, series[None, origin - 20:origin], 5)[0, :, 0]
        ref = res.apply(series[:origin, 0]).forecast(5)
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_loads_channels_after_the_time_column(tmp_path):
    f = _write(tmp_path / "ok.csv", "time,a,b\n2020-01-01 00:00,1,2\n2020-01-01 01:00,3,4\n")
    x, names = load_csv(f)
    assert names == ["a", "b"]
    np.testing.assert_array_equal(x, [[1, 2], [3, 4]])


@pytest.mark.parametrize("text, problem", [
    (None, "file not found"),
    ("t,a\n0,1\n1,oops\n", "column 'a' has non-numeric entries"),
    ("t,a\n1,1\n0,2\n", "not sorted"),
    ("t\n0\n1\n", "needs at least one value column"),
    ("t,a\n0,1\n1,\n", "NaN"),
])
def test_bad_csv_gives_one_line_error_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "bad.csv"
    if text is not None:
        _write(path, text)
    with pytest.raises(InputError, match=problem) as err:
        load_csv(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)
