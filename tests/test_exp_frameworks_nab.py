"""The four-framework experiment on NAB splits each series in time, scales it by its
training part and runs end to end (smoke) on the shared NAB checkout."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from experiments import frameworks_nab
from experiments.common import main
from jtsgen.data import load_nab
from jtsgen.errors import InputError

NAB_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
needs_nab = pytest.mark.skipif(not (NAB_ROOT / "labels").is_dir(),
                               reason=f"no NAB checkout at {NAB_ROOT}")


def _smoke(**changes):
    return dataclasses.replace(frameworks_nab.get_config("smoke"), nab_root=str(NAB_ROOT),
                               **changes)


@needs_nab
def test_each_series_is_split_in_time_and_scaled_by_its_training_part():
    cfg = _smoke(stride=24)
    train, test, info = frameworks_nab.load_split(cfg)
    series = load_nab(cfg.subsets, root=NAB_ROOT)
    assert info == {"series": [s.name for s in series], "skipped_short": [],
                    "extra_train_series": []}
    first = series[0]
    cut = int(round(0.8 * len(first)))
    mean, std = first.values_t[:cut].mean(), first.values_t[:cut].std()
    n_first = (cut - 48) // 24 + 1  # windows of the first series' training part
    np.testing.assert_allclose(train.x_btc[0, :, 0], (first.values_t[:48] - mean) / std,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(train.x_btc[1, :, 0], (first.values_t[24:72] - mean) / std,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(train.y_bt[n_first - 1], first.labels_t[(n_first - 1) * 24:
                                                                           (n_first - 1) * 24 + 48])
    # the test part starts at the cut: no window spans both parts
    np.testing.assert_allclose(test.x_btc[0, :, 0], (first.values_t[cut:cut + 48] - mean) / std,
                               rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(test.y_bt[0], first.labels_t[cut:cut + 48])


@needs_nab
def test_smoke_run_writes_both_tables(tmp_path):
    # no generator here (frameworks_sines' test trains C-GATS): the NAB part is the data
    cfg = _smoke(detectors=("case2", "one_liner_a"), frameworks=("TRTR",),
                 augmentations=("cutmix",))
    results = frameworks_nab.run(cfg, tmp_path)
    cells = {(r["detector"], r["framework"], r["source"]): r for r in results["rows"]}
    assert set(cells) == {(d, fw, src) for d in ("case2", "one_liner_a")
                          for fw, src in (("TRTR", ""), ("T(R+S)TR", "cutmix"))}
    trtr, mixed = cells[("case2", "TRTR", "")], cells[("case2", "T(R+S)TR", "cutmix")]
    assert mixed["n_fit"] == 2 * trtr["n_fit"] and mixed["n_test"] == trtr["n_test"]
    assert results["data"].startswith("NAB realTraffic: 7 series split 0.8:0.2 in time")
    assert json.loads((tmp_path / "config.json").read_text())["nab_root"] == str(NAB_ROOT)
    assert "| Case 2 |" in (tmp_path / "augmentations.md").read_text()


@needs_nab
def test_extra_train_subsets_join_the_training_windows_only():
    cfg = _smoke(stride=24)
    train, test, info = frameworks_nab.load_split(cfg)
    train_x, test_x, info_x = frameworks_nab.load_split(
        dataclasses.replace(cfg, extra_train=("realAdExchange",)))
    assert info_x["series"] == info["series"] and len(info_x["extra_train_series"]) == 6
    np.testing.assert_array_equal(test_x.x_btc, test.x_btc)
    np.testing.assert_array_equal(test_x.y_bt, test.y_bt)
    n = train.x_btc.shape[0]
    assert train_x.x_btc.shape[0] > n
    np.testing.assert_array_equal(train_x.x_btc[:n], train.x_btc)


@needs_nab
def test_a_split_whose_test_part_has_no_anomaly_is_refused():
    cfg = _smoke(subsets=("artificialWithAnomaly",))  # its anomalies lie before the cut
    with pytest.raises(InputError, match="no labelled anomaly in the last 0.2"):
        frameworks_nab.load_split(cfg)


def test_bad_settings_name_the_argument(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    for argv, arg in ((["--config.subsets=realNope"], "--config.subsets"),
                      (["--config.stride=0"], "--config.stride"),
                      (["--config.extra_train=realTraffic"], "--config.extra_train"),
                      (["--config.extra_train=realKnownCause"], "--config.extra_train"),
                      ([f"--config.nab_root={tmp_path / 'empty'}"], "combined_windows.json")):
        with pytest.raises(SystemExit) as exc:
            main("frameworks_nab", frameworks_nab.get_config, frameworks_nab.run,
                 argv=["--profile", "smoke", "--workdir", str(tmp_path / "out"), *argv])
        assert exc.value.code == 2 and arg in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # nothing written before the data is read
