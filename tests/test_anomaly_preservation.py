"""Anomaly preservation (seed 000, Exercise 3): known answers for the rule and the
experiment's files."""

import json

import numpy as np
import pytest

from experiments import lab_anomaly_preservation as exp
from experiments.common import main
from jtsgen.data.generators import make_trend_seasonal_spikes
from jtsgen.errors import InputError
from jtsgen.evaluate import anomaly_preservation as AP


def smooth(n, t=64, seed=0):
    """``[n, t, 1]`` sines with random phases and small noise: no anomalies."""
    r = np.random.default_rng(seed)
    phase = r.uniform(0, 2 * np.pi, (n, 1))
    x = np.sin(2 * np.pi * np.arange(t) / 12 + phase) + 0.05 * r.standard_normal((n, t))
    return x[..., None].astype(np.float32)


def planted(x, rate, seed=1, size=8.0):
    """``x`` plus spikes of ±size at a share ``rate`` of steps; masks nest as rate grows."""
    r = np.random.default_rng(seed)
    u, sign = r.random(x.shape[:2]), r.choice([-1.0, 1.0], x.shape[:2])
    mask = u < rate
    return (x + np.where(mask, size * sign, 0.0)[..., None]).astype(np.float32), mask


def test_identical_sets_give_equal_rates_and_ks_zero():
    x = smooth(64)
    rep = AP.preservation_report(x, x, {"same": x.copy()})
    row = rep["rows"]["same"]
    assert row["rate"] == rep["real"]["rate"] and row["rate_ratio"] == 1.0
    assert row["ks"] == 0.0 and row["wasserstein"] == 0.0
    assert row["q99"] == rep["real"]["q99"]
    # threshold at the 0.99 quantile of the training scores: ~1 % of their steps flagged
    assert rep["train"]["rate"] == pytest.approx(0.01, abs=2e-3)


@pytest.mark.parametrize("rate", [0.01, 0.03])
def test_planted_spikes_give_their_rate_and_smooth_gives_none(rate):
    train, other = smooth(256, seed=0), smooth(256, seed=1)
    spiked, mask = planted(other, rate)
    rep = AP.preservation_report(train, other, {"spiked": spiked, "smooth": smooth(256, seed=2)},
                                 quantile=1.0, y_real_bt=np.zeros(other.shape[:2]))
    assert rep["rows"]["spiked"]["rate"] == pytest.approx(mask.mean(), rel=0.2)
    assert rep["rows"]["smooth"]["rate"] < 1e-3 and rep["real"]["rate"] < 1e-3
    assert rep["rows"]["spiked"]["ks"] > rep["rows"]["smooth"]["ks"]
    assert np.isnan(rep["recall_real"])  # no labelled step
    scores = AP.detector_scores(spiked)
    assert AP.recall(scores, mask, rep["threshold"]) > 0.8  # the rule finds the spikes


def test_more_spikes_raise_the_rate_monotonically():
    train, base = smooth(128, seed=0), smooth(128, seed=3)
    rates = [0.0, 0.005, 0.01, 0.02, 0.04, 0.08]
    synth = {f"r{r}": planted(base, r)[0] for r in rates}
    rep = AP.preservation_report(train, base, synth)
    got = [rep["rows"][f"r{r}"]["rate"] for r in rates]
    ks = [rep["rows"][f"r{r}"]["ks"] for r in rates]
    assert all(b > a for a, b in zip(got[:-1], got[1:], strict=True)), got
    # KS need not be monotone at small rates (a spike also lowers its neighbours' scores)
    assert ks[0] == 0.0 and ks[-1] > max(ks[1:-1]), ks
    assert got[-1] > got[0] + 0.05


def test_threshold_comes_from_the_real_training_set_only():
    train, real = smooth(64, seed=0), smooth(64, seed=1)
    a = AP.preservation_report(train, real, {"g": smooth(32, seed=5)})
    b = AP.preservation_report(train, real, {"g": planted(smooth(32, seed=5), 0.2)[0] * 3})
    c = AP.preservation_report(train, planted(real, 0.1)[0], {"g": smooth(32, seed=5)})
    assert a["threshold"] == b["threshold"] == c["threshold"]
    d = AP.preservation_report(planted(train, 0.05)[0], real, {"g": smooth(32, seed=5)})
    assert d["threshold"] > a["threshold"]  # the training set does move it


