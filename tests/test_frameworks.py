"""The four evaluation frameworks select the paper's training and test data (Supp. 6.3)."""

import jax
import numpy as np
import pytest

from jtsgen.data.labelled import Labelled
from jtsgen.detect.base import Fitted, best_threshold
from jtsgen.errors import InputError
from jtsgen.evaluate.frameworks import (
    FRAMEWORKS,
    detection_scores,
    evaluate_framework,
    framework_data,
    holdout_split,
)


def _set(n: int, offset: float, t: int = 12) -> Labelled:
    """``n`` series whose values identify them (offset + row), one spike labelled each."""
    x = offset + np.arange(n, dtype=np.float32)[:, None, None] + np.zeros((n, t, 1), np.float32)
    y = np.zeros((n, t), np.float32)
    y[:, 3] = 1.0
    return Labelled(x, y)


REAL_TRAIN, REAL_TEST, SYNTH = _set(8, 0.0), _set(2, 100.0), _set(10, 1000.0)


def test_trtr_fits_on_real_train_and_tests_on_real_test():
    fit_on, test_on = framework_data("TRTR", REAL_TRAIN, REAL_TEST, None)
    np.testing.assert_array_equal(fit_on.x_btc, REAL_TRAIN.x_btc)
    np.testing.assert_array_equal(test_on.x_btc, REAL_TEST.x_btc)


def test_trstr_fits_on_real_train_plus_all_synthetic_and_tests_on_real():
    fit_on, test_on = framework_data("T(R+S)TR", REAL_TRAIN, REAL_TEST, SYNTH)
    np.testing.assert_array_equal(fit_on.x_btc,
                                  np.concatenate([REAL_TRAIN.x_btc, SYNTH.x_btc]))
    np.testing.assert_array_equal(fit_on.y_bt, np.concatenate([REAL_TRAIN.y_bt, SYNTH.y_bt]))
    np.testing.assert_array_equal(test_on.x_btc, REAL_TEST.x_btc)


def test_tstr_fits_on_synthetic_only():
    fit_on, test_on = framework_data("TSTR", REAL_TRAIN, REAL_TEST, SYNTH)
    np.testing.assert_array_equal(fit_on.x_btc, SYNTH.x_btc)
    np.testing.assert_array_equal(test_on.x_btc, REAL_TEST.x_btc)


def test_trts_fits_on_all_real_and_tests_on_a_seeded_fifth_of_synthetic():
    fit_on, test_on = framework_data("TRTS", REAL_TRAIN, REAL_TEST, SYNTH, seed=3)
    np.testing.assert_array_equal(fit_on.x_btc,
                                  np.concatenate([REAL_TRAIN.x_btc, REAL_TEST.x_btc]))
    assert test_on.x_btc.shape == (2, 12, 1)  # round(0.2 * 10)
    rows = test_on.x_btc[:, 0, 0] - 1000.0  # the synthetic rows picked, labels alongside
    assert len(set(rows)) == 2 and all(r in range(10) for r in rows)
    np.testing.assert_array_equal(test_on.y_bt, SYNTH.y_bt[rows.astype(int)])
    again = framework_data("TRTS", REAL_TRAIN, REAL_TEST, SYNTH, seed=3)[1]
    np.testing.assert_array_equal(again.x_btc, test_on.x_btc)
    one = framework_data("TRTS", REAL_TRAIN, REAL_TEST, _set(2, 1000.0))[1]
    assert one.x_btc.shape[0] == 1  # at least one series


@pytest.mark.parametrize("bad, source", [
    (("TRTX", REAL_TRAIN, REAL_TEST, SYNTH), "framework"),
    (("TSTR", REAL_TRAIN, REAL_TEST, None), "synthetic"),
    (("TSTR", REAL_TRAIN, REAL_TEST, _set(3, 0.0, t=10)), "synthetic"),
    (("TRTR", REAL_TRAIN, Labelled(REAL_TEST.x_btc, REAL_TEST.y_bt[:, :5]), None), "real_test"),
    (("TRTR", Labelled(np.zeros((0, 12, 1)), np.zeros((0, 12))), REAL_TEST, None), "real_train"),
])
def test_bad_input_names_the_argument(bad, source):
    with pytest.raises(InputError) as err:
        framework_data(*bad)
    assert err.value.source == source


def test_detection_scores_are_point_wise_with_point_adjusted_extra():
    y = np.array([[1, 1, 0, 0]], np.float32)
    fitted = Fitted("fixed", lambda x: x[..., 0], threshold=0.5)
    x = np.array([[1, 0, 1, 0]], np.float32)[..., None]  # one hit, one miss, one false alarm
    got = detection_scores(fitted, x, y)
    assert got["precision"] == pytest.approx(0.5) and got["recall"] == pytest.approx(0.5)
    assert got["f1"] == pytest.approx(0.5)
    assert got["f1_point_adjusted"] == pytest.approx(0.8)  # the segment counts as found


