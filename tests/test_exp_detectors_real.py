"""The real-data detector comparison splits KPI / NAB series in time and runs end to end
(smoke) on the shared data, writing every protocol's column."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from experiments import detectors_real
from experiments.common import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
NAB_ROOT, KPI_PATH = SHARED / "nab", SHARED / "kpi" / "phase2_train.csv.zip"
needs_nab = pytest.mark.skipif(not (NAB_ROOT / "labels").is_dir(),
                               reason=f"no NAB checkout at {NAB_ROOT}")
needs_kpi = pytest.mark.skipif(not KPI_PATH.is_file(), reason=f"no KPI data at {KPI_PATH}")


@needs_nab
def test_smoke_run_on_nab_writes_every_protocol(tmp_path):
    results = main("detectors_real", detectors_real.get_config, detectors_real.run, argv=[
        "--profile", "smoke", "--workdir", str(tmp_path), "--config.dataset=realTraffic",
        f"--config.nab_root={NAB_ROOT}", "--config.stride=96"])
    rows = results["rows"]
    assert [r["key"] for r in rows] == ["flag_all", *detectors_real.DETECTORS]
    rate = results["data"]["test_anomaly_rate"]
    assert rows[0]["f1_mean"] == pytest.approx(2 * rate / (1 + rate))
    for row in rows:
        for m in detectors_real.METRICS:
            assert 0.0 <= row[f"{m}_mean"] <= 1.0 and row[f"{m}_std"] == 0.0
        assert row["f1_oracle_mean"] >= row["f1_mean"] - 1e-6  # oracle is an upper bound
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"][1]["f1_mean"] == rows[1]["f1_mean"]
    csv_lines = (tmp_path / "table.csv").read_text().splitlines()
    assert csv_lines[0].split(",") == list(detectors_real.COLUMNS)
    assert "extra: test-oracle F1" in (tmp_path / "table.md").read_text()


@needs_nab
def test_extra_train_subsets_add_training_windows_only():
    cfg = dataclasses.replace(detectors_real.get_config("smoke"), dataset="realTraffic",
                              nab_root=str(NAB_ROOT), stride=96)
    train, test, info = detectors_real.load_split(cfg)
    wider = dataclasses.replace(cfg, extra_train=("realAdExchange",))
    train_x, test_x, info_x = detectors_real.load_split(wider)
    assert info_x["series"] == info["series"]
    assert all(n.startswith("realAdExchange/") for n in info_x["extra_train_series"])
    assert len(info_x["extra_train_series"]) == 6
    # the test windows are the dataset's own; the training windows grow and keep theirs first
    np.testing.assert_array_equal(test_x.x_btc, test.x_btc)
    np.testing.assert_array_equal(test_x.y_bt, test.y_bt)
    n = train.x_btc.shape[0]
    assert train_x.x_btc.shape[0] > n
    np.testing.assert_array_equal(train_x.x_btc[:n], train.x_btc)


@pytest.mark.parametrize("dataset, extra", [("realTraffic", "realTraffic"), ("kpi", "realTweets"),
                                            ("realTraffic", "realKnownCause")])
def test_extra_train_names_other_nab_subsets(tmp_path, dataset, extra):
    with pytest.raises(SystemExit) as exc:
        main("detectors_real", detectors_real.get_config, detectors_real.run,
             argv=["--profile", "smoke", "--workdir", str(tmp_path / "w"),
                   f"--config.dataset={dataset}", f"--config.extra_train={extra}"])
    assert exc.value.code == 2
    assert not (tmp_path / "w").exists()


@needs_kpi
def test_kpi_split_keeps_kpis_with_anomalies_in_both_parts():
    cfg = dataclasses.replace(detectors_real.get_config("smoke"), kpi_path=str(KPI_PATH))
    train, test, info = detectors_real.load_split(cfg)
    assert len(info["series"]) == 2 and info["stride"] == 240
    assert train.x_btc.shape[1:] == (96, 1) and test.y_bt.any() and train.y_bt.any()
    # each KPI is scaled by its own training part: the training windows are ~ standard
    assert abs(float(np.mean(train.x_btc))) < 0.5


def test_bad_dataset_is_an_input_error(tmp_path):
    with pytest.raises(SystemExit) as exc:
        main("detectors_real", detectors_real.get_config, detectors_real.run,
             argv=["--profile", "smoke", "--workdir", str(tmp_path), "--config.dataset=nope"])
    assert exc.value.code == 2
