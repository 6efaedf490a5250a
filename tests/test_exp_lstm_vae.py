"""The seed 000 LSTM-VAE experiment runs end to end on the smoke profile and resumes."""

import json

import numpy as np

from experiments import lstm_vae
from experiments.common import main

FIDELITY = ("acf_distance", "trend_distance", "std_ratio", "spectral_distance", "dcr_ratio")


def _run(workdir):
    return main("lstm_vae", lstm_vae.get_config, lstm_vae.run,
                argv=["--profile", "smoke", "--workdir", str(workdir)])


def test_smoke_run_writes_fidelity_samples_and_resumes(tmp_path):
    results = _run(tmp_path)
    assert results["loss_last10_mean"] < results["loss_first10_mean"]  # it learns
    assert set(FIDELITY) <= set(results["fidelity"])
    assert all(np.isfinite(results["fidelity"][k]) for k in FIDELITY)
    for name in ("config.json", "results.json", "fidelity.md", "samples.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert json.loads((tmp_path / "config.json").read_text())["profile"] == "smoke"
    again = _run(tmp_path)  # resumes from the final checkpoint: nothing left to train
    assert again["loss_last"] == results["loss_last"]
