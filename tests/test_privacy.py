"""Privacy metrics: known answers for copying and for independent generators."""

import numpy as np
import pytest

from jtsgen.evaluate import privacy


def _records(n, seed, t=20, c=2):
    """Random-walk windows ``[n, t, c]`` (one distribution for every seed)."""
    return np.random.default_rng(seed).standard_normal((n, t, c)).cumsum(axis=1)


@pytest.fixture(scope="module")
def sets():
    return {"train": _records(200, 0), "holdout": _records(200, 1),
            "independent": _records(200, 2)}


def test_closest_distances_on_a_tiny_example():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    b = np.array([[0.0, 1.0], [3.0, 0.0], [10.0, 10.0]])
    np.testing.assert_allclose(privacy.closest_distances(a, b, 2),
                               [[1.0, 3.0], [4.0, np.sqrt(18.0)]])
    np.testing.assert_allclose(privacy.closest_distances(a, a, exclude_self=True)[:, 0], [5, 5])
    np.testing.assert_allclose(privacy.nndr(a, b), [1 / 3, 4 / np.sqrt(18.0)])


def test_a_copied_training_record_has_distance_zero(sets):
    synth = sets["independent"].copy()
    synth[7] = sets["train"][42]
    report = privacy.privacy_report(sets["train"], sets["holdout"], synth)
    assert report["dcr_train_min"] == pytest.approx(0.0, abs=1e-6)
    assert privacy.nndr(synth, sets["train"])[7] == pytest.approx(0.0, abs=1e-6)


def test_copying_the_training_set_is_caught_by_every_measure(sets):
    report = privacy.privacy_report(sets["train"], sets["holdout"], sets["train"][:150])
    assert report["membership_auc"] > 0.85  # 150 of 200 members sit on a synthetic record
    assert report["dcr_train_median"] == pytest.approx(0.0, abs=1e-6)
    assert report["dcr_ratio"] < 0.01
    assert report["share_closer_to_train"] > 0.5
    assert report["nndr_train_median"] < 0.01 < report["nndr_holdout_median"]


def test_full_copy_gives_auc_one(sets):
    assert privacy.membership_auc(sets["train"], sets["holdout"], sets["train"]) == 1.0


def test_a_generator_independent_of_the_training_data_leaks_nothing(sets):
    report = privacy.privacy_report(sets["train"], sets["holdout"], sets["independent"])
    assert abs(report["membership_auc"] - 0.5) < 0.08
    assert 0.85 < report["dcr_ratio"] < 1.15
    assert abs(report["share_closer_to_train"] - 0.5) < 0.1
    assert report["nndr_train_median"] == pytest.approx(report["nndr_holdout_median"], abs=0.1)


def test_noisy_copies_are_between_independent_and_exact_copies(sets):
    rng = np.random.default_rng(3)
    aucs = [privacy.membership_auc(sets["train"], sets["holdout"],
                                   sets["train"] + scale * rng.standard_normal(sets["train"].shape))
            for scale in (0.0, 2.0, 3.0, 16.0)]
    assert aucs[0] == 1.0
    assert aucs[0] > aucs[1] > aucs[2] > aucs[3]  # more noise, less leakage
    assert abs(aucs[3] - 0.5) < 0.08  # noise far above the records' spacing: nothing left
