"""The Optuna backend of the forecasting search: a TPE study proposes ``(kind, hidden)``,
each trial's random non-shape candidates go to the evaluator as one population, and the
lowest validation score over all trials wins. Known answers use a fake evaluator whose
scores are a fixed function of the candidate; one run trains for real at the smoke
profile's sizes."""

import dataclasses
import itertools
import json
import sys

import jax
import numpy as np
import pytest

from experiments import forecasting
from experiments.common import main
from jtsgen.errors import InputError
from jtsgen.forecast import search
from jtsgen.forecast.data import prepare

pytest.importorskip("optuna")

KINDS, HIDDENS = ("lstm", "attention"), (4, 8, 16)
CANDIDATE_KEYS = {"kind", "hidden", "learning_rate", "dropout", "teacher_forcing"}


def known_score(c: dict) -> float:
    """Set mostly by the shape (lowest for attention, hidden 16), then by the learning
    rate's distance from 1e-3."""
    return (1.0 * (c["kind"] == "lstm") + (16 - c["hidden"]) / 12
            + 0.1 * abs(np.log(c["learning_rate"] / 1e-3)))


def fake_evaluate(calls: list):
    """Stands in for ``run_search``: same return structure, scores from ``known_score``."""

    def evaluate(candidates):
        calls.append(candidates)
        records = [{**c, "val_score": known_score(c), "final_loss": 0.0} for c in candidates]
        i = int(np.argmin([r["val_score"] for r in records]))
        c = candidates[i]
        return records, (i, ("config", c["kind"], c["hidden"]), ("params", len(calls), i))

    return evaluate


def run_fake(seed=0, n_trials=8, n_per_group=3, kinds=KINDS, hiddens=HIDDENS):
    calls = []
    records, best = search.optuna_search(fake_evaluate(calls), kinds, hiddens,
                                         n_trials=n_trials, n_per_group=n_per_group, seed=seed)
    return records, best, calls


def test_each_trial_is_one_population_of_one_shape_and_the_lowest_score_wins():
    records, (best, config, params), calls = run_fake()
    assert len(calls) == 8 and len(records) == 8 * 3
    for t, group in enumerate(calls):
        kind, hidden = group[0]["kind"], group[0]["hidden"]
        # the trial's non-shape candidates: sample_candidates seeded seed + 1 + trial
        assert group == search.sample_candidates(1 + t, 3, (kind,), (hidden,))
        assert records[3 * t:3 * t + 3] == [
            {**c, "val_score": known_score(c), "final_loss": 0.0} for c in group]
    scores = [r["val_score"] for r in records]
    assert best == int(np.argmin(scores))
    trial, j = divmod(best, 3)
    assert config == ("config", records[best]["kind"], records[best]["hidden"])
    assert params == ("params", trial + 1, j)  # the winning trial's own parameters


def test_proposals_come_only_from_the_configured_choices():
    records, _, calls = run_fake(n_trials=12)
    shapes = [(g[0]["kind"], g[0]["hidden"]) for g in calls]
    assert set(shapes) <= set(itertools.product(KINDS, HIDDENS))
    assert len(set(shapes)) > 1  # the study explores; it is not stuck on one shape
    assert all(type(r["hidden"]) is int for r in records)
    _, _, single = run_fake(n_trials=3, kinds=("attention",), hiddens=(8,))
    assert {(c["kind"], c["hidden"]) for g in single for c in g} == {("attention", 8)}


def test_the_study_learns_from_the_trial_values():
    # half of the 16 trials are TPE's random start-up; the rest follow the values
    # returned, so the best shape (attention, 16) comes up more often there
    _, _, calls = run_fake(n_trials=16, n_per_group=2)
    best_shape = [(g[0]["kind"], g[0]["hidden"]) == ("attention", 16) for g in calls]
    assert sum(best_shape[8:]) > sum(best_shape[:8])
    assert sum(best_shape[8:]) >= 4


def test_a_fixed_seed_reproduces_the_search():
    first, second, other = run_fake(seed=3), run_fake(seed=3), run_fake(seed=4)
    assert first[0] == second[0] and first[1] == second[1]
    assert first[0] != other[0]


def test_the_smoke_sizes_train_for_real_like_the_random_backend(tmp_path):
    config = dataclasses.replace(forecasting.get_config("smoke"), search_backend="optuna",
                                 search_trials=1)
    x_tc, _ = forecasting.load_series(config)
    data = prepare(x_tc, input_len=config.input_len, horizon=config.horizon)

    def rmse(y, pred):
        return float(np.sqrt(np.mean((y - pred) ** 2)))

    records, best, test_pred = forecasting.search(config, data, 3, jax.random.key(0),
                                                  tmp_path, rmse)
    # run_search's records: the candidate keys plus val_score and final_loss
    assert [set(r) for r in records] == [CANDIDATE_KEYS | {"val_score", "final_loss"}] * 2
    assert {(r["kind"], r["hidden"]) for r in records} <= {(k, 8) for k in forecasting.fm.FAMILIES}
    assert len({(r["kind"], r["hidden"]) for r in records}) == 1  # one trial, one population
    scores = [r["val_score"] for r in records]
    assert all(np.isfinite(scores)) and scores[0] != scores[1]
    assert best == int(np.argmin(scores))
    assert test_pred.shape == data.test.y_bhc.shape and np.all(np.isfinite(test_pred))
    saved = json.loads((tmp_path / "search.json").read_text())
    assert saved["spec"]["backend"] == "optuna" and saved["best"] == best
    # a rerun with the same spec resumes from search.json instead of training again
    again = forecasting.search(config, data, 3, None, tmp_path, None)
    assert again[0] == records and again[1] == best
    np.testing.assert_array_equal(again[2], test_pred)


def test_missing_optuna_is_an_input_error_naming_the_flag(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    with pytest.raises(InputError) as err:
        search.optuna_search(None, KINDS, HIDDENS, n_trials=1, n_per_group=1, seed=0)
    assert err.value.source == "--config.search_backend"
    assert "pip install 'jtsgen[optuna]'" in err.value.problem
    with pytest.raises(SystemExit) as exit_:
        main("forecasting", forecasting.get_config, forecasting.run,
             argv=["--profile", "smoke", "--workdir", str(tmp_path / "run"),
                   "--config.search_backend=optuna"])
    assert exit_.value.code == 2
    assert "jtsgen[optuna]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # checked before the work directory is made


@pytest.mark.parametrize("flag", ["--config.search_backend=grid", "--config.search_trials=0"])
def test_bad_search_settings_name_the_flag_before_the_workdir(tmp_path, capsys, flag):
    with pytest.raises(SystemExit):
        main("forecasting", forecasting.get_config, forecasting.run,
             argv=["--profile", "smoke", "--workdir", str(tmp_path / "run"), flag])
    assert flag.split("=")[0] in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
