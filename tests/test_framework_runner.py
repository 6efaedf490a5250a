"""The four-framework runner's training budget per framework and its saved runs."""

import dataclasses
import json

import jax
import numpy as np
import pytest

from experiments import frameworks_sines
from jtsgen.config import to_dict, with_added_settings
from jtsgen.data.labelled import Labelled
from jtsgen.detect import registry, robusttad
from jtsgen.errors import InputError
from jtsgen.evaluate import framework_runner


def test_steps_scale_up_to_whole_fused_calls_and_leave_other_detectors_alone():
    settings = registry.DetectorSettings()  # sr_cnn: 400 steps, 50 per call
    assert registry.with_steps_scaled(settings, "sr_cnn", 2.0).sr_cnn.num_steps == 800
    assert registry.with_steps_scaled(settings, "sr_cnn", 1.25).sr_cnn.num_steps == 500
    assert registry.with_steps_scaled(settings, "sr_cnn", 1.3).sr_cnn.num_steps == 550
    scaled = registry.with_steps_scaled(settings, "ncad", 2.0)
    assert scaled.ncad.num_steps == 2 * settings.ncad.num_steps
    assert scaled.sr_cnn == settings.sr_cnn and scaled.robusttad == settings.robusttad
    assert registry.with_steps_scaled(settings, "case2", 3.0) is settings  # no training steps


@pytest.mark.parametrize("rule, rs_steps", [("fixed", 20), ("epochs", 40)])
def test_epochs_rule_trains_t_rs_tr_as_many_passes_per_window_as_trtr(monkeypatch, tmp_path,
                                                                       rule, rs_steps):
    config = dataclasses.replace(frameworks_sines.get_config("smoke"), detectors=("sr_cnn",),
                                 frameworks=("TRTR",), augmentations=("mixup",),
                                 detector_steps=rule)
    train, test = frameworks_sines.split(config, frameworks_sines.make_data(config), 0)
    fits = []
    original = registry.fit_detector

    def spy(name, key, x, y, settings):
        fits.append((len(x), settings.sr_cnn.num_steps))
        return original(name, key, x, y, settings)

    monkeypatch.setattr(registry, "fit_detector", spy)
    result = framework_runner.run_once(config, train, test, 0, tmp_path, progress=False)
    n = len(train.x_btc)  # Mixup's set is as large as the real one: R+S holds 2n windows
    assert [(c["framework"], c["source"]) for c in result["cells"]] == [
        ("TRTR", None), ("T(R+S)TR", "mixup")]
    assert fits == [(n, 20), (2 * n, rs_steps)]
    if rule == "epochs":
        assert "as many epochs" in framework_runner.frameworks_markdown(
            framework_runner.summarise([result]), config)


def test_class_weight_from_the_real_part_keeps_robusttads_pos_weight_of_the_real_labels(
        monkeypatch, tmp_path):
    y_real = np.zeros((4, 10), np.float32)
    y_real[:, :2] = 1.0  # 20 % labelled: inverse positive rate 4
    resolved = registry.with_class_weight_of(registry.DetectorSettings(), "robusttad", y_real)
    assert resolved.robusttad.pos_weight == pytest.approx(4.0)
    fixed = dataclasses.replace(registry.DetectorSettings().robusttad, pos_weight=2.0)
    settings = dataclasses.replace(registry.DetectorSettings(), robusttad=fixed)
    assert registry.with_class_weight_of(settings, "robusttad", y_real) is settings
    assert registry.with_class_weight_of(settings, "sr_cnn", y_real) is settings

    config = dataclasses.replace(frameworks_sines.get_config("smoke"), detectors=("robusttad",),
                                 frameworks=("TRTR", "TSTR"), augmentations=("mixup",))
    train, test = frameworks_sines.split(config, frameworks_sines.make_data(config), 0)
    real_weight = robusttad.positive_weight(train.y_bt, config.robusttad)
    original = registry.fit_detector
    for rule in ("fit_data", "real_train", "real_part"):
        weights = []

        def spy(name, key, x, y, settings, weights=weights):
            fitted = original(name, key, x, y, settings)
            weights.append((float(robusttad.positive_weight(y, config.robusttad)),
                            fitted.info["pos_weight"]))
            return fitted

        monkeypatch.setattr(registry, "fit_detector", spy)
        framework_runner.run_once(dataclasses.replace(config, class_weight_from=rule),
                                  train, test, 0, tmp_path / rule, progress=False)
        # fits: TRTR, TSTR (C-GATS's labels alone), T(R+S)TR with Mixup (real + soft labels)
        own, used = np.asarray(weights).T
        assert len(own) == 3 and own[0] == pytest.approx(real_weight)
        assert not np.allclose(own[1:], real_weight)  # their rate differs from the real one
        assert used == pytest.approx({"fit_data": own, "real_train": [real_weight] * 3,
                                      "real_part": [real_weight, own[1], real_weight]}[rule])
    with pytest.raises(InputError, match="class_weight_from"):
        framework_runner.check_config(dataclasses.replace(config, class_weight_from="test"))


