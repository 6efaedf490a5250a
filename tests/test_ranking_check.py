"""The ranking check's AUC has the textbook answers, and it refuses what it cannot read."""

import json

import numpy as np
import pytest

from experiments import ranking_check
from jtsgen.errors import InputError


def test_auc_is_one_for_a_perfect_ranking_zero_reversed_and_half_for_ties():
    y = np.asarray([[0, 0, 1, 1], [0, 1, 0, 0]], np.float32)
    perfect = y * 2.0 + 0.1
    assert ranking_check.step_auc(perfect, y) == 1.0
    assert ranking_check.step_auc(-perfect, y) == 0.0
    assert ranking_check.step_auc(np.ones_like(y), y) == 0.5
    # 3 labelled, 5 unlabelled steps; one unlabelled step outranks 2 of the 3: 13/15
    scores = np.asarray([0.0, 0.1, 0.9, 0.8, 0.2, 0.7, 0.85, 0.3], np.float32)
    labels = np.asarray([0, 0, 1, 1, 0, 1, 0, 0], np.float32)
    assert ranking_check.step_auc(scores, labels) == pytest.approx(13 / 15)


def test_auc_is_nan_without_both_classes_and_shapes_must_match():
    assert np.isnan(ranking_check.step_auc(np.arange(4.0), np.zeros(4)))
    assert np.isnan(ranking_check.step_auc(np.arange(4.0), np.ones(4)))
    with pytest.raises(InputError, match="scores"):
        ranking_check.step_auc(np.arange(4.0), np.zeros(5))


def test_bad_work_directories_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        ranking_check.main([str(tmp_path)])
    assert f"{tmp_path / 'config.json'}: not found" in capsys.readouterr().err
    (tmp_path / "config.json").write_text(json.dumps({"seed": 0}))
    with pytest.raises(InputError, match="is not a frameworks_sines"):
        ranking_check.run(tmp_path)
    with pytest.raises(SystemExit):
        ranking_check.main([str(tmp_path), "--runs", "one"])
    assert "--runs: must be comma-separated integers" in capsys.readouterr().err
    with pytest.raises(InputError, match="run 3 has not finished"):
        ranking_check.reproduced(tmp_path, 3, {"case2": 0.5})