def _threshold_on_value(key, x_btc, y_bt):
    """A detector scoring a step by its value, thresholded at the training data's best F1."""
    return Fitted("value", lambda x: x[..., 0], best_threshold(x_btc[..., 0], y_bt))


def _spikes(n: int, spike: float, unlabelled: float) -> Labelled:
    """Zero series with a labelled spike of ``spike`` at step 2 and an unlabelled bump
    of ``unlabelled`` at step 6."""
    x = np.zeros((n, 10, 1), np.float32)
    x[:, 2], x[:, 6] = spike, unlabelled
    y = np.zeros((n, 10), np.float32)
    y[:, 2] = 1.0
    return Labelled(x, y)


def test_the_threshold_comes_from_the_frameworks_training_data():
    real_train, real_test = _spikes(6, 1.0, 0.0), _spikes(3, 1.0, 0.0)
    synthetic = _spikes(6, 2.0, 1.0)  # taller anomalies, normal bumps as tall as real ones
    key = jax.random.key(0)
    scores = {fw: evaluate_framework(fw, _threshold_on_value, key, real_train, real_test,
                                     synthetic) for fw in FRAMEWORKS}
    assert scores["TRTR"]["f1"] == 1.0 and scores["TRTR"]["n_fit"] == 6
    # trained on synthetic only, the threshold sits above the real spikes: nothing found
    assert scores["TSTR"]["f1"] == 0.0 and scores["TSTR"]["n_fit"] == 6
    # real + synthetic: a threshold of 1 catches every real spike
    assert scores["T(R+S)TR"]["recall"] == 1.0 and scores["T(R+S)TR"]["n_fit"] == 12
    # trained on real, tested on synthetic: the synthetic bumps are false alarms
    trts = scores["TRTS"]
    assert trts["n_fit"] == 9 and trts["n_test"] == 1
    assert trts["recall"] == 1.0 and trts["precision"] == pytest.approx(0.5)
    assert trts["test_anomaly_rate"] == pytest.approx(0.1)
    assert trts["f1_flag_all"] == pytest.approx(0.2 / 1.1)  # P = 0.1, R = 1


def test_test_oracle_f1_picks_the_threshold_on_the_test_scores():
    y = np.array([[0, 1, 1, 0, 0]], np.float32)
    x = np.array([[0.1, 0.9, 0.8, 0.2, 0.85]], np.float32)[..., None]
    fitted = Fitted("value", lambda x: x[..., 0], threshold=0.95)  # its own: flags nothing
    got = detection_scores(fitted, x, y)
    assert got["f1"] == 0.0
    # best on the test scores: >= 0.8 flags 0.9, 0.8, 0.85 -> P 2/3, R 1, F1 0.8
    assert got["f1_test_oracle"] == pytest.approx(0.8)

    class PredictOnly:
        def predict(self, x_btc):
            return (x_btc[..., 0] > 0.5).astype(np.float32)

    other = detection_scores(PredictOnly(), x, y)
    assert other["f1"] == pytest.approx(0.8) and np.isnan(other["f1_test_oracle"])


def test_train_anomaly_share_is_that_of_the_frameworks_training_set():
    real_train, real_test = _spikes(6, 1.0, 0.0), _spikes(3, 1.0, 0.0)  # 1 of 10 steps
    synthetic = _spikes(6, 2.0, 1.0)
    synthetic.y_bt[:, 5] = 1.0  # 2 of 10 steps
    key = jax.random.key(0)
    share = {fw: evaluate_framework(fw, _threshold_on_value, key, real_train, real_test,
                                    synthetic)["train_anomaly_share"] for fw in FRAMEWORKS}
    assert share == pytest.approx({"TRTR": 0.1, "T(R+S)TR": 0.15, "TSTR": 0.2, "TRTS": 0.1})


