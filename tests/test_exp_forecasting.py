"""The forecasting experiment runs end to end on the smoke profile, resumes, and turns
bad input into one-line errors."""

import json

import numpy as np
import pytest

from experiments import forecasting
from experiments.common import main

MODELS = ("persistence", "seasonal persistence", "ARIMA(2,1,0)", "lstm seq2seq",
          "attention seq2seq", "best of search")
FILES = ("config.json", "results.json", "metrics.csv", "table.md", "search.csv",
         "search.json", "utility.csv", "utility.md", "forecasts.png",
         "attention_heatmap.png", "lag_importance.png")


def _run(workdir, *extra):
    return main("forecasting", forecasting.get_config, forecasting.run,
                argv=["--profile", "smoke", "--workdir", str(workdir), *extra])


def test_smoke_run_writes_its_files_and_resumes(tmp_path):
    results = _run(tmp_path)
    for name in FILES:
        assert (tmp_path / name).stat().st_size > 0, name
    assert json.loads((tmp_path / "config.json").read_text())["profile"] == "smoke"
    assert tuple(results["overall"]) == MODELS
    assert all(np.isfinite(m["rmse"]) for m in results["overall"].values())
    csv_lines = (tmp_path / "metrics.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(MODELS) * (4 + 1)  # header; 4 steps + "all" per model
    windows = results["data"]["windows"]
    train_end, val_end = results["data"]["bounds"]
    assert windows["test"] == 400 - val_end - 24 - 4 + 1  # windows stay inside the test part
    assert len(results["search"]["candidates"]) == 2 * 2  # two families, one hidden size
    assert set(results["utility"]["by_training_data"]) == {
        "real (TRTR)", "synthetic (TSTR)", "real + synthetic (T(R+S)TR)"}
    attn = results["attention"]
    np.testing.assert_allclose(np.sum(attn["lag_importance"]), 1.0, rtol=1e-5)
    again = _run(tmp_path)  # every stage resumes from its checkpoint or saved file
    assert again["overall"] == results["overall"]
    assert again["search"] == results["search"]


def test_a_user_csv_replaces_the_generator(tmp_path):
    t = np.arange(300)
    lines = ["time,load,temp"] + [f"{i},{np.sin(i / 4)},{i % 7}" for i in t]
    (tmp_path / "s.csv").write_text("\n".join(lines) + "\n")
    config = forecasting.get_config("smoke")
    x_tc, names = forecasting.load_series(
        forecasting.dataclasses.replace(config, data_path=str(tmp_path / "s.csv")))
    assert names == ["load", "temp"] and x_tc.shape == (300, 2)
    np.testing.assert_allclose(x_tc[:, 1], t % 7)


@pytest.mark.parametrize("content, problem", [
    (None, "file not found"),
    ("time,a\n0,1\n1,x\n", "non-numeric"),
    ("time,a\n" + "".join(f"{i},{i}\n" for i in range(50)), "too short"),
])
def test_bad_csv_is_a_one_line_error_naming_the_file(tmp_path, capsys, content, problem):
    path = tmp_path / "data.csv"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        _run(tmp_path / "run", f"--config.data_path={path}")
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}") and problem in err and "\n" not in err
    assert not (tmp_path / "run").exists()  # checked before the work directory is made


def test_bad_config_values_name_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        _run(tmp_path, "--config.synthetic=gan")
    assert "--config.synthetic" in capsys.readouterr().err
