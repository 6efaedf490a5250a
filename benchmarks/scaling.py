"""Data-parallel scaling of the LSTM-VAE train step over 1, 2, 4 and 8 devices.

``python -m benchmarks.scaling [--profile tiny|full] [--out FILE]``

Each device count N runs in its own subprocess, because the number of CPU
devices is fixed when jax starts: the child gets
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` and ``JAX_PLATFORMS=cpu``
in its environment, builds a 1-D ``"data"`` mesh over its N devices
(:func:`jtsgen.train.data_mesh`), replicates the state and times two programs:

* ``sharded step`` — :func:`benchmarks.step_variants.make_sharded_train_step` on a batch
  split along its leading axis, one step per call (GSPMD inserts the gradient
  all-reduce);
* ``fit program`` — what ``jtsgen.train.fit(..., mesh=)`` compiles:
  :func:`jtsgen.train.make_data_parallel_fused_steps` with the data replicated,
  ``fused_k`` steps per call, each device drawing its own rows (``shard_map``,
  one all-reduce per step); reported per step.

The child prints one ``SCALING_RESULT {json}`` line that the parent collects.

Weak scaling: every device keeps the seed's batch of 16 windows (length 100,
hidden 32, latent 4), so the global batch is 16 N. Throughput is windows per
second; efficiency is ``throughput(N) / (N * throughput(1))``. Emulated CPU
devices share the machine's cores, so with C cores efficiency cannot exceed
``min(N, C) / N``; the ``core_efficiency`` column divides by ``min(N, C)``
instead. See ``benchmarks/SCALING.md`` for the design and for real accelerators.

Summary names written: ``scaling_efficiency_8dev`` (the fit program's; null when
8 devices were not timed, e.g. ``tiny``, which times N = 1, 2 on a small model),
``scaling_efficiency_{N}dev`` (the fit program) and
``scaling_efficiency_sharded_step_{N}dev`` for every N timed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks import harness
from jtsgen.runtime import reexec_with_host_tunables, usable_cores

MARKER = "SCALING_RESULT "
PROGRAMS = ("sharded step", "fit program")
COLUMNS = ["program", "devices", "global_batch", "ms_per_step", "windows_per_s", "efficiency",
           "core_efficiency", "compile_s", "n", "spread", "status"]


@dataclasses.dataclass(frozen=True)
class Profile:
    devices: tuple[int, ...]
    per_device_batch: int
    seq_len: int
    hidden: int
    latent: int
    fused_k: int  # steps per call of the fit program
    timing: dict


PROFILES = {
    "full": Profile((1, 2, 4, 8), 16, 100, 32, 4, 20,
                    dict(min_repeats=5, max_repeats=100, min_time_s=2.0, max_time_s=15.0)),
    "tiny": Profile((1, 2), 4, 6, 8, 2, 2,
                    dict(min_repeats=2, max_repeats=3, min_time_s=0.0, max_time_s=0.2)),
}


def worker(profile: str) -> list[dict[str, Any]]:
    """Runs in the child: time both programs on all local devices; one row each."""
    import jax
    import optax

    from benchmarks.step_variants import make_sharded_train_step
    from jtsgen.models import lstm_vae
    from jtsgen.train import (
        create_state,
        data_mesh,
        make_data_parallel_fused_steps,
        replicate,
        sample_rows,
        shard_batch,
    )

    p = PROFILES[profile]
    devices = jax.devices()
    mesh = data_mesh(devices)
    cfg = lstm_vae.LSTMVAEConfig(seq_len=p.seq_len, hidden=p.hidden, latent=p.latent, unroll=1)
    global_batch = p.per_device_batch * len(devices)
    loss_fn = lstm_vae.make_loss_fn(cfg)
    state = replicate(create_state(lstm_vae.init_params(jax.random.key(0), cfg),
                                   optax.adam(cfg.learning_rate)), mesh)
    x = jax.random.normal(jax.random.key(1), (global_batch, p.seq_len, 1))
    key = replicate(jax.random.key(2), mesh)
    programs = {  # name: (jitted program, its data argument, steps per call)
        "sharded step": (make_sharded_train_step(loss_fn, mesh), shard_batch(x, mesh), 1),
        "fit program": (make_data_parallel_fused_steps(
            loss_fn, sample_rows(p.per_device_batch), p.fused_k, mesh, split_data=False),
            replicate(x, mesh), p.fused_k),
    }
    rows = []
    for name, (program, data, steps) in programs.items():
        start = time.perf_counter()
        compiled = program.lower(state, data, key).compile()
        compile_s = time.perf_counter() - start
        box = [jax.tree.map(jax.numpy.copy, state)]  # each program donates its own copy

        def run(compiled=compiled, data=data, box=box):
            box[0], metrics = compiled(box[0], data, key)
            jax.block_until_ready(metrics)

        res = harness.time_fn(run, **p.timing)
        seconds = res["median_s"] / steps
        rows.append({"program": name, "devices": len(devices),
                     "device_kind": devices[0].device_kind, "global_batch": global_batch,
                     "ms_per_step": seconds * 1e3, "windows_per_s": global_batch / seconds,
                     "compile_s": compile_s, "n": res["n"], "spread": res["spread"],
                     "status": "ok"})
    return rows


def run_child(devices: int, profile: str, timeout_s: float = 900.0) -> list[dict[str, Any]]:
    """Starts ``python -m benchmarks.scaling --worker N`` with N emulated CPU devices;
    its rows, or one failed row per program."""
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "").split()
    flags = [f for f in flags if not f.startswith("--xla_force_host_platform_device_count")]
    env["XLA_FLAGS"] = " ".join(flags + [f"--xla_force_host_platform_device_count={devices}"])
    env["JAX_PLATFORMS"] = "cpu"
    cmd = [sys.executable, "-m", "benchmarks.scaling", "--worker", "--profile", profile]
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        status = f"failed: timed out after {timeout_s:.0f} s"
    else:
        for line in proc.stdout.splitlines():
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER):])
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        status = f"failed (exit {proc.returncode}): {tail}"
    return [{"program": name, "devices": devices, "status": status} for name in PROGRAMS]


def add_efficiency(rows: list[dict], cores: int) -> None:
    """Each row's efficiency against the one-device row of its program."""
    base = {r["program"]: r for r in rows if r["devices"] == 1 and r["status"] == "ok"}
    for r in rows:
        b = base.get(r["program"])
        if b is None or r["status"] != "ok":
            r["efficiency"] = r["core_efficiency"] = None
            continue
        ratio = r["windows_per_s"] / b["windows_per_s"]
        r["efficiency"] = ratio / r["devices"]
        r["core_efficiency"] = ratio / min(r["devices"], cores)


