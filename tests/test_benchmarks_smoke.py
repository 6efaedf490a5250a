"""Every benchmark script runs its ``tiny`` profile and writes its JSON report.

torch is switched off (``benchmarks.reference.torch_available`` patched to
False), as on a machine without it: reference rows must say so and every
speed-up must be null, never a number made up without a measured reference.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import (
    diffusion_sampling,
    ensemble,
    flops,
    harness,
    hpo_population,
    kpi_quick,
    pipeline,
    reference,
    scaling,
    train_step,
)
from jtsgen.errors import InputError

SKIPPED = "skipped: torch not installed"
REPORT_KEYS = {"machine", "versions", "config", "rows", "summary"}


@pytest.fixture
def no_torch(monkeypatch):
    monkeypatch.setattr(reference, "torch_available", lambda: False)


def run_tiny(module, tmp_path) -> dict:
    out = tmp_path / "report.json"
    returned = module.main(["--profile", "tiny", "--out", str(out)])
    report = json.loads(out.read_text())
    assert set(report) == REPORT_KEYS
    assert report["summary"] == returned
    assert report["config"]["profile"] == "tiny"
    assert report["versions"]["jax"] != "not installed"
    return report


def test_torch_can_be_switched_off_by_environment(monkeypatch):
    monkeypatch.setattr(reference, "torch_available", lambda: True)
    monkeypatch.setenv("JTSGEN_BENCH_NO_TORCH", "1")
    assert not train_step.torch_enabled()
    monkeypatch.delenv("JTSGEN_BENCH_NO_TORCH")
    assert train_step.torch_enabled()


def test_speedup_is_paired_by_round_against_the_fastest_reference():
    # round 2 is a slow moment for everyone: pairing keeps the ratio at 10x
    torch_n, torch_1, jax_rows = [30.0, 60.0], [20.0, 40.0], [2.0, 4.0]
    paired = harness.paired_ratio([torch_n, torch_1], jax_rows)
    assert paired["ratio"] == pytest.approx(10.0) and paired["spread"] == pytest.approx(0.0)


def test_measure_without_torch_leaves_speedups_null_and_marks_the_reference_skipped():
    variants = [{"variant": "v", "run": lambda: None, "per_call": 4, "compile_s": 0.1}]
    rows = train_step.measure(variants, None, {"benchmark": "b"},
                              dict(rounds=2, min_round_s=0.0, min_calls=1))
    assert [r["impl"] for r in rows] == ["jax", "torch"]
    assert rows[0]["speedup"] is None and rows[0]["n"] == 2 and rows[0]["compile_s"] == 0.1
    assert rows[1]["status"] == train_step.SKIPPED


def test_peak_flops_derivation_multiplies_its_factors():
    peak = flops.peak_flops()
    assert peak["cores"] >= 1 and peak["flops_per_cycle"] in (8, 16, 32, 64)
    if peak["clock_mhz"]:
        expected = peak["cores"] * peak["clock_mhz"] * 1e6 * peak["flops_per_cycle"]
        assert peak["peak_flops_per_s"] == pytest.approx(expected)
        assert "GFLOP/s" in peak["derivation"]
    assert flops.utilisation(1e9, 0.5, 4e9) == pytest.approx(0.5)
    assert flops.utilisation(1e9, 0.5, None) is None


def test_train_step(no_torch, tmp_path):
    report = run_tiny(train_step, tmp_path)
    rows, summary = report["rows"], report["summary"]
    assert {"speedup_seed_config", "speedup_batch256", "speedup_fused_seed_config",
            "flop_utilisation"} <= set(summary)
    assert {r["benchmark"] for r in rows} == {"lstm_vae", "cgats_stage2", "rcgan_critic"}
    torch_rows = [r for r in rows if r["impl"] == "torch"]
    assert torch_rows and all(r["status"] == SKIPPED and r["ms_per_step"] is None
                              for r in torch_rows)
    assert all(r.get("speedup") is None for r in rows)
    for name in ("speedup_seed_config", "speedup_batch256", "speedup_fused_seed_config",
                 "speedup_cgats_stage2", "speedup_cgats_stage2_cached", "speedup_rcgan_critic"):
        assert summary[name] is None
    jax_rows = [r for r in rows if r["impl"] == "jax"]
    assert all(r["ms_per_step"] > 0 and r["compile_s"] > 0 for r in jax_rows)
    assert any("fused" in r["variant"] for r in jax_rows)
    assert any("packed" in r["variant"] for r in jax_rows)
    assert {r.get("work") for r in jax_rows if r["benchmark"] == "cgats_stage2"} == {
        "as reference", "cached posterior"}
    assert summary["speedup_packed_seed_config"] is None
    assert 0 < summary["flop_utilisation"] < 1
    assert report["config"]["model_flops"]["flops"] > report["config"]["model_flops"][
        "matmul_only_estimate"] > 0


def test_flops(tmp_path):
    report = run_tiny(flops, tmp_path)
    assert 0 < report["summary"]["flop_utilisation"] < 1
    assert report["summary"]["model_flops_per_step"] > 0
    assert "x" in report["config"]["peak"]["derivation"]
    floor = report["config"]["recurrence_floor"]
    assert [r["batch"] for r in floor] == [1, 4]
    assert all(r["recurrence_us"] > 0 and r["matmul_us"] > 0 for r in floor)
    assert floor[0]["fixed_share"] == pytest.approx(1.0)
    assert report["summary"]["lstm_iteration_us_b4"] == floor[1]["recurrence_us"]
    assert report["summary"]["vmap_ceiling_k5"] is None  # batch 16 and 80 not in tiny


def test_vmap_ceiling_is_k_times_the_small_batch_over_the_stacked_batch():
    rows = [{"batch": 16, "recurrence_us": 10.0}, {"batch": 80, "recurrence_us": 25.0}]
    assert flops.vmap_ceiling(rows, 16, 5) == pytest.approx(2.0)
    assert flops.vmap_ceiling(rows, 16, 8) is None


def test_diffusion_sampling(no_torch, tmp_path):
    report = run_tiny(diffusion_sampling, tmp_path)
    rows, summary = report["rows"], report["summary"]
    assert summary["speedup_sampling_50"] is None and summary["speedup_sampling_1000"] is None
    assert [r["steps"] for r in rows if r["impl"] == "jax"] == [5, 10]
    assert all(r["status"] == SKIPPED for r in rows if r["impl"] == "torch")
    assert all(r["ms_per_chain"] > 0 for r in rows if r["impl"] == "jax")


def test_ensemble(tmp_path):
    report = run_tiny(ensemble, tmp_path)
    rows, summary = report["rows"], report["summary"]
    assert {r["mode"] for r in rows} == {"sequential", "vmapped"}  # one device here
    assert all(r["steps_per_s"] > 0 for r in rows)
    assert summary["ensemble_speedup_k5"] is None  # K = 5 is not in the tiny profile
    vm = next(r for r in rows if r["mode"] == "vmapped")
    seq = next(r for r in rows if r["mode"] == "sequential")
    # paired by round against the sequential baseline, which has no speed-up of its own
    assert summary["ensemble_speedup_k2"] == vm["speedup"] > 0
    assert vm["speedup_spread"] >= 0 and "speedup" not in seq
    assert vm["n"] >= 2 and seq["n"] >= 2


def test_hpo_population(tmp_path):
    report = run_tiny(hpo_population, tmp_path)
    rows, summary = report["rows"], report["summary"]
    # one row per mode for each population size of the profile (K = 2 in tiny)
    assert [(r["mode"], r["candidates"]) for r in rows] == [
        ("one by one", 2), ("vmapped population", 2)]
    assert set(summary) == {"hpo_population_speedup_k2", "hpo_population_speedup"}
    one, pop = rows
    for r in rows:
        assert r["s_per_round"] > 0 and r["compile_s"] > 0 and r["rounds"] >= 2
        # throughput: K candidates x steps_per_call steps per round
        assert r["candidate_steps_per_s"] == pytest.approx(2 * 2 / r["s_per_round"])
        assert r["candidates_per_s"] == pytest.approx(r["candidate_steps_per_s"] / 1000)
    # paired by round against one by one, which has no speed-up of its own
    assert summary["hpo_population_speedup"] == summary["hpo_population_speedup_k2"]
    assert summary["hpo_population_speedup_k2"] == pop["speedup"] > 0
    assert pop["speedup_spread"] >= 0 and "speedup" not in one
    assert report["config"]["sizes"]["candidates"] == [2]


def test_scaling_runs_each_device_count_in_its_own_process(tmp_path):
    report = run_tiny(scaling, tmp_path)
    rows, summary = report["rows"], report["summary"]
    assert [r["status"] for r in rows] == ["ok"] * 4
    assert [r["program"] for r in rows] == ["sharded step"] * 2 + ["fit program"] * 2
    assert [r["devices"] for r in rows] == [1, 2, 1, 2]  # as counted by jax in each child
    assert [r["global_batch"] for r in rows] == [4, 8, 4, 8]
    assert rows[0]["efficiency"] == rows[2]["efficiency"] == pytest.approx(1.0)
    assert summary["scaling_efficiency_8dev"] is None
    assert summary["scaling_efficiency_2dev"] == pytest.approx(rows[3]["efficiency"])
    assert summary["scaling_efficiency_sharded_step_2dev"] == pytest.approx(rows[1]["efficiency"])


def test_pipeline(tmp_path):
    report = run_tiny(pipeline, tmp_path)
    rows, summary = report["rows"], report["summary"]
    by_exp = {}
    for r in rows:
        by_exp.setdefault(r["experiment"], []).append(r["stage"])
    assert by_exp == {
        "cgats_sines": ["data", "train stage 1", "train stage 2", "generate", "evaluate",
                        "figures", "total"],  # tiny: C-GATS alone
        "detectors_sines": ["data", "detector case2", "detector sr_cnn", "evaluate", "total"],
        "frameworks_sines": ["data", "split", "augment mixup", "train stage 1", "train stage 2",
                             "generate cgats", "detector case2", "detector sr_cnn", "total"],
        "vae_anomaly": ["data", "train latent 2", "evaluate", "total"],
        "lstm_vae": ["data", "train", "generate", "evaluate", "total"],
    }
    for name in by_exp:
        stages = [r for r in rows if r["experiment"] == name]
        total = stages[-1]
        assert total["warm_s"] == pytest.approx(sum(r["warm_s"] for r in stages[:-1]))
        assert total["cold_s"] >= total["warm_s"] > 0
        assert summary[f"pipeline_{name}_warm_s"] == total["warm_s"]
    assert summary["pipeline_warm_s"] == summary["pipeline_cgats_sines_warm_s"]
    assert 0 < summary["pipeline_train_share"] <= 1
    quality = report["config"]["quality_of_warm_runs"]
    assert set(quality["cgats_sines"]) == {"C-GATS"}  # the experiment's generator names
    assert all(0 <= v <= 1 for v in quality["cgats_sines"].values())
    assert set(quality["detectors_sines"]) == {"case2", "sr_cnn"}
    assert set(quality["frameworks_sines"]) == {  # 4 frameworks + Mixup in T(R+S)TR, each
        f"{d} {cell}" for d in ("case2", "sr_cnn")
        for cell in ("TRTR real", "T(R+S)TR cgats", "TRTS cgats", "TSTR cgats",
                     "T(R+S)TR mixup")}


def test_pipeline_times_only_the_experiments_asked_for(tmp_path):
    out = tmp_path / "report.json"
    summary = pipeline.main(["--profile", "tiny", "--out", str(out),
                             "--experiments", "lstm_vae"])
    assert {r["experiment"] for r in json.loads(out.read_text())["rows"]} == {"lstm_vae"}
    assert summary["pipeline_warm_s"] is None and summary["pipeline_lstm_vae_warm_s"] > 0
    with pytest.raises(InputError, match="--experiments"):
        pipeline.main(["--profile", "tiny", "--out", str(out), "--experiments", "nope"])
    refused = tmp_path / "refused.json"
    with pytest.raises(InputError, match="vae_anomaly"):  # trains on one device only
        pipeline.main(["--profile", "tiny", "--out", str(refused), "--experiments",
                       "lstm_vae,vae_anomaly", "--devices", "2"])
    assert not refused.exists()


def test_ensemble_command_line_splits_replicas_over_emulated_cores(tmp_path):
    out = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JTSGEN_BENCH_NO_TORCH="1", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, "-m", "benchmarks.ensemble", "--profile", "tiny",
                           "--out", str(out)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(out.read_text())
    sharded = [r for r in report["rows"] if r["mode"] == "sharded over 2 devices"]
    assert [(r["replicas"], r["padded_to"]) for r in sharded] == [(2, 2)]
    assert report["summary"]["ensemble_speedup_k2_sharded"] == sharded[0]["speedup"] > 0


DATA_PARALLEL_ROWS = """
import jax
from benchmarks import train_step
from jtsgen.models import lstm_vae
from jtsgen.train import adam, create_state
assert jax.device_count() == 2
p = train_step.PROFILES["tiny"]
cfg = lstm_vae.LSTMVAEConfig(seq_len=p.vae_seq_len, hidden=p.vae_hidden, latent=p.vae_latent)
x = jax.random.normal(jax.random.key(1), (8, p.vae_seq_len, 1))
variants = train_step.data_parallel_variants(
    p, cfg, lambda: create_state(lstm_vae.init_params(jax.random.key(0), cfg), adam(1e-3)),
    x, jax.random.key(2), micro_counts=(1, 2, 8), fused_micro=2)
