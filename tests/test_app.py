"""Your own data: `jtsgen fit / generate / evaluate / report` end to end, and its errors.

End to end on a NAB file (labelled from NAB's windows) through the command line and
on a generated multi-series CSV through the Python API, both with the smoke profile.
Every bad input stops with one line naming the file or flag, before anything is
written.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import jtsgen
from jtsgen import cli
from jtsgen.app import api
from jtsgen.app.dataset import Columns, read_series
from jtsgen.app.example import example_frame
from jtsgen.errors import InputError

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
NAB_FILE = "realAWSCloudwatch/grok_asg_anomaly.csv"  # anomalies in both 80:20 parts
FAST = {"model.stage1_steps": 10, "model.stage2_steps": 10}
FAST_FLAGS = [f"--config.{k}={v}" for k, v in FAST.items()]


def _nab_csv(path: Path) -> Path:
    from jtsgen.data.nab import read_nab_file, read_windows

    windows = read_windows(NAB / "labels" / "combined_windows.json")
    s = read_nab_file(NAB / "data" / NAB_FILE, windows[NAB_FILE])
    pd.DataFrame({"timestamp": s.timestamps, "value": s.values_t,
                  "label": s.labels_t.astype(int)}).to_csv(path, index=False)
    return path


def _hosts_csv(path: Path) -> Path:
    example_frame(n_time=1500, hosts=2).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def nab_workdir(tmp_path_factory):
    if not (NAB / "data" / NAB_FILE).exists():
        pytest.skip("NAB data not found beside the repository")
    root = tmp_path_factory.mktemp("nab")
    data = _nab_csv(root / "grok.csv")
    work = root / "w"
    code = cli.main(["fit", str(data), "--time-col", "timestamp", "--workdir", str(work),
                     "--profile", "smoke", *FAST_FLAGS])
    assert code == 0
    return data, work


def test_fit_writes_a_resumable_workdir(nab_workdir):
    data, work = nab_workdir
    fitted = json.loads((work / "fit.json").read_text())
    assert fitted["anomalous_train_windows"] >= 8 and fitted["test_windows"] > 0
    assert fitted["losses"]["cgats stage1"]["steps"] == 10
    saved = json.loads((work / "config.json").read_text())
    assert saved["data"] == str(data) and saved["columns"]["time"] == "timestamp"
    assert cli.main(["fit", str(data), "--time-col", "timestamp", "--workdir", str(work),
                     "--profile", "smoke", *FAST_FLAGS]) == 0  # resumes: nothing to train
    assert json.loads((work / "fit.json").read_text()) == fitted


def test_generate_writes_long_format_with_labels_where_asked(nab_workdir, tmp_path):
    _, work = nab_workdir
    out = tmp_path / "synth.csv"
    assert cli.main(["generate", str(work), "--n", "7", "--segment", "10:20",
                     "--points", "30", "--out", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["window", "step", "series", "value", "label"]
    assert frame["window"].nunique() == 7 and frame["step"].max() == 47
    expected = np.zeros(48, int)
    expected[10:20] = 1
    expected[30] = 1
    for _, w in frame.groupby("window"):
        np.testing.assert_array_equal(w["label"].to_numpy(), expected)
    assert np.isfinite(frame["value"]).all()
    assert out.with_suffix(".png").stat().st_size > 0


def test_generated_values_are_in_the_input_units(nab_workdir):
    real = pd.read_csv(nab_workdir[0])["value"]
    train = real[: int(0.8 * len(real))]
    assert train.median() > 20 * train.diff().abs().median()  # far from 0 in its units
    generated = jtsgen.generate(nab_workdir[1], 64, labels_from="train")["value"]
    # scaled values (about 0 +- 1) would sit at 0, far from the training median
    assert abs(generated.median() - train.median()) < 0.2 * train.median()


def test_label_model_draws_are_anomalous_windows(nab_workdir):
    frame = jtsgen.generate(nab_workdir[1], 32, seed=1)
    assert (frame.groupby("window")["label"].max() == 1).all()


def test_evaluate_writes_both_tables(nab_workdir, capsys):
    _, work = nab_workdir
    assert cli.main(["evaluate", str(work), "--detector", "one_liner_b"]) == 0
    shown = capsys.readouterr().out
    assert "TRTR F1" in shown and "C-GATS" in shown
    for name in ("frameworks.md", "augmentations.md", "cells.csv", "results.json",
                 "config.json"):
        assert (work / "evaluate" / name).stat().st_size > 0
    results = json.loads((work / "evaluate" / "results.json").read_text())
    cells = {(c["framework"], c["source"]) for c in results["runs"][0]["cells"]}
    assert {("TRTR", None), ("TSTR", "cgats"), ("T(R+S)TR", "mixup")} <= cells


def test_report_measures_generated_against_real(nab_workdir):
    results = jtsgen.report(nab_workdir[1])
    assert 0.0 <= results["discriminative_accuracy"] <= 1.0
    assert results["realism"]["real"]["runs"] == results["realism"]["generated"]["runs"]
    assert all(np.isfinite(v) for v in results["fidelity"].values())
    assert 0.0 <= results["privacy"]["membership_auc"] <= 1.0
    for name in ("report.md", "samples.png", "anomalies.png", "acf.png", "embedding.png"):
        assert (nab_workdir[1] / "report" / name).stat().st_size > 0


def test_python_api_on_a_multi_series_csv_with_rcgan(tmp_path):
    data = _hosts_csv(tmp_path / "hosts.csv")
    work = tmp_path / "w"
    fitted = jtsgen.fit(data, work, time_col="time", series_col="host", model="rcgan",
                        profile="smoke", config={**FAST, "min_anomalous_windows": 4},
                        progress=False)
    assert fitted["series"] == 2 and "rcgan gan" in fitted["losses"]
    frame = jtsgen.generate(work, 10, labels_from="train", out=tmp_path / "s.csv")
    assert list(frame.columns) == ["window", "step", "host", "cpu", "label"]
    assert set(frame["host"]) <= {"hosts.csv:host0", "hosts.csv:host1"}
    results = jtsgen.evaluate(work, detectors=["case2"], frameworks=["TRTR", "TSTR"],
                              progress=False)
    assert {r["framework"] for r in results["rows"]} == {"TRTR", "TSTR", "T(R+S)TR"}
    assert {r["source"] for r in results["rows"]} >= {"cgats", "rcgan", "mixup"}


# --- errors: one line naming the file or flag; nothing written -------------------------

def _fit_error(tmp_path, data, **kw):
    work = tmp_path / "w"
    kw = {"profile": "smoke", "progress": False, **kw}
    with pytest.raises(InputError) as err:
        api.fit(data, work, **kw)
    assert not work.exists()
    return str(err.value)


def _write(tmp_path, frame, name="d.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _frame(n=400, **override):
    t = np.arange(n)
    frame = pd.DataFrame({"t": pd.date_range("2026-01-01", periods=n, freq="h"),
                          "v": np.sin(t / 5.0), "label": (t % 40 < 3).astype(int)})
    for k, v in override.items():
        frame[k] = v
    return frame


def test_missing_file(tmp_path):
    assert "file or folder not found" in _fit_error(tmp_path, tmp_path / "nope.csv")


def test_missing_label_column(tmp_path):
    data = _write(tmp_path, _frame())
    msg = _fit_error(tmp_path, data, label_col="anomaly")
    assert str(data) in msg and "missing column(s) ['anomaly']" in msg


def test_labels_not_zero_or_one(tmp_path):
    frame = _frame()
    frame.loc[5, "label"] = 2
    msg = _fit_error(tmp_path, _write(tmp_path, frame))
    assert "labels must be 0 or 1; found 2.0 at row 5" in msg


def test_non_numeric_values(tmp_path):
    frame = _frame().astype({"v": object})
    frame.loc[7, "v"] = "high"
    msg = _fit_error(tmp_path, _write(tmp_path, frame), value_col="v")
    assert "column 'v' has non-numeric entries (first at row 7" in msg


def test_unsorted_and_duplicated_timestamps(tmp_path):
    frame = _frame()
    frame.loc[10, "t"], frame.loc[11, "t"] = frame.loc[11, "t"], frame.loc[10, "t"]
    msg = _fit_error(tmp_path, _write(tmp_path, frame), time_col="t")
    assert "timestamps are not sorted: row 11" in msg
    frame = _frame()
    frame.loc[10, "t"] = frame.loc[9, "t"]
    msg = _fit_error(tmp_path, _write(tmp_path, frame, "dup.csv"), time_col="t")
    assert "dup.csv" in msg and "duplicate timestamps" in msg


def test_series_shorter_than_one_window(tmp_path):
    msg = _fit_error(tmp_path, _write(tmp_path, _frame(n=50)))
    assert "shorter than one window of 48 (--config.model.seq_len)" in msg


def test_too_few_anomalous_windows(tmp_path):
    frame = _frame(label=np.r_[np.zeros(399, int), 1])
    msg = _fit_error(tmp_path, _write(tmp_path, frame))
    assert "0 training window(s) hold a labelled anomaly; training needs at least 8" in msg


def test_several_value_columns_need_a_choice(tmp_path):
    msg = _fit_error(tmp_path, _write(tmp_path, _frame(w=1.0)))
    assert "--value-col" in msg


def test_workdir_of_another_config_or_data(nab_workdir, tmp_path):
    data, work = nab_workdir
    with pytest.raises(InputError, match=r"different config \(differs in model.seq_len"):
        api.fit(data, work, time_col="timestamp", profile="smoke",
                config={**FAST, "model.seq_len": 32}, progress=False)
    copy = tmp_path / "w"
    copy.mkdir()
    for name in ("config.json", "data.json", "fit.json"):
        (copy / name).write_bytes((work / name).read_bytes())
    saved = json.loads((copy / "data.json").read_text())
    saved["files"] = {k: "0" * 64 for k in saved["files"]}
    (copy / "data.json").write_text(json.dumps(saved))
    with pytest.raises(InputError, match="was made from other data"):
        api.generate(copy, 4)


def test_commands_need_a_fitted_workdir(tmp_path, capsys):
    assert cli.main(["generate", str(tmp_path), "--out", str(tmp_path / "s.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no finished fit" in err[0] and str(tmp_path) in err[0]
    assert not (tmp_path / "s.csv").exists()


def test_bad_flags_name_themselves(tmp_path, capsys):
    data = _write(tmp_path, _frame())
    assert cli.main(["fit", str(data), "--workdir", str(tmp_path / "w"),
                     "--config.stride=-1"]) == 2
    assert "--config.stride" in capsys.readouterr().err
    with pytest.raises(InputError, match="--n"):
        api.generate(tmp_path, 0)


def test_example_data_is_what_fit_reads(tmp_path):
    out = tmp_path / "metrics.csv"
    assert cli.main(["example", str(out)]) == 0
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["time", "host", "cpu", "label"]
    assert set(frame["label"]) == {0, 1} and frame.groupby("host").size().min() >= 1200
    series = read_series(out, Columns(time="time", series="host"))
    assert len(series) == 2 and all(s.anomaly_fraction > 0 for s in series)


@pytest.mark.parametrize("command", [[], ["fit"], ["generate"], ["evaluate"], ["report"],
                                     ["example"]])
def test_help(command):
    done = subprocess.run([sys.executable, "-m", "jtsgen.cli", *command, "--help"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("usage: jtsgen")
