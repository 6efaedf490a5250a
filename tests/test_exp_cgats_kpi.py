"""The KPI flagship experiment puts each KPI on its regular grid, handles gaps as told,
splits and scales per KPI, refuses bad input in one line and runs end to end (smoke)
on the shared phase-2 file."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments import cgats_kpi
from experiments.common import main
from jtsgen.data import KPI_COLUMNS
from jtsgen.data.series import LabelledSeries
from jtsgen.errors import InputError

KPI_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "kpi" / "phase2_train.csv.zip"
needs_kpi = pytest.mark.skipif(not KPI_ZIP.is_file(), reason=f"no KPI phase-2 file at {KPI_ZIP}")


def _cfg(**changes) -> cgats_kpi.Config:
    return dataclasses.replace(cgats_kpi.get_config("smoke"), **changes)


def _tiny(seq_len: int = 4, **changes) -> cgats_kpi.Config:
    cfg = _cfg(**changes)
    return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, seq_len=seq_len))


def _series(seconds: list[int], values: list[float], labels: list[float]) -> LabelledSeries:
    ts = pd.to_datetime(1_500_000_000 + np.asarray(seconds), unit="s")
    return LabelledSeries("k", pd.DatetimeIndex(ts), np.asarray(values, np.float32),
                          np.asarray(labels, np.float32))


# steps 0-3 observed, 4-6 missing, 7-9 observed; step 9 off the grid by 10 s is still step 9
GAPPY = _series([0, 60, 120, 180, 420, 480, 550], [0, 1, 2, 3, 7, 8, 9], [0, 0, 0, 1, 1, 0, 0])


def test_regular_grid_marks_the_missing_steps():
    grid = cgats_kpi.regular_grid(GAPPY)
    assert grid.step_s == 60
    np.testing.assert_array_equal(grid.observed_t, [1, 1, 1, 1, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(grid.labels_t, [0, 0, 0, 1, 0, 0, 0, 1, 0, 0])


def test_interpolate_fills_gaps_linearly_and_labels_them_0():
    grid = cgats_kpi.regular_grid(GAPPY)
    w = cgats_kpi.part_windows(*grid[:3], _tiny(seq_len=10, stride=1, gaps="interpolate"), "k")
    np.testing.assert_allclose(w.x_btc[0, :, 0], np.arange(10))  # 4, 5, 6 filled
    np.testing.assert_array_equal(w.y_bt[0], [0, 0, 0, 1, 0, 0, 0, 1, 0, 0])
    # a missing edge takes the nearest observed value
    edge = cgats_kpi.part_windows(np.r_[np.nan, 1, 2, np.nan].astype(np.float32),
                                  np.zeros(4, np.float32), np.array([0, 1, 1, 0], bool),
                                  _tiny(seq_len=4, stride=1), "k")
    np.testing.assert_allclose(edge.x_btc[0, :, 0], [1, 1, 2, 2])


def test_drop_cuts_no_window_across_a_gap():
    grid = cgats_kpi.regular_grid(GAPPY)
    w = cgats_kpi.part_windows(*grid[:3], _tiny(seq_len=3, stride=1, gaps="drop"), "k")
    starts = w.x_btc[:, 0, 0].tolist()
    assert starts == [0, 1, 7]  # steps 0-3 give two windows, 7-9 one, none spans 4-6
    np.testing.assert_array_equal(w.y_bt, [[0, 0, 0], [0, 0, 1], [1, 0, 0]])
    assert cgats_kpi.part_windows(*grid[:3], _tiny(seq_len=5, gaps="drop"), "k") is None


def _kpi_csv(path: Path, lengths: dict[str, int], test_label: dict[str, bool]) -> Path:
    parts = []
    for kpi, n in lengths.items():
        labels = np.zeros(n, np.int64)
        labels[n // 4] = 1
        if test_label[kpi]:
            labels[n - 5] = 1
        parts.append(pd.DataFrame({"timestamp": 1_500_000_000 + 60 * np.arange(n),
                                   "value": np.sin(np.arange(n) / 5.0), "label": labels,
                                   "KPI ID": kpi}))
    pd.concat(parts)[list(KPI_COLUMNS)].to_csv(path, index=False)
    return path


def test_kpis_are_drawn_among_the_eligible_and_scaled_by_their_training_part(tmp_path):
    path = _kpi_csv(tmp_path / "k.csv", {"a": 500, "b": 500, "c": 500, "short": 60},
                    {"a": True, "b": False, "c": True, "short": True})
    cfg = _tiny(seq_len=20, stride=20, data_path=str(path), kpis=(), max_kpis=5)
    train, test, info = cgats_kpi.load_split(cfg)
    assert info["eligible"] == ["a", "c"]  # b: no test label; short: no test window
    assert [k["kpi"] for k in info["kpis"]] == ["a", "c"]
    assert info["kpis"][0]["train_windows"] == 20 and info["kpis"][0]["test_windows"] == 5
    assert train.x_btc.shape == (40, 20, 1) and test.x_btc.shape == (10, 20, 1)
    values = np.sin(np.arange(500) / 5.0)
    mean, std = values[:400].mean(), values[:400].std()
    np.testing.assert_allclose(test.x_btc[0, :, 0], (values[400:420] - mean) / std, atol=1e-4)
    picks = {cgats_kpi.load_split(dataclasses.replace(cfg, max_kpis=1))[2]["kpis"][0]["kpi"]
             for _ in range(2)}
    assert len(picks) == 1 and picks <= {"a", "c"}  # seeded


def test_bad_input_is_one_line_naming_the_file_or_argument(tmp_path, capsys):
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"timestamp": [1, 2], "value": [0.0, 1.0], "lbl": [0, 1],
                  "KPI ID": ["a", "a"]}).to_csv(wrong, index=False)
    short = _kpi_csv(tmp_path / "short.csv", {"a": 500, "tiny": 50}, {"a": True, "tiny": True})
    missing = tmp_path / "nope" / "phase2_train.csv.zip"
    for argv, needle in (([f"--config.data_path={missing}"], f"{missing}: file not found"),
                         ([f"--config.data_path={wrong}"], "'label'"),
                         ([f"--config.data_path={short}", "--config.kpis=a,tiny"],
                          "KPI tiny (50 steps) has no window of 48 steps in its training"),
                         ([f"--config.data_path={short}", "--config.kpis=zz"],
                          "'zz' matches 0 KPI IDs"),
                         (["--config.gaps=skip"], "--config.gaps")):
        with pytest.raises(SystemExit) as exc:
            main("cgats_kpi", cgats_kpi.get_config, cgats_kpi.run,
                 argv=["--profile", "smoke", "--workdir", str(tmp_path / "out"), *argv])
        err = capsys.readouterr().err
        assert exc.value.code == 2 and needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists()  # nothing written before the data is read


def test_offline_without_the_file_says_where_to_put_it(tmp_path, monkeypatch):
    def offline(url, dest, **kw):
        raise OSError("no network")

    monkeypatch.setenv("JTSGEN_DATA", str(tmp_path))
    monkeypatch.setattr("jtsgen.data.kpi.fetch", offline)
    with pytest.raises(InputError) as err:
        cgats_kpi.load_series(_cfg(data_path=""))
    assert err.value.source == str(tmp_path / "kpi" / "phase2_train.csv")
    assert "--config.data_path" in str(err.value) and "\n" not in str(err.value)


def test_profiles():
    quick, paper = cgats_kpi.get_config("quick"), cgats_kpi.get_config("paper")
    assert quick.n_runs == 1 and quick.model.seq_len == paper.model.seq_len == 240
    assert paper.n_runs == 5 and paper.max_kpis == 29 and quick.gaps == "interpolate"
    assert quick.baseline_detectors == ("one_liner_a", "one_liner_b", "case1", "case2", "case3")


@needs_kpi
def test_smoke_run_on_the_real_file_writes_the_tables(tmp_path):
    # one deep-free detector, two baselines, C-GATS (Table 9 needs it) and one augmenter
    cfg = _cfg(data_path=str(KPI_ZIP), detectors=("case2",),
               baseline_detectors=("one_liner_a", "case3"), frameworks=("TRTR", "T(R+S)TR"),
               augmentations=("cutmix", "cgats"))
    results = cgats_kpi.run(cfg, tmp_path)
    kpis = results["kpi"]["kpis"]
    assert [k["kpi"] for k in kpis] == list(cgats_kpi.SMOKE_KPIS)
    assert kpis[0]["filled_share"] == 0.0 and 0 < kpis[1]["filled_share"] < 0.02
    assert results["kpi"]["selection"] == "explicit --config.kpis"
    cells = {(r["detector"], r["framework"], r["source"]): r for r in results["rows"]}
    assert set(cells) == {("case2", "TRTR", ""), ("case2", "T(R+S)TR", "cgats"),
                          ("case2", "T(R+S)TR", "cutmix")} | {
        (d, fw, src) for d in ("one_liner_a", "case3")
        for fw, src in (("TRTR", ""), ("T(R+S)TR", "cgats"))}
    trtr = cells[("case2", "TRTR", "")]
    assert trtr["f1_test_oracle_mean"] >= trtr["f1_mean"] > 0  # the oracle is an upper bound
    assert 0 < trtr["train_anomaly_share_mean"] < 0.1
    assert results["synthetic_labels"].startswith("label_model: ")
    assert results["data"].startswith("AIOps KPI phase 2: 2 KPIs")
    assert json.loads((tmp_path / "config.json").read_text())["data_path"] == str(KPI_ZIP)
    baselines = (tmp_path / "baselines.md").read_text()
    assert "| KPI |" in baselines and "Case 3 + C-GATS" in baselines
    for name in ("frameworks.md", "augmentations.md", "baselines.md"):
        text = (tmp_path / name).read_text()
        assert "test-oracle F1" in text and "thresholds from" in text
    assert (tmp_path / "checkpoints" / "run0" / "cgats").is_dir()
