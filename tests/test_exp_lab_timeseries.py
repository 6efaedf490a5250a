"""The generative lab runs end to end on the smoke profile: table, results, plots."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import lab_timeseries
from experiments.common import main
from jtsgen.errors import InputError


def test_smoke_run_scores_every_generator_with_every_metric(tmp_path):
    results = main("lab_timeseries", lab_timeseries.get_config, lab_timeseries.run,
                   argv=["--profile", "smoke", "--workdir", str(tmp_path)])
    rows = results["rows"]
    assert set(rows) == {"copy", "lstm_vae", "lstm_vae_dp", "ddpm", "noise"}
    metrics = set(lab_timeseries.FIDELITY) | set(lab_timeseries.PRIVACY)
    for row in rows.values():
        assert set(row) == metrics and all(np.isfinite(v) for v in row.values())
    # the copy reference is caught by the privacy metrics and is the most faithful
    assert rows["copy"]["membership_auc"] == 1.0 and rows["copy"]["dcr_ratio"] == 0.0
    assert rows["copy"]["mmd2"] < min(r["mmd2"] for n, r in rows.items() if n != "copy")
    assert results["epsilon"] > 0 and results["lstm_vae_dp_clipped_share"] > 0
    table = (tmp_path / "lab.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in table) == 6  # header + 5 generators
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["rows"]["ddpm"]["mmd2"] == rows["ddpm"]["mmd2"]
    assert len(list((tmp_path / "plots_ddpm").glob("*.png"))) == 4
    assert set(np.load(tmp_path / "samples.npz").files) == {"train", "holdout"} | set(rows)


def test_the_multivariate_dataset_gives_disjoint_three_channel_windows():
    config = dataclasses.replace(lab_timeseries.get_config("smoke"), dataset="seed003")
    train, holdout = lab_timeseries.load_data(config)
    assert train.shape == (32, 16, 3) and holdout.shape == (32, 16, 3)
    np.testing.assert_allclose(train.std(axis=1), 1.0, atol=1e-3)  # per window and channel
    assert not np.isin(holdout[:, 0, 0], train[:, 0, 0]).any()


def test_the_dp_run_can_sample_as_its_accountant_assumes(tmp_path):
    config = dataclasses.replace(lab_timeseries.get_config("smoke"), dp_sampler="poisson",
                                 plots=())
    results = lab_timeseries.run(config, tmp_path / "poisson")
    rate = config.batch_size / config.n_train
    assert results["dp_sampler"] == "poisson" and results["lstm_vae_dp_overflow"] == 0
    assert abs(results["lstm_vae_dp_mean_batch"] - rate * config.n_train) < 0.5 * config.batch_size
    assert "Poisson-sampled batches" in (tmp_path / "poisson" / "lab.md").read_text()
    with pytest.raises(InputError, match="--config.dp_sampler"):
        lab_timeseries.run(dataclasses.replace(config, dp_sampler="uniform"), tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
