"""cgats_sines over several seeds: mean ± sd over seeds, reuse of finished runs."""

import dataclasses
import json

import pytest

from experiments import cgats_sines
from experiments.common import prepare_workdir
from jtsgen.config import save_config, write_json
from jtsgen.errors import InputError


def _results(share_by_generator):
    return {"faithfulness": {g: {"on_label_share": v, "lift": 10 * v, "dev_on": v,
                                 "dev_off": 1 - v} for g, v in share_by_generator.items()}}


def test_summarise_gives_per_seed_values_mean_and_sample_sd():
    rows = cgats_sines.summarise({2: _results({"A": 0.2, "B": 0.5}),
                                        0: _results({"A": 0.4, "B": 0.5})})
    a, b = rows
    assert a["generator"] == "A" and a["seeds"] == [0, 2]
    assert a["on_label_share"] == [0.4, 0.2]  # in seed order
    assert a["on_label_share_mean"] == pytest.approx(0.3)
    assert a["on_label_share_sd"] == pytest.approx(0.1414213, rel=1e-6)  # ddof = 1
    assert a["lift_mean"] == pytest.approx(3.0)
    assert b["on_label_share_sd"] == 0.0
    assert "| A | 0.400 / 0.200 | 0.300 ± 0.141 |" in cgats_sines.markdown(rows)


def test_one_seed_has_zero_sd():
    (row,) = cgats_sines.summarise({7: _results({"A": 0.25})})
    assert row["on_label_share_sd"] == 0.0 and row["on_label_share_mean"] == 0.25


def test_runs_missing_seeds_and_reuses_finished_ones(tmp_path, monkeypatch):
    """The orchestration over seeds; one seed's run itself is test_exp_cgats_sines'."""
    base = dataclasses.replace(cgats_sines.get_config("smoke"), ablations=False,
                               baselines=False)
    cfg = dataclasses.replace(base, seeds=(0, 1))
    finished = tmp_path / "seed1"  # a finished run of seed 1 with the same config
    finished.mkdir()
    save_config(dataclasses.replace(base, seed=1), finished / "config.json")  # seeds=()
    write_json(finished / "results.json", _results({"C-GATS": 0.75}))
    ran = []

    def run_one(config, workdir):  # what cgats_sines.run_one leaves in its work dir
        ran.append(config)
        workdir = prepare_workdir(config, workdir)
        results = _results({"C-GATS": 0.25})
        write_json(workdir / "results.json", results)
        return results

    monkeypatch.setattr(cgats_sines, "run_one", run_one)
    out = cgats_sines.run(cfg, tmp_path)  # runs seed 0 only
    assert ran == [dataclasses.replace(base, seed=0)]  # one seed's config: seeds=()
    (row,) = out["rows"]
    assert row["generator"] == "C-GATS" and row["seeds"] == [0, 1]
    assert row["on_label_share"] == [0.25, 0.75]
    assert json.loads((tmp_path / "seed0" / "config.json").read_text())["seed"] == 0
    for name in ("config.json", "seeds.json", "seeds.md", "seeds.csv"):
        assert (tmp_path / name).stat().st_size > 0, name

    def must_not_run(*args, **kwargs):
        raise AssertionError("a finished seed was run again")

    monkeypatch.setattr(cgats_sines, "run_one", must_not_run)
    assert cgats_sines.run(cfg, tmp_path)["rows"] == out["rows"]

    other = dataclasses.replace(cfg, n_eval=8)
    with pytest.raises(InputError, match="seed0/config.json.*different config"):
        cgats_sines.run(other, tmp_path)


def test_seeds_must_be_distinct(tmp_path):
    with pytest.raises(InputError, match="--config.seeds"):
        cgats_sines.run(cgats_sines.Config(seeds=(1, 1)), tmp_path)