def test_threshold_from_real_train_rechooses_only_t_rs_tr_threshold_on_the_real_part():
    # real spikes of 1 next to unlabelled bumps of 0.5; many weak synthetic anomalies (0.3)
    real_train, real_test = _spikes(6, 1.0, 0.5), _spikes(3, 1.0, 0.5)
    synthetic = _spikes(12, 0.3, 0.0)
    key = jax.random.key(0)
    own = evaluate_framework("T(R+S)TR", _threshold_on_value, key, real_train, real_test,
                             synthetic)
    # on R+S the best threshold is 0.3 (catches 18 of 18 at 6 false alarms): the real
    # bumps become false alarms on the test data too, P 1/2, F1 2/3
    assert own["f1"] == pytest.approx(2 / 3) and "f1_threshold_fit_data" not in own
    real = evaluate_framework("T(R+S)TR", _threshold_on_value, key, real_train, real_test,
                              synthetic, threshold_from="real_train")
    assert real["f1"] == 1.0 and real["f1_threshold_fit_data"] == pytest.approx(2 / 3)
    for fw in ("TRTR", "TSTR", "TRTS"):  # the other frameworks keep their own thresholds
        assert (evaluate_framework(fw, _threshold_on_value, key, real_train, real_test,
                                   synthetic, threshold_from="real_train")
                == evaluate_framework(fw, _threshold_on_value, key, real_train, real_test,
                                      synthetic))
    with pytest.raises(InputError, match="threshold_from"):
        evaluate_framework("TRTR", _threshold_on_value, key, real_train, real_test, None,
                           threshold_from="test")


def test_t_rs_tr_with_the_real_threshold_scores_each_series_set_once():
    """The test series are scored once and both thresholds applied to those scores."""
    real_train, real_test = _spikes(6, 1.0, 0.5), _spikes(3, 1.0, 0.5)
    scored: list[int] = []

    def counting_fit(key, x_btc, y_bt):
        def score(x):
            scored.append(len(x))
            return x[..., 0]
        return Fitted("value", score, best_threshold(x_btc[..., 0], y_bt))

    evaluate_framework("T(R+S)TR", counting_fit, jax.random.key(0), real_train, real_test,
                       _spikes(12, 0.3, 0.0), threshold_from="real_train")
    assert sorted(scored) == [len(real_test.x_btc), len(real_train.x_btc)]


def test_threshold_from_real_holdout_rechooses_trtr_and_t_rs_tr_thresholds_on_the_holdout():
    # fitted windows: spikes of 1 (their best threshold is 1); held-out and test windows:
    # spikes of 0.6 next to bumps of 0.2, which only the held-out threshold (0.6) catches
    real_fit, holdout, real_test = _spikes(6, 1.0, 0.5), _spikes(3, 0.6, 0.2), _spikes(3, 0.6, 0.2)
    synthetic = _spikes(6, 2.0, 1.0)
    key = jax.random.key(0)
    for fw in ("TRTR", "T(R+S)TR"):
        own = evaluate_framework(fw, _threshold_on_value, key, real_fit, real_test, synthetic)
        held = evaluate_framework(fw, _threshold_on_value, key, real_fit, real_test, synthetic,
                                  threshold_from="real_holdout", holdout=holdout)
        assert own["f1"] == 0.0 and held["f1"] == 1.0
        assert held["n_fit"] == own["n_fit"]  # the held-out windows are not fitted on
    assert held["f1_threshold_fit_data"] == 0.0  # T(R+S)TR also reports its own threshold's
    for fw in ("TSTR", "TRTS"):  # these keep their own thresholds
        assert (evaluate_framework(fw, _threshold_on_value, key, real_fit, real_test, synthetic,
                                   threshold_from="real_holdout", holdout=holdout)
                == evaluate_framework(fw, _threshold_on_value, key, real_fit, real_test,
                                      synthetic))
    with pytest.raises(InputError, match="holdout"):
        evaluate_framework("TRTR", _threshold_on_value, key, real_fit, real_test, None,
                           threshold_from="real_holdout")


def test_holdout_split_keeps_the_share_of_anomalous_windows_and_is_disjoint():
    x = np.arange(50, dtype=np.float32)[:, None, None] + np.zeros((50, 4, 1), np.float32)
    y = np.zeros((50, 4), np.float32)
    y[:10, 1] = 1.0  # windows 0-9 hold an anomaly: 20 %
    fit, held = holdout_split(Labelled(x, y), 0.2, seed=3)
    fit_ids, held_ids = fit.x_btc[:, 0, 0].astype(int), held.x_btc[:, 0, 0].astype(int)
    assert len(held_ids) == 10 and np.sum(held_ids < 10) == 2  # 20 % of each kind
    assert sorted(np.concatenate([fit_ids, held_ids]).tolist()) == list(range(50))
    assert np.array_equal(fit.y_bt, y[fit_ids]) and np.array_equal(held.y_bt, y[held_ids])
    again, _ = holdout_split(Labelled(x, y), 0.2, seed=3)
    other, _ = holdout_split(Labelled(x, y), 0.2, seed=4)
    assert np.array_equal(again.x_btc, fit.x_btc) and not np.array_equal(other.x_btc, fit.x_btc)
    for fraction in (0.0, 1.0):
        with pytest.raises(InputError, match="holdout_frac"):
            holdout_split(Labelled(x, y), fraction)
    with pytest.raises(InputError, match="holdout_frac"):
        holdout_split(Labelled(x[:1], y[:1]), 0.2)
