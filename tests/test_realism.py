"""Anomaly realism measures on hand-made series with known answers."""

from __future__ import annotations

import numpy as np

from jtsgen.evaluate.realism import discriminative_score, run_stats, summarise_runs


def _flat_with(values: dict[int, float], t: int = 30) -> np.ndarray:
    x = np.zeros((1, t, 1))
    for i, v in values.items():
        x[0, i, 0] = v
    return x


def test_a_level_shift_has_its_offset_and_no_inner_change():
    x = _flat_with({i: 2.0 for i in range(10, 20)})
    y = np.zeros((1, 30))
    y[0, 10:20] = 1
    s = run_stats(x, y)
    np.testing.assert_allclose(s["offset"], [2.0])
    np.testing.assert_allclose(s["within_dx"], [0.0])
    np.testing.assert_allclose(s["length"], [10])


def test_a_noise_burst_changes_inside_its_run_and_a_spike_has_no_inner_change():
    x = _flat_with({10: 1.0, 11: -1.0, 12: 1.0, 13: -1.0, 25: 3.0})
    y = np.zeros((1, 30))
    y[0, 10:14] = 1
    y[0, 25] = 1
    s = run_stats(x, y)
    np.testing.assert_allclose(s["offset"], [1.0, 3.0])
    np.testing.assert_allclose(s["within_dx"][0], 2.0)
    assert np.isnan(s["within_dx"][1])


def test_the_reference_is_the_line_between_the_neighbours_and_edges_use_one_side():
    x = np.arange(10, dtype=float)[None, :, None]  # a ramp: labelled steps on the line
    y = np.zeros((1, 10))
    y[0, 3:6] = 1
    y[0, 8:] = 1  # at the end: reference is x[7] = 7, offsets 1 and 2
    s = run_stats(x, y)
    np.testing.assert_allclose(s["offset"], [0.0, 1.5])
    summary = summarise_runs(x, y)
    assert summary["runs"] == 2 and summary["normal_dx_mean"] == 1.0


def test_discriminative_score_is_chance_for_one_distribution_and_high_for_two():
    rng = np.random.default_rng(0)
    y = np.zeros((400, 40))
    y[:, 10:15] = 1
    real = rng.normal(size=(400, 40, 1)) * 0.1 + y[..., None]
    same = rng.normal(size=(400, 40, 1)) * 0.1 + y[..., None]
    noisy = real + y[..., None] * rng.normal(size=(400, 40, 1))
    assert abs(discriminative_score(real, y, same, y) - 0.5) < 0.1
    assert discriminative_score(real, y, noisy, y) > 0.9
