"""Spy test: no test-split row reaches a generator, the label model, an augmenter, a
scaler or a detector's fit (and so its threshold), except where a framework says so
(TRTS fits on all real series, Supp. 6.3)."""

from __future__ import annotations

import dataclasses

import numpy as np

from experiments import frameworks_sines
from jtsgen.data import splits
from jtsgen.data.labelled import Labelled
from jtsgen.detect import registry
from jtsgen.evaluate import framework_runner, frameworks
from jtsgen.models import cgats, generators

SENTINEL = 1000.0  # every test value is above it, no training value is


def _has_test_rows(x) -> bool:
    return bool(np.max(np.asarray(x)) > SENTINEL / 2)


def test_test_rows_reach_only_the_trts_detector_fit(monkeypatch, tmp_path):
    config = dataclasses.replace(
        frameworks_sines.get_config("smoke"), detectors=("case2",),
        augmentations=("mixup", "cgats", "rcgan"), baseline_steps=2,
        model=dataclasses.replace(frameworks_sines.get_config("smoke").model,
                                  stage1_steps=10, stage2_steps=10))
    data = frameworks_sines.make_data(config)
    train, test = frameworks_sines.split(config, data, 0)
    test = Labelled(test.x_btc + SENTINEL + 10.0, test.y_bt)
    seen: dict[str, list[bool]] = {}

    def spy(name, fn, arg=1):
        def wrapped(*args, **kwargs):
            seen.setdefault(name, []).append(_has_test_rows(args[arg]))
            return fn(*args, **kwargs)
        return wrapped

    for method in ("fit_stage1", "fit_stage2"):
        monkeypatch.setattr(cgats, method, spy(f"cgats.{method}", getattr(cgats, method), arg=2))
    label_rows: list[int] = []
    original_label_model = cgats.fit_label_model

    def label_model_spy(y_bt, *args, **kwargs):  # labels carry no sentinel: count rows
        label_rows.append(len(y_bt))
        return original_label_model(y_bt, *args, **kwargs)

    monkeypatch.setattr(cgats, "fit_label_model", label_model_spy)
    monkeypatch.setattr(generators, "train_baselines",
                        spy("baselines", generators.train_baselines, 1))
    monkeypatch.setattr(framework_runner, "augment_batch",
                        spy("augment", framework_runner.augment_batch, 2))
    fits: list[tuple[bool, int]] = []
    original_fit = registry.fit_detector

    def fit_spy(name, key, x, y, cfg):
        fits.append((_has_test_rows(x), len(x)))
        return original_fit(name, key, x, y, cfg)

    monkeypatch.setattr(registry, "fit_detector", fit_spy)
    rethresholds: list[int] = []  # T(R+S)TR's threshold from the real part: its label rows
    original_threshold = frameworks.best_threshold

    def threshold_spy(scores_bt, y_bt):
        rethresholds.append(len(y_bt))
        return original_threshold(scores_bt, y_bt)

    monkeypatch.setattr(frameworks, "best_threshold", threshold_spy)
    assert config.threshold_from == "real_train"
    result = framework_runner.run_once(config, train, test, 0, tmp_path, progress=False)

    for name in ("cgats.fit_stage1", "cgats.fit_stage2", "baselines", "augment"):
        assert seen[name] and not any(seen[name]), name
    n_anomalous_train = int((train.y_bt.max(axis=1) > 0).sum())
    assert label_rows and set(label_rows) == {n_anomalous_train}
    names = [c["framework"] for c in result["cells"]]
    assert len(fits) == len(names)
    for fw, (leaked, _n) in zip(names, fits, strict=True):
        assert leaked == (fw == "TRTS"), fw
    n_rs = sum(fw == "T(R+S)TR" for fw in names)
    assert rethresholds == [len(train.y_bt)] * n_rs  # chosen on the real training rows


def test_the_scaler_is_fitted_on_training_series_only(monkeypatch):
    config = frameworks_sines.get_config("smoke")
    data = frameworks_sines.make_data(config)
    fitted_on = []
    original = splits.fit_standard_scaler

    def scaler_spy(x, *args, **kwargs):
        fitted_on.append(np.asarray(x).copy())
        return original(x, *args, **kwargs)

    monkeypatch.setattr(splits, "fit_standard_scaler", scaler_spy)
    train, test = frameworks_sines.split(config, data, 0)
    assert len(fitted_on) == 1 and len(fitted_on[0]) == len(train.x_btc)
    split = splits.split_arrays(data.x_btc, data.y_bt, train_frac=config.train_frac,
                                seed=config.seed)
    np.testing.assert_array_equal(fitted_on[0], split.x_train)
    test_rows = {r.tobytes() for r in split.x_test}
    assert not any(r.tobytes() in test_rows for r in fitted_on[0])
