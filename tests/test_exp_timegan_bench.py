"""The TimeGAN Sines benchmark: the data's known form, a smoke run that resumes, and
bad settings refused before anything is written."""

import json

import numpy as np
import pytest

from experiments import timegan_bench as tb
from experiments.common import main
from jtsgen.config import apply_overrides
from jtsgen.errors import InputError


def test_sines_follow_timegans_formula_and_ranges():
    data = tb.sines(500, 24, 5, np.random.default_rng(3))
    assert data.x_btc.shape == (500, 24, 5) and data.x_btc.dtype == np.float32
    assert data.x_btc.min() >= 0.0 and data.x_btc.max() <= 1.0
    for drawn in (data.freq_bc, data.phase_bc):
        assert drawn.shape == (500, 5) and drawn.min() >= 0.0 and drawn.max() < 0.1
        assert drawn.max() > 0.09 and drawn.min() < 0.01  # spread over U[0, 0.1]
    i, c = 17, 3
    t = np.arange(24)
    expect = (np.sin(data.freq_bc[i, c] * t + data.phase_bc[i, c]) + 1) / 2
    np.testing.assert_allclose(data.x_btc[i, :, c], expect, rtol=1e-6)
    config = tb.get_config("smoke")
    train, fresh = tb.load_data(config, run=0)
    assert train.shape == fresh.shape == (config.n_series, 24, 5)
    assert not np.isin(fresh[:, 0, 0], train[:, 0, 0]).any()  # independent draws
    np.testing.assert_array_equal(tb.load_data(config, run=0)[0], train)  # seeded
    assert not np.array_equal(tb.load_data(config, run=1)[0], train)  # a new draw per run


def test_smoke_run_writes_its_files_and_a_rerun_reads_the_runs_back(tmp_path, monkeypatch):
    shapes = {}
    train_generators = tb.train_generators

    def spy(config, train, key):
        samples, losses = train_generators(config, train, key)
        shapes.update({k: v.shape for k, v in samples.items()})
        return samples, losses

    monkeypatch.setattr(tb, "train_generators", spy)
    argv = ["--profile", "smoke", "--workdir", str(tmp_path), "--config.n_runs=1"]
    results = main("timegan_bench", tb.get_config, tb.run, argv=argv)
    n = tb.get_config("smoke").n_series
    assert shapes == {"lstm_vae": (n, 24, 5), "ddpm": (n, 24, 5)}  # 5-channel generators
    summary = results["summary"]
    assert set(summary) == {"lstm_vae", "ddpm", "real"}
    for row in summary.values():
        assert set(row) == set(tb.METRICS)
        assert all(np.isfinite(v).all() and v[1] == 0.0 for v in row.values())  # one run
    assert json.loads((tmp_path / "config.json").read_text())["n_runs"] == 1
    assert (tmp_path / "runs" / "run0.json").exists()
    table = [line for line in (tmp_path / "table.md").read_text().splitlines()
             if line.startswith("| ")]
    assert len(table) == 1 + 3 + len(tb.PUBLISHED)
    assert any("0.011 ± 0.008" in line and "TimeGAN" in line for line in table)

    def must_not_train(*args):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(tb, "train_generators", must_not_train)
    again = main("timegan_bench", tb.get_config, tb.run, argv=argv)
    assert again["summary"] == summary
    assert json.loads((tmp_path / "results.json").read_text())["summary"] == summary
    # a run saved before the LSTM-VAE gained its later settings is read back too
    path = tmp_path / "runs" / "run0.json"
    saved = json.loads(path.read_text())
    for key in tb.ADDED_SETTINGS["vae"]:
        del saved["settings"]["vae"][key]
    path.write_text(json.dumps(saved))
    assert main("timegan_bench", tb.get_config, tb.run, argv=argv)["summary"] == summary
    saved["settings"]["vae"]["latent"] += 1  # but not a run of other settings
    path.write_text(json.dumps(saved))
    with pytest.raises(AssertionError, match="trained again"):
        main("timegan_bench", tb.get_config, tb.run, argv=argv)


@pytest.mark.parametrize("flag", ["--config.n_runs=0", "--config.generators=timegan",
                                  "--config.n_series=3", "--config.eval_steps=0",
                                  "--config.ddpm.width=0"])
def test_bad_config_values_name_their_flag_before_the_workdir_exists(tmp_path, flag):
    workdir = tmp_path / "bench"
    with pytest.raises(InputError, match=flag.split("=")[0].replace(".", r"\.")):
        tb.run(apply_overrides(tb.get_config("smoke"), [flag]), workdir)
    assert not workdir.exists()
