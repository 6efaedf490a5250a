"""Specification of the benchmark harness (benchmarks/harness.py); needs no torch."""

from __future__ import annotations

import json
import math
import sys

import pytest

from benchmarks import harness
from jtsgen.errors import InputError


def _cheap():
    return sum(range(200))


def test_time_fn_returns_sane_statistics():
    calls = []

    def fn():
        calls.append(1)
        return _cheap()

    res = harness.time_fn(fn, min_repeats=5, max_repeats=20, min_time_s=0.0, warmup=2)
    assert set(res) >= {"median_s", "mean_s", "std_s", "n", "spread"}
    assert 5 <= res["n"] <= 20
    assert len(calls) == res["n"] + 2  # warm-up calls are made but not counted
    assert 0 < res["median_s"] < 0.1
    assert res["mean_s"] > 0 and res["std_s"] >= 0 and res["spread"] >= 0
    assert res["min_s"] <= res["median_s"]


def test_time_fn_stops_at_max_repeats_when_spread_target_is_unreachable():
    res = harness.time_fn(_cheap, min_repeats=3, max_repeats=7, target_rel_spread=-1.0,
                          min_time_s=0.0)
    assert res["n"] == 7
    assert res["converged"] == 0


def test_time_fn_keeps_going_until_min_time():
    res = harness.time_fn(_cheap, min_repeats=1, max_repeats=10**7, target_rel_spread=10.0,
                          min_time_s=0.02)
    assert res["n"] * res["mean_s"] >= 0.02
    assert res["converged"] == 1


def test_time_fn_rejects_bad_repeat_counts():
    with pytest.raises(InputError, match="max_repeats"):
        harness.time_fn(_cheap, min_repeats=5, max_repeats=2)
    with pytest.raises(InputError, match="min_repeats"):
        harness.time_fn(_cheap, min_repeats=0)


def test_time_interleaved_alternates_the_callables_round_by_round():
    order = []
    res = harness.time_interleaved({"a": lambda: order.append("a"), "b": lambda: order.append("b")},
                                   rounds=3, min_round_s=0.0, min_calls=2, warmup=1)
    assert order == ["a", "b"] + ["a", "a", "b", "b"] * 3  # warm-up, then 3 rounds
    for name in ("a", "b"):
        assert res[name]["n"] == 6 and len(res[name]["round_median_s"]) == 3
        assert res[name]["min_s"] <= res[name]["median_s"]


def test_time_interleaved_rejects_bad_arguments():
    with pytest.raises(InputError, match="rounds"):
        harness.time_interleaved({"a": _cheap}, rounds=0)
    with pytest.raises(InputError, match="min_calls"):
        harness.time_interleaved({"a": _cheap}, min_calls=0)
    with pytest.raises(InputError, match="max_rounds"):
        harness.time_interleaved({"a": _cheap}, rounds=4, max_rounds=2, target_uncertainty=0.1)


def test_time_interleaved_adds_rounds_until_the_spread_target_is_met():
    seen = []

    def spread_of(per_round):
        seen.append(len(per_round["a"]))
        return 1.0 if len(per_round["a"]) < 5 else 0.0  # small from round 5 on

    res = harness.time_interleaved({"a": _cheap, "b": _cheap}, rounds=3, max_rounds=9,
                                   target_uncertainty=0.1, spread_of=spread_of, min_round_s=0.0,
                                   min_calls=1)
    assert seen == [3, 4, 5]  # checked from the minimum number of rounds on
    assert res["a"]["rounds"] == res["b"]["rounds"] == 5 and res["a"]["converged"] is True
    assert len(res["b"]["round_median_s"]) == 5


def test_time_interleaved_stops_at_max_rounds_when_the_spread_stays_large():
    res = harness.time_interleaved({"a": _cheap}, rounds=2, max_rounds=4, target_uncertainty=0.1,
                                   spread_of=lambda per_round: 1.0, min_round_s=0.0, min_calls=1)
    assert res["a"]["rounds"] == 4 and res["a"]["converged"] is False


def test_time_interleaved_without_a_target_runs_exactly_the_rounds_asked():
    res = harness.time_interleaved({"a": _cheap}, rounds=3, min_round_s=0.0, min_calls=1)
    assert res["a"]["rounds"] == 3 and res["a"]["converged"] is None


def test_median_uncertainty_shrinks_with_the_square_root_of_the_rounds():
    assert harness.median_uncertainty(0.2, 16) == pytest.approx(1.58 * 0.2 / 4)
    quarter = harness.median_uncertainty(0.2, 16)
    assert harness.median_uncertainty(0.2, 64) == pytest.approx(quarter / 2)
    with pytest.raises(InputError, match="n"):
        harness.median_uncertainty(0.2, 0)


def test_time_interleaved_stops_once_the_median_is_known_well_enough():
    # a spread of 0.5 needs (1.58 * 0.5 / 0.2)^2 = 15.6 -> 16 rounds for +-20 %
    res = harness.time_interleaved({"a": _cheap}, rounds=2, max_rounds=40, target_uncertainty=0.2,
                                   spread_of=lambda per_round: 0.5, min_round_s=0.0, min_calls=1)
    assert res["a"]["rounds"] == 16 and res["a"]["converged"] is True


