"""Synthetic Sines (C-GATS paper, section 6.2): shapes, labels, anomalies, determinism."""

import time

import numpy as np
import pytest

from jtsgen.data import KINDS, make_sines
from jtsgen.errors import InputError


def _clean(meta, length):
    """The anomaly-free sines recomputed here from the sampled η and θ."""
    t = np.arange(length, dtype=np.float64)
    return np.sin(2 * np.pi * np.outer(meta.freq, t) + meta.phase[:, None]).astype(np.float32)


def _expected_labels(meta, length):
    """Labels recomputed series by series from (kind, position, length)."""
    y = np.zeros((meta.freq.shape[0], length), np.float32)
    for i in range(y.shape[0]):
        if meta.kind[i] >= 0:
            p, n = int(meta.position[i]), int(meta.length[i])
            y[i, p : min(p + n, length)] = 1.0
    return y


def test_shapes_and_dtypes():
    data = make_sines(50, seed=0)
    assert data.x_btc.shape == (50, 240, 1) and data.x_btc.dtype == np.float32
    assert data.y_bt.shape == (50, 240) and data.y_bt.dtype == np.float32
    assert set(np.unique(data.y_bt)) <= {0.0, 1.0}
    assert all(field.shape == (50,) for field in data.meta)


def test_labels_equal_anomaly_positions_from_meta():
    data = make_sines(400, seed=1)
    np.testing.assert_array_equal(data.y_bt, _expected_labels(data.meta, 240))


def test_values_differ_from_clean_sine_exactly_where_labelled():
    data = make_sines(400, seed=2)
    diff = np.abs(data.x_btc[:, :, 0] - _clean(data.meta, 240))
    changed = diff > 1e-5  # float rounding aside, unlabelled steps are the clean sine
    np.testing.assert_array_equal(changed, data.y_bt == 1)
    assert diff[data.y_bt == 1].min() >= 0.5 - 1e-5  # smallest configured magnitude


def test_anomaly_direction_and_magnitude():
    data = make_sines(300, seed=3, point_magnitude=1.5, level_magnitude=0.75)
    delta = data.x_btc[:, :, 0].astype(np.float64) - _clean(data.meta, 240)
    for i in np.flatnonzero(data.meta.kind >= 0):
        seg = delta[i][data.y_bt[i] == 1]
        expected = 1.5 if KINDS[data.meta.kind[i]] == "point" else 0.75
        np.testing.assert_allclose(seg, data.meta.direction[i] * expected, atol=1e-5)


def test_lengths_positions_and_kinds_follow_config():
    data = make_sines(2000, seed=4, level_length=(20, 60))
    m = data.meta
    point, level = m.kind == KINDS.index("point"), m.kind == KINDS.index("level_shift")
    assert point.any() and level.any()
    assert m.length[point].min() >= 1 and m.length[point].max() <= 10
    assert m.length[level].min() >= 20 and m.length[level].max() <= 60
    assert m.position.min() >= 0 and m.position.max() < 240
    assert set(np.unique(m.direction[m.kind >= 0])) == {-1, 1}
    # Anomalies near the end are clipped at T.
    clipped = (m.kind >= 0) & (m.position + m.length > 240)
    assert clipped.any()
    assert np.all(data.y_bt[clipped].sum(axis=1) == 240 - m.position[clipped])


def test_anomaly_probability_and_kind_selection():
    none = make_sines(200, seed=5, anomaly_prob=0.0)
    assert none.y_bt.sum() == 0 and np.all(none.meta.kind == -1)
    every = make_sines(200, seed=5, anomaly_prob=1.0, kinds=("point",))
    assert np.all(every.meta.kind == KINDS.index("point"))
    assert np.all(every.y_bt.sum(axis=1) >= 1)
    half = make_sines(4000, seed=5)
    assert 0.45 < (half.meta.kind >= 0).mean() < 0.55


def test_freq_range_option():
    data = make_sines(100, seed=6, freq_range=(0.01, 0.05))
    assert data.meta.freq.min() >= 0.01 and data.meta.freq.max() <= 0.05


def test_deterministic_by_seed():
    a, b, c = make_sines(64, seed=7), make_sines(64, seed=7), make_sines(64, seed=8)
    np.testing.assert_array_equal(a.x_btc, b.x_btc)
    np.testing.assert_array_equal(a.y_bt, b.y_bt)
    assert not np.array_equal(a.x_btc, c.x_btc)


def test_paper_scale_is_fast():
    start = time.perf_counter()
    data = make_sines(64000, seed=0, kinds=("point",))
    elapsed = time.perf_counter() - start
    assert data.x_btc.shape == (64000, 240, 1)
    assert elapsed < 10.0
    # Paper Table 4 reports 171,071 anomalous points for 64000 series.
    assert 150_000 < data.y_bt.sum() < 200_000


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kinds": ("spike",)}, "kinds"),
        ({"anomaly_prob": 1.5}, "anomaly_prob"),
        ({"point_length": (0, 10)}, "point_length"),
        ({"point_magnitude": -1.0}, "point_magnitude"),
        ({"kind_probs": (0.2, 0.2)}, "kind_probs"),
        ({"length": 0}, "length"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_sines(10, seed=0, **kwargs)