rows = train_step.measure(variants, None, {"benchmark": "lstm_vae"}, p.interleave)
split = [r for r in rows if r["impl"] == "jax"]
# 8 microbatches do not divide 4 rows per device: no such row
assert [(r["steps_per_call"], r["microbatches"]) for r in split] == [
    (1, 1), (1, 2), (p.fused_k, 2)], split
assert all(r["devices"] == 2 and r["ms_per_step"] > 0 and r["speedup"] is None for r in split)
# the RCGAN critic update is timed on one device and split over both
critic = [r for r in train_step.rcgan_rows(p, False) if r["impl"] == "jax"]
assert [r.get("devices") for r in critic] == [None, 2], critic
assert all(r["ms_per_step"] > 0 for r in critic)
print("OK")
"""


def test_train_step_times_the_step_split_over_two_emulated_cores():
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    env.update(JTSGEN_BENCH_NO_TORCH="1", XLA_FLAGS="--xla_force_host_platform_device_count=2")
    proc = subprocess.run([sys.executable, "-c", DATA_PARALLEL_ROWS], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("OK")


def test_accelerator_script_runs_every_benchmark_and_reports_each_failure(tmp_path):
    # An interpreter that always fails: every step is attempted, each failure is
    # logged by name, and the script's exit status says so.
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ran $*\"\nexit 3\n")
    fake.chmod(0o755)
    out = tmp_path / "out"
    proc = subprocess.run(["bash", "benchmarks/accelerator.sh", str(out), "tiny"],
                          env={**os.environ, "PYTHON": str(fake)}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 1
    log = (out / "log.txt").read_text()
    for name in ("devices", "train_step", "diffusion_sampling", "ensemble", "scaling",
                 "pipeline"):
        assert f"== {name}: failed or timed out" in log
    assert "ran -m benchmarks.train_step --profile tiny --max-rounds 10 --out" in log
    assert "ran -m benchmarks.scaling --worker --profile tiny" in log
    assert "ran -m benchmarks.pipeline --profile tiny" in log


KPI_ZIP = Path(__file__).resolve().parents[2] / "shared" / "data" / "kpi" / "phase2_train.csv.zip"


@pytest.mark.skipif(not KPI_ZIP.is_file(), reason=f"no KPI phase-2 file at {KPI_ZIP}")
def test_kpi_quick_times_the_experiments_own_stages(tmp_path):
    out = tmp_path / "report.json"
    summary = kpi_quick.main(["--profile", "tiny", "--out", str(out),
                              "--kpi-path", str(KPI_ZIP)])
    report = json.loads(out.read_text())
    assert set(report) == REPORT_KEYS and report["summary"] == summary
    stages = [r["stage"] for r in report["rows"]]
    assert stages == ["data", "augment mixup", "train stage 1", "train stage 2",
                      "generate cgats", "detector case2", "detector case1", "total"]
    total = report["rows"][-1]["seconds"]
    assert total >= sum(r["seconds"] for r in report["rows"][:-1]) > 0
    assert summary["kpi_quick_target_ratio"] == pytest.approx(total / kpi_quick.TARGET_S)
    assert 0 < summary["kpi_quick_generators_share"] < 1
