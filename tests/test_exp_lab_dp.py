"""Seed 000 Exercise 6: the DP-SGD privacy-utility sweep scores every (C, σ, steps)
point with ε from the accountant, keeps the frontier honest and checks its settings."""

import json
import math

import pytest

from experiments import lab_dp
from experiments.common import main
from jtsgen.config import apply_overrides
from jtsgen.errors import InputError
from jtsgen.train import epsilon


def test_the_frontier_keeps_only_points_that_beat_every_smaller_budget():
    points = [{"epsilon": e, "m": m} for e, m in
              ((1.0, 0.5), (2.0, 0.6), (3.0, 0.4), (4.0, 0.45), (math.inf, 0.1))]
    front = lab_dp.frontier(points, "m")
    assert [(p["epsilon"], p["m"]) for p in front] == [(1.0, 0.5), (3.0, 0.4)]  # ∞ left out


def test_smoke_sweep_scores_every_point_with_the_accountants_epsilon(tmp_path):
    results = main("lab_dp", lab_dp.get_config, lab_dp.run,
                   argv=["--profile", "smoke", "--workdir", str(tmp_path)])
    config = lab_dp.get_config("smoke")
    runs = len(config.clips) * len(config.noise_multipliers) + 1  # and the non-private run
    points = results["points"]
    assert len(points) == runs * len(config.snapshots)
    q = config.batch_size / config.n_train
    for p in points:
        if p["noise_multiplier"] == 0:
            assert p["epsilon"] is None and p["clip"] is None and p["clipped_share"] == 0.0
            continue
        assert p["epsilon"] == pytest.approx(epsilon(p["noise_multiplier"], q, p["steps"],
                                                     config.delta))
        assert 0.0 <= p["clipped_share"] <= 1.0 and 0.0 <= p["membership_auc"] <= 1.0
        assert all(math.isfinite(p[m]) for m in lab_dp.UTILITY)
    by_steps = sorted((p for p in points if p["epsilon"] is not None),
                      key=lambda p: p["steps"])
    assert by_steps[0]["epsilon"] < by_steps[-1]["epsilon"]  # ε grows with the steps
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["points"] == points
    assert (tmp_path / "privacy_utility.png").stat().st_size > 10_000
    table = (tmp_path / "dp.md").read_text().splitlines()
    assert sum(line.startswith("| ") for line in table) == 1 + len(points) + 1  # + noise


@pytest.mark.parametrize("override, arg", [
    ("--config.snapshots=(20, 10)", "--config.snapshots"),
    ("--config.clips=(0.1, -1.0)", "--config.clips"),
    ("--config.dataset=seed999", "--config.dataset"),
    ("--config.delta=2.0", "--config.delta"),
])
def test_bad_settings_name_the_argument_and_leave_no_workdir(tmp_path, override, arg):
    config = apply_overrides(lab_dp.get_config("smoke"), [override])
    with pytest.raises(InputError) as err:
        lab_dp.run(config, tmp_path / "out")
    assert err.value.source == arg
    assert not (tmp_path / "out").exists()
