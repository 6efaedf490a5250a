"""The detector comparison on Synthetic Sines runs end to end (smoke) and writes its table."""

import json

import pytest

from experiments import detectors_sines
from experiments.common import main
from jtsgen.data import scaled_split


def test_smoke_run_writes_one_row_per_detector(tmp_path):
    results = main("detectors_sines", detectors_sines.get_config, detectors_sines.run,
                   argv=["--profile", "smoke", "--workdir", str(tmp_path)])
    rows = results["rows"]
    assert [r["key"] for r in rows] == list(detectors_sines.DETECTORS)
    for row in rows:
        for m in detectors_sines.METRICS:
            assert 0.0 <= row[f"{m}_mean"] <= 1.0 and row[f"{m}_std"] == 0.0  # one run
        assert row["fit_seconds"] >= 0.0
    run = results["runs"][0]
    config = detectors_sines.get_config("smoke")
    split = scaled_split(*detectors_sines.make_data(config)[:2], train_frac=config.train_frac,
                         seed=config.seed)  # run 0's split
    assert run["_data"] == {"n_train": 38, "n_test": 10,
                            "test_anomaly_rate": pytest.approx(float(split.y_test.mean()))}
    assert 0.0 < run["_data"]["test_anomaly_rate"] < 0.5

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(rows))
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["profile"] == "smoke" and config["freq_range"] == [0.0, 0.1]
    csv_lines = (tmp_path / "table.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == list(detectors_sines.COLUMNS)
    assert len(csv_lines) == 1 + len(detectors_sines.DETECTORS)
    md = (tmp_path / "table.md").read_text()
    assert "extra: point-adjusted F1" in md and "| NCAD |" in md and "| RobustTAD |" in md


def test_profiles_and_bad_overrides(tmp_path):
    quick, paper = detectors_sines.get_config("quick"), detectors_sines.get_config("paper")
    for cfg in (quick, paper):
        assert cfg.length == 240 and cfg.train_frac == 0.8 and cfg.freq_range == (0.0, 0.1)
        assert cfg.detectors == detectors_sines.DETECTORS
    assert paper.n_runs == 5 and quick.n_runs == 1
    for argv in (["--config.detectors=ncad,nope"], ["--config.ncad.no_such_key=1"],
                 ["--config.n_runs=0"]):
        with pytest.raises(SystemExit) as exc:
            main("detectors_sines", detectors_sines.get_config, detectors_sines.run,
                 argv=["--profile", "smoke", "--workdir", str(tmp_path), *argv])
        assert exc.value.code == 2