def test_a_run_saved_before_a_setting_existed_is_read_back_at_its_old_value(monkeypatch,
                                                                           tmp_path):
    config = dataclasses.replace(frameworks_sines.get_config("smoke"), detector_steps="fixed")
    settings = {k: v for k, v in json.loads(json.dumps(to_dict(config))).items()
                if k not in ("n_runs", "only_runs", "detector_steps")}
    del settings["model"]["marginal"]  # a nested setting added later
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "run0.json").write_text(json.dumps(
        {"settings": settings, "result": {"cells": [], "n_train": 1, "n_test": 1}}))

    def must_not_run(*args, **kwargs):
        raise AssertionError("the saved run was run again")

    monkeypatch.setattr(framework_runner, "run_once", must_not_run)
    runs = framework_runner.run_all(config, tmp_path, lambda r: (None, None), progress=False)
    assert runs == [{"cells": [], "n_train": 1, "n_test": 1}]
    with pytest.raises(AssertionError, match="run again"):  # not at another value
        framework_runner.run_all(dataclasses.replace(config, detector_steps="epochs"),
                                 tmp_path, lambda r: (None, None), progress=False)
    # an added setting that this experiment does not have is not filled in
    assert "extra_train" not in with_added_settings(settings, settings,
                                                    framework_runner.ADDED_SETTINGS)
    quantile = dataclasses.replace(config, model=dataclasses.replace(config.model,
                                                                     marginal="quantile"))
    with pytest.raises(AssertionError, match="run again"):
        framework_runner.run_all(quantile, tmp_path, lambda r: (None, None), progress=False)


def test_an_unknown_steps_rule_is_refused():
    with pytest.raises(InputError, match="--config.detector_steps"):
        framework_runner.check_config(dataclasses.replace(
            frameworks_sines.get_config("smoke"), detector_steps="minutes"))


def test_matched_labels_keep_the_real_share_of_anomalous_windows(monkeypatch):
    def draws(state, key, n):  # stands in for the label model: steps 3-7 of each window
        out = np.zeros((n, 12), np.float32)
        out[:, 3:8] = 1
        return out

    monkeypatch.setattr(framework_runner.cgats, "draw_labels", draws)
    y = np.zeros((40, 12), np.float32)
    y[:10, 0] = 1  # a quarter of the windows are anomalous
    key = jax.random.key(0)
    out = framework_runner.synthetic_labels("matched", None, key, y)
    anomalous = out.max(axis=1) > 0
    assert out.shape == y.shape and anomalous.sum() == 10
    np.testing.assert_array_equal(out[anomalous], draws(None, None, 10))
    assert not anomalous[:10].all()  # the rows are drawn, not the real ones copied
    assert framework_runner.synthetic_labels("label_model", None, key, y).max(axis=1).all()
    np.testing.assert_array_equal(framework_runner.synthetic_labels("train", None, key, y), y)
    with pytest.raises(InputError, match="synthetic_labels"):
        framework_runner.synthetic_labels("real", None, key, y)


@pytest.mark.parametrize("mode", ["train", "train_paste"])
def test_cgats_from_training_windows_inserts_each_drawn_label_vector_into_its_own_window(
        monkeypatch, mode):
    n, t = 7, 12
    rng = np.random.default_rng(0)
    train = Labelled(rng.normal(size=(n, t, 1)).astype(np.float32),
                     (rng.random((n, t)) < 0.1).astype(np.float32))
    drawn = np.zeros((n, t), np.float32)
    drawn[np.arange(n), np.arange(n)] = 1  # window i gets an anomaly at step i
    calls = []

    def insert(state, key, x_btc, y_bt, labels_bt, *, paste, temperature):
        calls.append((len(x_btc), paste, temperature))
        return x_btc + 10.0 * labels_bt[..., None] + 100.0 * y_bt[..., None]

    monkeypatch.setattr(framework_runner.generators, "train_generators",
                        lambda *a, **k: ({"cgats": "fitted"}, {}))
    monkeypatch.setattr(framework_runner.cgats, "draw_labels", lambda state, key, m: drawn)
    monkeypatch.setattr(framework_runner.cgats, "insert_anomalies", insert)
    monkeypatch.setattr(framework_runner, "GENERATE_CHUNK", 3)  # rows stay aligned in chunks
    config = dataclasses.replace(frameworks_sines.get_config("smoke"), cgats_from=mode)
    out = framework_runner.synthetic_sets(config, train, {"cgats"},
                                          framework_runner.source_keys(0, 0), None,
                                          progress=False)["cgats"]
    np.testing.assert_array_equal(out.x_btc, train.x_btc + 10.0 * drawn[..., None]
                                  + 100.0 * train.y_bt[..., None])
    np.testing.assert_array_equal(out.y_bt, drawn)
    assert calls == [(3, mode == "train_paste", None)] * 2 + [(1, mode == "train_paste", None)]
    with pytest.raises(InputError, match="--config.cgats_from"):
        framework_runner.check_config(dataclasses.replace(config, cgats_from="posterior"))