def test_paired_spread_of_is_the_largest_paired_ratio_spread():
    per_round = {"ref": [10.0, 10.0, 10.0, 10.0, 10.0], "steady": [1.0] * 5,
                 "noisy": [1.0, 2.0, 1.0, 2.0, 1.0]}
    spread_of = harness.paired_spread_of(["ref"], ["steady", "noisy"])
    noisy = harness.paired_ratio([per_round["ref"]], per_round["noisy"])["spread"]
    assert noisy > 0
    assert spread_of(per_round) == pytest.approx(noisy)
    assert harness.paired_spread_of([], ["steady"]) is None


def test_paired_ratio_takes_the_fastest_reference_in_each_round():
    paired = harness.paired_ratio([[10.0, 8.0, 30.0], [12.0, 4.0, 15.0]], [1.0, 1.0, 2.0])
    assert paired["ratio"] == pytest.approx(7.5)  # per round: 10, 4, 7.5 -> median 7.5
    assert paired["uncertainty"] == pytest.approx(
        harness.median_uncertainty(paired["spread"], 3))
    with pytest.raises(InputError, match="reference_rounds"):
        harness.paired_ratio([[1.0]], [1.0, 2.0])
    with pytest.raises(InputError, match="reference_rounds"):
        harness.paired_ratio([], [1.0])


def test_time_compile_times_one_call():
    calls = []
    seconds = harness.time_compile(lambda: calls.append(1))
    assert calls == [1]
    assert 0 <= seconds < 1


def test_write_report_round_trips_and_creates_parents(tmp_path):
    path = tmp_path / "nested" / "dir" / "bench.json"
    rows = [{"name": "a", "median_s": 0.5, "ratio": float("nan")}, {"name": "b", "n": 3}]
    harness.write_report(path, config={"profile": "tiny"}, rows=rows,
                         summary={"speedup": 2.5})
    data = json.loads(path.read_text())
    assert set(data) == {"machine", "versions", "config", "rows", "summary"}
    assert data["config"] == {"profile": "tiny"}
    assert data["rows"][0]["median_s"] == 0.5 and data["rows"][0]["ratio"] is None
    assert data["rows"][1] == {"name": "b", "n": 3}
    assert data["summary"] == {"speedup": 2.5}
    assert data["machine"]["cpu_count"] >= 1
    assert len(data["machine"]["load_average"]) == 3  # 1, 5 and 15 minutes
    assert data["versions"]["python"] == sys.version.split()[0]
    assert [p.name for p in path.parent.iterdir()] == ["bench.json"]  # no temp file left


def test_write_report_overwrites_atomically(tmp_path):
    path = tmp_path / "r.json"
    harness.write_report(path, config={}, rows=[], summary={"v": 1})
    harness.write_report(path, config={}, rows=[], summary={"v": 2})
    assert json.loads(path.read_text())["summary"] == {"v": 2}
    assert len(list(tmp_path.iterdir())) == 1


def test_versions_and_machine_info_cover_the_stack():
    v = harness.versions()
    for name in ("python", "jax", "jaxlib", "flax", "optax", "numpy", "torch"):
        assert isinstance(v[name], str) and v[name]
    info = harness.machine_info()
    assert info["cpu_model"] and info["platform"]
    assert info["jax_backend"] == "cpu" or info["jax_devices"]


def test_print_table_is_markdown(capsys):
    harness.print_table([{"name": "x", "t": math.pi}, {"name": "longer"}], ["name", "t"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split("|")[1].strip() == "name"
    assert set(lines[1]) <= {"|", "-"}
    assert "3.142" in lines[2]
    assert len(lines) == 4 and len({len(line) for line in lines}) == 1


def test_base_argparser_defaults_and_choices():
    parser = harness.base_argparser("lstm_vae")
    args = parser.parse_args([])
    assert args.profile == "full"
    assert args.out.replace("\\", "/") == "runs/bench/lstm_vae.json"
    args = parser.parse_args(["--profile", "tiny", "--out", "x.json"])
    assert (args.profile, args.out) == ("tiny", "x.json")
    with pytest.raises(SystemExit):
        parser.parse_args(["--profile", "huge"])


def test_harness_does_not_import_torch():
    import subprocess

    code = ("import sys, benchmarks.harness, benchmarks.reference as r; "
            "r.torch_available(); assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_with_max_rounds_lowers_the_cap_and_the_minimum_with_it():
    full = {"rounds": 10, "max_rounds": 30, "target_uncertainty": 0.1}
    assert harness.with_max_rounds(full, None) is full
    assert harness.with_max_rounds(full, 15) == {**full, "max_rounds": 15}
    assert harness.with_max_rounds(full, 4) == {**full, "max_rounds": 4, "rounds": 4}
    with pytest.raises(InputError, match="--max-rounds"):
        harness.with_max_rounds(full, 0)
