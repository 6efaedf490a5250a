"""Fidelity metrics: known answers, best values for identical sets, monotone in a shift."""

import jax
import numpy as np
import pytest

from jtsgen.evaluate import fidelity as F
from jtsgen.evaluate import trained_scores as T

SHIFTS = (0.0, 0.25, 0.5, 1.0, 2.0)


def _sines(n, seed, t=24):
    """Random-phase, random-frequency sines ``[n, t]`` (one distribution for every seed)."""
    rng = np.random.default_rng(seed)
    freq, phase = rng.uniform(0.05, 0.15, (n, 1)), rng.uniform(-np.pi, np.pi, (n, 1))
    return np.sin(2 * np.pi * freq * np.arange(t) + phase)


def _correlated(n, rho, seed, t=24):
    """Two AR-smoothed channels ``[n, t, 2]`` whose cross-channel correlation is ``rho``."""
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, n, t))
    return np.stack([a, rho * a + np.sqrt(1 - rho**2) * b], axis=-1)


def _increasing(values):
    return all(x < y for x, y in zip(values, values[1:], strict=False))


@pytest.fixture(scope="module")
def data():
    return {"real": _sines(200, 1), "same": _sines(200, 2),
            "noise": np.random.default_rng(3).standard_normal((200, 24))}


# --- closed-form distances -------------------------------------------------------------


def test_identical_sets_score_best(data):
    real = data["real"]
    assert F.acf_distance(real, real) == 0.0
    assert F.trend_distance(real, real) == 0.0
    assert F.std_ratio(real, real) == 1.0
    assert F.spectral_distance(real, real) == 0.0
    assert F.correlation_distance(_correlated(50, 0.5, 0), _correlated(50, 0.5, 0)) == 0.0
    assert F.frechet_distance(real, real) == pytest.approx(0.0, abs=1e-6)
    # unbiased MMD² of a set with itself: 2 (mean off-diagonal - mean all) k, just below 0
    assert -2.0 / len(real) < F.mmd2(real, real) <= 0.0


def test_trend_and_std_have_exact_answers(data):
    real = data["real"]
    t = np.arange(real.shape[1])
    assert F.trend_distance(real, real + 0.03 * t) == pytest.approx(0.03)
    assert F.std_ratio(real, 2.5 * real) == pytest.approx(2.5)


def test_frechet_distance_of_a_shifted_copy_is_the_squared_shift():
    emb = np.random.default_rng(0).standard_normal((500, 4))
    mu = np.array([1.0, -2.0, 0.5, 0.0])
    assert F.frechet_distance(emb, emb + mu) == pytest.approx(mu @ mu, rel=1e-6)


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_the_shift(data):
    mmds = [F.mmd2(data["real"], data["same"] + s) for s in SHIFTS]
    assert abs(mmds[0]) < 0.01
    assert _increasing(mmds)
    assert mmds[-1] > 0.5


def test_temporal_distances_grow_as_noise_replaces_the_signal(data):
    rng = np.random.default_rng(4)
    fakes = [(1 - w) * data["same"] + w * rng.standard_normal(data["same"].shape)
             for w in (0.0, 0.3, 0.6, 1.0)]
    assert _increasing([F.acf_distance(data["real"], f) for f in fakes])
    assert _increasing([F.spectral_distance(data["real"], f) for f in fakes])
    assert F.acf_distance(data["real"], fakes[0]) < 0.02


def test_correlation_distance_tracks_the_lost_correlation():
    real = _correlated(400, 0.8, 0)
    dists = [F.correlation_distance(real, _correlated(400, rho, 1)) for rho in (0.8, 0.5, 0.2, 0.0)]
    assert dists[0] < 0.03
    assert _increasing(dists)
    assert dists[-1] == pytest.approx(0.8, abs=0.03)
    with pytest.raises(ValueError, match="2 channels"):
        F.correlation_distance(real[..., :1], real[..., :1])


def test_multivariate_inputs_average_the_per_channel_distances(data):
    real = np.stack([data["real"], data["noise"]], axis=-1)
    fake = np.stack([data["same"], data["same"]], axis=-1)
    for fn in (F.acf_distance, F.trend_distance, F.std_ratio, F.spectral_distance):
        expected = 0.5 * (fn(data["real"], data["same"]) + fn(data["noise"], data["same"]))
        assert fn(real, fake) == pytest.approx(expected)
    report = F.fidelity_report(real, fake)
    assert "correlation_distance" in report and "correlation_distance" not in \
        F.fidelity_report(data["real"], data["same"])


# --- trained scores ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def reports(data):
    """``fidelity_report`` with every trained score, for a same-distribution set and noise."""
    key = jax.random.key(0)
    return {name: F.fidelity_report(data["real"], data[name], key=key)
            for name in ("same", "noise")}


def test_discriminative_score_separates_same_from_different(reports):
    assert reports["same"]["discriminative_score"] < 0.1  # measured 0.01
    assert reports["noise"]["discriminative_score"] > 0.4  # measured 0.5 (always told apart)


def test_predictive_score_is_lower_when_synthetic_matches_real(reports):
    assert reports["same"]["predictive_score"] < 0.5 * reports["noise"]["predictive_score"]


def test_context_fid_is_zero_for_identical_sets_and_grows_with_the_shift(data):
    embed = T.fit_context_encoder(data["real"], jax.random.key(1), steps=100)
    assert T.context_fid(data["real"], data["real"], embed=embed) == pytest.approx(0.0, abs=1e-6)
    fids = [T.context_fid(data["real"], data["same"] + s, embed=embed) for s in SHIFTS]
    assert _increasing(fids)
    assert fids[0] < 0.1 * fids[-1]


def test_report_contains_every_score(reports):
    expected = {"acf_distance", "trend_distance", "std_ratio", "spectral_distance", "dcr_ratio",
                "mmd2", "discriminative_score", "predictive_score", "context_fid"}
    assert set(reports["same"]) == expected
    assert reports["same"]["context_fid"] < reports["noise"]["context_fid"]