def test_runs_spread_over_calls_are_read_back_by_a_call_without_only_runs(monkeypatch,
                                                                          tmp_path):
    config = dataclasses.replace(frameworks_sines.get_config("smoke"), n_runs=3)
    done = []

    def fake_run(config, train, test, r, checkpoints, progress=True):
        done.append(r)
        return {"cells": [], "n_train": 1, "n_test": 1, "run": r}

    monkeypatch.setattr(framework_runner, "run_once", fake_run)
    for part in [(2,), (0, 1)]:
        part_config = dataclasses.replace(config, only_runs=part)
        runs = framework_runner.run_all(part_config, tmp_path, lambda r: (None, None))
        assert [run["run"] for run in runs] == list(part)
        assert framework_runner.write_tables(part_config, tmp_path, runs, "") == {"runs": runs}
        assert not (tmp_path / "results.json").exists()  # a part writes no tables
    runs = framework_runner.run_all(config, tmp_path, lambda r: (None, None))
    assert [run["run"] for run in runs] == [0, 1, 2] and done == [2, 0, 1]  # none run twice
    with pytest.raises(InputError, match="--config.only_runs"):
        framework_runner.check_config(dataclasses.replace(config, only_runs=(3,)))


def test_with_real_holdout_no_fit_and_no_source_sees_a_held_out_window(monkeypatch, tmp_path):
    config = dataclasses.replace(frameworks_sines.get_config("smoke"), detectors=("case2",),
                                 frameworks=("TRTR",), augmentations=("mixup",),
                                 threshold_from="real_holdout", holdout_frac=0.25)
    train, test = frameworks_sines.split(config, frameworks_sines.make_data(config), 0)
    held, seen = [], []
    original_split, original_fit = framework_runner.holdout_split, registry.fit_detector
    original_augment = framework_runner.augment_batch

    def split_spy(data, fraction, seed=0):
        fit_part, holdout = original_split(data, fraction, seed)
        held.append({row.tobytes() for row in np.asarray(holdout.x_btc)})
        return fit_part, holdout

    def rows(x):
        return {row.tobytes() for row in np.asarray(x)}

    def fit_spy(name, key, x, y, settings):
        seen.append(rows(x))
        return original_fit(name, key, x, y, settings)

    def augment_spy(fn, key, x, y, **kwargs):
        seen.append(rows(x))
        return original_augment(fn, key, x, y, **kwargs)

    monkeypatch.setattr(framework_runner, "holdout_split", split_spy)
    monkeypatch.setattr(registry, "fit_detector", fit_spy)
    monkeypatch.setattr(framework_runner, "augment_batch", augment_spy)
    result = framework_runner.run_once(config, train, test, 0, tmp_path, progress=False)
    n_held = round(0.25 * np.sum(train.y_bt.max(axis=1) > 0)) + round(
        0.25 * np.sum(train.y_bt.max(axis=1) == 0))
    assert result["n_holdout"] == len(held[0]) == n_held
    assert result["n_train"] == len(train.x_btc) - n_held
    assert len(seen) == 3 and all(not (s & held[0]) for s in seen)  # augment, two fits
    with pytest.raises(InputError, match="--config.holdout_frac"):
        framework_runner.check_config(dataclasses.replace(config, holdout_frac=1.0))


def _cells(det, trtr, **sources):
    return [{"detector": det, "framework": "TRTR", "source": None, "f1": trtr}] + [
        {"detector": det, "framework": "T(R+S)TR", "source": s, "f1": f} for s, f in
        sources.items()] + [{"detector": det, "framework": "TSTR", "source": "cgats", "f1": 0.0}]


def test_paired_differences_subtract_run_by_run_and_count_the_wins():
    runs = [{"cells": _cells("ncad", 0.40, cgats=0.50, cutmix=0.45)},
            {"cells": _cells("ncad", 0.30, cgats=0.32, cutmix=0.40)},
            {"cells": _cells("ncad", 0.20, cgats=0.26, cutmix=0.20)}]
    diff = framework_runner.paired_differences(runs, "ncad")
    assert set(diff) == {"TRTR", "cutmix"}  # TSTR is not a column of Table 3
    mean, std, wins = diff["TRTR"]
    assert mean == pytest.approx(np.mean([0.10, 0.02, 0.06])) and wins == 3
    assert std == pytest.approx(np.std([0.10, 0.02, 0.06]))
    mean, _, wins = diff["cutmix"]
    assert mean == pytest.approx(np.mean([0.05, -0.08, 0.06])) and wins == 2
    config = dataclasses.replace(frameworks_sines.get_config("smoke"), detectors=("ncad",),
                                 augmentations=("cutmix", "cgats"))
    table = framework_runner.paired_markdown(runs, config)
    assert "| NCAD | +0.060 ± 0.033 (3/3) | +0.010 ± 0.064 (2/3) |" in table
    assert framework_runner.paired_markdown(runs[:1], config) is None  # one run: no pairs
