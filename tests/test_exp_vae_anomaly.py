"""The seed 001 experiment runs end to end on the smoke profile and writes its table."""

import json

import pytest

from experiments import vae_anomaly
from experiments.common import main

METRICS = ("window_precision", "window_recall", "window_f1",
           "point_precision", "point_recall", "point_f1")


def test_smoke_run_writes_a_latent_sweep_table(tmp_path):
    results = main("vae_anomaly", vae_anomaly.get_config, vae_anomaly.run,
                   argv=["--profile", "smoke", "--workdir", str(tmp_path)])
    assert [r["latent"] for r in results["rows"]] == [5, 10, 20]
    for row in results["rows"]:
        assert all(0.0 <= row[m] <= 1.0 for m in METRICS)
        assert row["point_f1"] > 0.5  # the injected anomalies are large
        assert row["loss_last10_mean"] < row["loss_first10_mean"]
        assert 0.5 < row["window_anomaly_rate"] <= 1.0  # most windows of 50 hold an anomaly
    assert results["threshold_source"].startswith("95th percentile of training")
    assert results["n_train_steps"] == 960 and results["n_test_steps"] == 240

    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"][1]["point_f1"] == results["rows"][1]["point_f1"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["profile"] == "smoke" and config["latents"] == [5, 10, 20]
    csv_lines = (tmp_path / "table.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == list(vae_anomaly.COLUMNS) and len(csv_lines) == 4
    md_lines = (tmp_path / "table.md").read_text().splitlines()
    assert len(md_lines) == 5 and md_lines[2].startswith("| 5 |")


def test_profiles_and_bad_overrides():
    quick, paper = vae_anomaly.get_config("quick"), vae_anomaly.get_config("paper")
    for cfg in (quick, paper):
        assert (cfg.n_steps, cfg.n_features, cfg.anomaly_frac) == (10_000, 10, 0.05)
        assert cfg.latents == (5, 10, 20) and cfg.detector.window == 50
        assert cfg.train_frac == 0.8 and cfg.detector.percentile == 95.0
    with pytest.raises(SystemExit) as exc:
        main("vae_anomaly", vae_anomaly.get_config, vae_anomaly.run,
             argv=["--profile", "smoke", "--config.detector.no_such_key=1"])
    assert exc.value.code == 2
