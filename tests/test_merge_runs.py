"""Merging re-run C-GATS cells into a saved experiment (experiments.merge_runs)."""

import json

import pytest

from experiments import merge_runs
from jtsgen.errors import InputError


def _cell(fw, src, f1, seconds=1.0):
    return {"detector": "sr_cnn", "framework": fw, "source": src, "f1": f1,
            "fit_seconds": seconds}


def _run(cells, **settings):
    return {"settings": {"seed": 0, "frameworks": ["TRTR", "T(R+S)TR", "TSTR"],
                         "augmentations": ["mixup", "cgats"], **settings},
            "result": {"cells": cells, "n_train": 10, "n_test": 5,
                       "synthetic_anomaly_rate": {"mixup": 0.1, "cgats": 0.2},
                       "realism": {"real": {"runs": 3}, "cgats": {"runs": 9}}}}


BASE = _run([_cell("TRTR", None, 0.5), _cell("T(R+S)TR", "mixup", 0.6),
             _cell("T(R+S)TR", "cgats", 0.4), _cell("TSTR", "cgats", 0.3)])


def _overlay(trtr=0.5, cells=None, **settings):
    cells = cells if cells is not None else [
        _cell("TRTR", None, trtr, seconds=9.0), _cell("T(R+S)TR", "cgats", 0.7),
        _cell("TSTR", "cgats", 0.45)]
    run = _run(cells, cgats_from="train_paste", augmentations=["cgats"], **settings)
    run["result"]["synthetic_anomaly_rate"] = {"cgats": 0.25}
    run["result"]["realism"] = {"real": {"runs": 3}, "cgats": {"runs": 7}}
    return run


def test_the_overlays_cgats_cells_replace_the_bases_and_the_rest_is_kept():
    merged = merge_runs.merge_run(BASE, _overlay(), "run0")
    f1 = {(c["framework"], c["source"]): c["f1"] for c in merged["result"]["cells"]}
    assert f1 == {("TRTR", None): 0.5, ("T(R+S)TR", "mixup"): 0.6,
                  ("T(R+S)TR", "cgats"): 0.7, ("TSTR", "cgats"): 0.45}
    assert merged["settings"] == {**BASE["settings"], "cgats_from": "train_paste"}
    assert merged["result"]["synthetic_anomaly_rate"] == {"mixup": 0.1, "cgats": 0.25}
    assert merged["result"]["realism"]["cgats"] == {"runs": 7}


def test_a_trtr_cell_that_differs_means_another_split_or_keys_and_is_refused():
    with pytest.raises(InputError, match="TRTR cell"):
        merge_runs.merge_run(BASE, _overlay(trtr=0.51), "run0")


def test_an_overlay_missing_a_cgats_cell_is_refused():
    cells = [_cell("TRTR", None, 0.5), _cell("T(R+S)TR", "cgats", 0.7)]
    with pytest.raises(InputError, match="lacks the C-GATS cells"):
        merge_runs.merge_run(BASE, _overlay(cells=cells), "run0")


def test_a_setting_other_than_cgats_from_may_not_differ():
    with pytest.raises(InputError, match="'seed' differs"):
        merge_runs.merge_run(BASE, _overlay(seed=1), "run0")


def test_merge_writes_every_overlay_run_under_out(tmp_path):
    for name, run in (("base", BASE), ("overlay", _overlay())):
        (tmp_path / name / "runs").mkdir(parents=True)
        (tmp_path / name / "runs" / "run0.json").write_text(json.dumps(run))
    written = merge_runs.merge(tmp_path / "base", tmp_path / "overlay", tmp_path / "out")
    assert written == [tmp_path / "out" / "runs" / "run0.json"]
    assert json.loads(written[0].read_text())["settings"]["cgats_from"] == "train_paste"
    with pytest.raises(InputError, match="holds no runs"):
        merge_runs.merge(tmp_path / "base", tmp_path / "out" / "runs", tmp_path / "x")
