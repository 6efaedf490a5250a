"""The four-framework experiment on Synthetic Sines runs end to end (smoke) and writes
Table 1's and Table 3's layouts from the same fitted cells."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import frameworks_sines, ranking_check
from experiments.common import main
from jtsgen.evaluate import framework_runner
from jtsgen.evaluate.frameworks import FRAMEWORKS


def test_smoke_run_fills_both_tables(tmp_path):
    # two quick detectors (a rule and a small network), one augmenter, C-GATS and its
    # Table 10 ablation
    cfg = dataclasses.replace(frameworks_sines.get_config("smoke"),
                              detectors=("case2", "sr_cnn"),
                              augmentations=("mixup", "cgats", "cvae"))
    results = frameworks_sines.run(cfg, tmp_path)
    cells = {(r["detector"], r["framework"], r["source"]): r for r in results["rows"]}
    expected = {(d, fw, "" if fw == "TRTR" else "cgats") for d in cfg.detectors
                for fw in FRAMEWORKS} | {(d, "T(R+S)TR", src) for d in cfg.detectors
                                         for src in ("mixup", "cvae")}
    assert set(cells) == expected  # TRTR and T(R+S)TR with C-GATS are shared by both tables
    for (_, fw, _), row in cells.items():
        for m in framework_runner.METRICS:
            if m == "f1_threshold_fit_data" and fw != "T(R+S)TR":  # T(R+S)TR's own extra
                assert np.isnan(row[f"{m}_mean"])
                continue
            assert 0.0 <= row[f"{m}_mean"] <= 1.0 and row[f"{m}_std"] == 0.0
    run = results["runs"][0]
    n_train, n_test = run["n_train"], run["n_test"]
    assert (n_train, n_test) == (48, 12)
    sizes = {fw: (cells[("case2", fw, src)]["n_fit"], cells[("case2", fw, src)]["n_test"])
             for fw, src in (("TRTR", ""), ("T(R+S)TR", "cgats"), ("TSTR", "cgats"),
                             ("TRTS", "cgats"))}
    assert sizes == {"TRTR": (48, 12), "T(R+S)TR": (96, 12), "TSTR": (48, 12),
                     "TRTS": (60, 10)}  # synthetic sets are as large as the training set
    rates = run["synthetic_anomaly_rate"]
    assert rates["cgats"] > 0 and rates["cvae"] == rates["cgats"]  # the same label vectors
    realism = run["realism"]  # every generated set's labelled runs against the real ones
    assert set(realism) == {"real", "cgats", "cvae"}  # augmenters are not generators
    assert "real_vs_generated_accuracy" not in realism["real"]
    for name in ("cgats", "cvae"):
        assert realism[name]["runs"] > 0 and realism[name]["offset_mean"] >= 0
        assert 0.0 <= realism[name]["real_vs_generated_accuracy"] <= 1.0
    table = (tmp_path / "realism.md").read_text()
    assert "| real training windows |" in table and "| C-GATS |" in table

    saved = json.loads((tmp_path / "results.json").read_text())
    assert json.dumps(saved["rows"]) == json.dumps(results["rows"])
    assert json.loads((tmp_path / "config.json").read_text())["augmentations"] == [
        "mixup", "cgats", "cvae"]
    table1 = (tmp_path / "frameworks.md").read_text()
    assert "| TRTS F1 |" in table1 and "| Case 2 |" in table1 and "| SR-CNN |" in table1
    assert table1.count("\n| ") == len(cfg.detectors)  # one row per detector below the head
    table3 = (tmp_path / "augmentations.md").read_text()
    assert "w/o Aug. (TRTR)" in table3 and "Mixup (α=0.2)" in table3 and "C-GATS" in table3
    assert "CVAE end-to-end (Table 10)" in table3
    csv_lines = (tmp_path / "cells.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(expected)
    assert (tmp_path / "checkpoints" / "run0" / "cgats").is_dir()
    # a rerun with the same settings reads the finished run back instead of running it
    assert (tmp_path / "runs" / "run0.json").is_file()
    again = frameworks_sines.run(cfg, tmp_path)
    assert json.dumps(again["rows"]) == json.dumps(results["rows"])  # NaN-safe

    # the ranking check refits each detector as in TRTR and ranks the test part and
    # every generator's set by AUC
    ranked = ranking_check.run(tmp_path)
    assert list(ranked) == [0] and list(ranked[0]) == list(cfg.detectors)
    for row in ranked[0].values():
        assert list(row) == ["real test", "cgats", "cvae"]
        assert all(0.0 <= v <= 1.0 for v in row.values())
    assert "| SR-CNN |" in (tmp_path / "ranking.md").read_text()
    saved = json.loads((tmp_path / "ranking.json").read_text())  # the very TRTR detectors
    assert saved["trtr_cell_reproduced"] == {"0": {"case2": True, "sr_cnn": True}}


def test_profiles_and_bad_overrides(tmp_path):
    quick, paper = frameworks_sines.get_config("quick"), frameworks_sines.get_config("paper")
    assert quick.frameworks == paper.frameworks == FRAMEWORKS
    assert quick.detectors == ("robusttad", "sr_cnn", "ncad")  # the paper's deep detectors
    assert paper.n_runs == 5 and quick.n_runs == 1 and quick.model.seq_len == 240
    for argv in (["--config.augmentations=mixup,nope"], ["--config.frameworks=TRTX"],
                 ["--config.detectors="], ["--config.synthetic_labels=real"],
                 ["--config.temperature=-2"], ["--config.threshold_from=test"],
                 ["--config.n_runs=0"]):
        with pytest.raises(SystemExit) as exc:
            main("frameworks_sines", frameworks_sines.get_config, frameworks_sines.run,
                 argv=["--profile", "smoke", "--workdir", str(tmp_path / "bad"), *argv])
        assert exc.value.code == 2
    assert not (tmp_path / "bad" / "results.json").exists()