def main(argv: list[str] | None = None) -> dict:
    parser = harness.base_argparser("scaling")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(MARKER + json.dumps(worker(args.profile)), flush=True)
        return {}
    p = PROFILES[args.profile]
    cores = usable_cores()
    rows = [row for n in p.devices for row in run_child(n, args.profile)]
    rows.sort(key=lambda r: PROGRAMS.index(r["program"]))
    add_efficiency(rows, cores)
    harness.print_table(rows, COLUMNS)
    summary: dict[str, Any] = {"scaling_efficiency_8dev": None}
    for r in rows:
        prefix = "scaling_efficiency" + ("_sharded_step" if r["program"] == "sharded step" else "")
        summary[f"{prefix}_{r['devices']}dev"] = r.get("efficiency")
    print("\nsummary:")
    for name, value in summary.items():
        print(f"  {name} = {'n/a' if value is None else f'{value:.4g}'}")
    config = {"profile": args.profile, "sizes": dataclasses.asdict(p), "cores": cores,
              "devices": "emulated CPU devices (--xla_force_host_platform_device_count), "
                         "one subprocess per count",
              "scaling": "weak: fixed per-device batch",
              "programs": {"sharded step": "make_sharded_train_step, one step per call",
                           "fit program": f"make_data_parallel_fused_steps, {p.fused_k} "
                                          "steps per call (as fit(mesh=) trains), per step"}}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    reexec_with_host_tunables()
    main(sys.argv[1:])