def test_recall_on_seed000_spikes_beats_chance():
    d = make_trend_seasonal_spikes(256, 50, 0)
    x = (d.x_btc - d.x_btc.mean(1, keepdims=True)) / d.x_btc.std(1, keepdims=True)
    scores = AP.detector_scores(x)
    thr = AP.fit_threshold(scores)
    # 1 % of steps flagged; chance recall would be 0.01
    assert AP.recall(scores, d.y_bt, thr) > 0.25


def test_bad_inputs_raise_input_error():
    x = smooth(8)
    with pytest.raises(InputError, match="quantile"):
        AP.fit_threshold(AP.detector_scores(x), 0.0)
    with pytest.raises(InputError, match="channels"):
        AP.preservation_report(x, x, {"g": np.repeat(x, 2, axis=-1)})
    with pytest.raises(InputError, match="NaN"):
        AP.preservation_report(x, x, {"g": np.full_like(x, np.nan)})


def write_lab(path, seed=0, n_train=24, n_hold=16, t=32):
    """A tiny finished-lab directory: seed 000 data saved as lab_timeseries does."""
    path.mkdir()
    d = make_trend_seasonal_spikes(n_train + n_hold, t, seed)
    x = (d.x_btc - d.x_btc.mean(1, keepdims=True)) / (d.x_btc.std(1, keepdims=True) + 1e-6)
    x = x.astype(np.float32)
    r = np.random.default_rng(1)
    samples = {"copy": x[:n_hold], "noise": r.standard_normal((n_hold, t, 1)),
               "lstm_vae": 0.5 * x[n_train:],
               "lstm_vae_dp": 0.1 * r.standard_normal((n_hold, t, 1)),
               "ddpm": x[n_train:] + 0.3 * r.standard_normal((n_hold, t, 1))}
    np.savez_compressed(path / "samples.npz", train=x[:n_train], holdout=x[n_train:], **samples)
    (path / "config.json").write_text(json.dumps({"profile": "smoke", "seed": seed,
                                                  "dataset": "seed000"}))
    return d


def test_smoke_run_from_a_lab_dir_writes_its_files(tmp_path):
    d = write_lab(tmp_path / "lab")
    out = tmp_path / "out"
    res = main("lab_anomaly_preservation", exp.get_config, exp.run,
               argv=["--profile", "smoke", "--workdir", str(out),
                     f"--config.lab_dir={tmp_path / 'lab'}"])
    assert set(res["rows"]) == set(exp.GENERATORS)
    assert res["rows"]["copy"]["ks"] < res["rows"]["noise"]["ks"]
    assert np.isfinite(res["recall_train"]) and res["label_rate_train"] == pytest.approx(
        d.y_bt[:24].mean())
    saved = json.loads((out / "results.json").read_text())
    assert saved["threshold"] == res["threshold"]
    assert json.loads((out / "config.json").read_text())["lab_dir"] == str(tmp_path / "lab")
    table = (out / "table.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in table) == 1 + 2 + len(exp.GENERATORS)


def test_labels_are_dropped_when_the_saved_series_do_not_match(tmp_path):
    write_lab(tmp_path / "lab", seed=0)
    (tmp_path / "lab" / "config.json").write_text(json.dumps({"seed": 7}))  # wrong seed
    res = exp.run(exp.Config(profile="smoke", lab_dir=str(tmp_path / "lab")), tmp_path / "out")
    assert "recall_train" not in res


@pytest.mark.parametrize("flag, value", [("quantile", "1.5"), ("lab_dir", "/nonexistent/lab")])
def test_bad_config_names_the_flag(tmp_path, flag, value):
    config = exp.get_config("smoke")
    config = exp.Config(**{**config.__dict__, flag: type(getattr(config, flag))(value)})
    with pytest.raises(InputError, match=f"--config.{flag}"):
        exp.run(config, tmp_path / "out")


def test_the_default_lab_dir_is_the_labs_own_and_a_missing_one_says_what_to_run(tmp_path,
                                                                               monkeypatch):
    assert exp.get_config("quick").lab_dir == "runs/lab_timeseries"  # lab_timeseries' default
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="python -m experiments.lab_timeseries"):
        exp.run(exp.get_config("smoke"), tmp_path / "out")
    assert not (tmp_path / "out").exists()
