"""Seed 000 Exercise 4: the attribute measurements read real series right, a smoke run
generates per hold-out condition and writes its files, bad settings leave nothing."""

import json

import numpy as np
import pytest

from experiments import lab_conditional as lab
from experiments.common import main
from jtsgen.config import apply_overrides
from jtsgen.data.generators import make_trend_volatility
from jtsgen.errors import InputError


def test_measurements_recover_the_attributes_of_real_series():
    d = make_trend_volatility(400, 64, seed=1, noise_std=(0.1, 0.4))
    threshold = lab.volatility_threshold(d.x_btc, d.vol_b)
    assert 0.2 < threshold < 0.3  # midpoint of the classes' median residual std (0.1, 0.4)
    resid = lab.residual_std_b(d.x_btc)
    for vol, std in ((0, 0.1), (1, 0.4)):  # the fit removes line + seasonal: the noise is left
        assert abs(np.median(resid[d.vol_b == vol]) / std - 1.0) < 0.1
    assert lab.accuracy(d.x_btc, d.trend_b, d.vol_b, threshold) == {
        "trend": 1.0, "vol": 1.0, "both": 1.0}
    flipped = lab.accuracy(d.x_btc, 1 - d.trend_b, d.vol_b, threshold)
    assert flipped == {"trend": 0.0, "vol": 1.0, "both": 0.0}
    np.testing.assert_array_equal(lab.condition_bk(np.array([0, 1]), np.array([1, 0])),
                                  [[-1.0, 1.0], [1.0, -1.0]])


def test_smoke_run_generates_per_holdout_condition_and_writes_its_files(tmp_path, monkeypatch):
    seen = {}
    train_and_generate = lab.train_and_generate

    def spy(config, train, c_hold, key):
        generated, floor, facts = train_and_generate(config, train, c_hold, key)
        seen.update(c_hold=c_hold, generated=generated.shape, floor=floor.shape)
        return generated, floor, facts

    monkeypatch.setattr(lab, "train_and_generate", spy)
    results = main("lab_conditional", lab.get_config, lab.run,
                   argv=["--profile", "smoke", "--workdir", str(tmp_path)])
    config = lab.get_config("smoke")
    _, trend, vol = lab.load_data(config)["holdout"]
    np.testing.assert_array_equal(seen["c_hold"], lab.condition_bk(trend, vol))
    assert seen["generated"] == seen["floor"] == (config.n_holdout, config.seq_len, 1)
    rows = results["rows"]
    assert list(rows) == [*lab.CONDITIONS, "all"]
    assert sum(rows[name]["n"] for name in lab.CONDITIONS) == rows["all"]["n"] == 48
    for row in rows.values():
        for source in ("generated", "real", "floor"):
            assert set(row[source]) == {"trend", "vol", "both"}
            assert all(0.0 <= v <= 1.0 for v in row[source].values())
            assert row[source]["both"] <= min(row[source]["trend"], row[source]["vol"])
        assert all(np.isfinite(v) for v in row["mmd2"].values())
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"] == rows and saved["vol_threshold"] == results["vol_threshold"]
    assert json.loads((tmp_path / "config.json").read_text())["vae"]["cond_dim"] == 2
    table = (tmp_path / "conditional.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in table) == 1 + 5  # header, 4 conditions, all
    assert (tmp_path / "conditional.png").stat().st_size > 10_000
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


@pytest.mark.parametrize("flag", ["--config.n_train=0", "--config.batch_size=0",
                                  "--config.noise_low=0.5", "--config.seq_len=4",
                                  "--config.slope=0", "--config.vae.cond_dim=3",
                                  "--config.n_train=1 --config.batch_size=1"])
def test_bad_config_values_name_their_flag_before_the_workdir_exists(tmp_path, flag):
    """The last case is valid alone but one training series can't hold both classes."""
    workdir = tmp_path / "conditional"
    with pytest.raises(InputError, match=flag.split("=")[0].replace(".", r"\.")):
        lab.run(apply_overrides(lab.get_config("smoke"), flag.split()), workdir)
    assert not workdir.exists()
