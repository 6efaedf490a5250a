"""Ensembles: K replicas as one vmapped program against K sequential runs.

``python -m benchmarks.ensemble [--profile tiny|full] [--out FILE]``

K independently initialised LSTM-VAEs (seed 000 config: batch 16, length 100,
hidden 32, latent 4) train on the same Synthetic Sines windows, ``k`` steps per
call:

* vmapped: :func:`jtsgen.train.make_ensemble_fused_steps` — one compiled program
  advances all K stacked states (``jax.vmap`` over the fused ``lax.scan``);
* sequential: :func:`jtsgen.train.make_fused_steps` called once per replica, one
  after the other (the same compiled program for every replica);
* sharded (when JAX sees more than one device): the vmapped program with the
  replica axis split over all devices (``make_ensemble_fused_steps(mesh=...)``).
  Run from the command line, the script emulates one CPU device per usable core
  (``--xla_force_host_platform_device_count``) unless ``XLA_FLAGS`` already sets a
  count. K not divisible by the device count is padded with extra replicas whose
  steps are not counted.

Throughput is aggregate optimiser steps per second over all replicas
(``K * k / seconds``); the speed-up is vmapped over sequential at the same K. The
modes of one K are timed in interleaved rounds and the speed-up is the median of
per-round ratios (:func:`benchmarks.harness.time_interleaved`, ``paired_ratio``).
On a CPU the step of one small model is bound by per-iteration overhead of its
sequential LSTM steps, so K replicas in one program cost little more than one.

Summary names written: ``ensemble_speedup_k5`` (the headline, one device),
``ensemble_speedup_k{K}`` for every K timed, and ``ensemble_speedup_k{K}_sharded``
when there are several devices (``tiny``: K = 2 only, so
``ensemble_speedup_k5`` is null there). The sequential program is compiled once
and its compile time is reported on every sequential row.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from benchmarks import harness
from benchmarks.train_step import print_summary
from jtsgen.data.sines import make_sines
from jtsgen.models import lstm_vae
from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables
from jtsgen.train import (
    create_state,
    data_mesh,
    init_replicas,
    make_ensemble_fused_steps,
    make_fused_steps,
    replicate,
    sample_rows,
    shard_replicas,
)

COLUMNS = ["mode", "replicas", "padded_to", "steps_per_call", "s_per_round", "steps_per_s",
           "compile_s", "n", "rounds", "spread", "speedup", "speedup_spread"]


@dataclasses.dataclass(frozen=True)
class Profile:
    replicas: tuple[int, ...]  # the ensemble sizes K timed
    batch: int  # rows per replica and step
    seq_len: int
    hidden: int  # the LSTM-VAE's width and latent size
    latent: int
    steps_per_call: int  # steps fused into one call (vmapped and sequential alike)
    n_series: int  # Synthetic Sines windows every replica draws from
    interleave: dict  # keyword arguments of harness.time_interleaved


PROFILES = {
    "full": Profile((1, 5, 8, 32), 16, 100, 32, 4, 10, 256, dict(harness.FULL_INTERLEAVE)),
    "tiny": Profile((2,), 4, 6, 8, 2, 2, 16, dict(rounds=2, min_round_s=0.0, min_calls=1)),
}


def _compile(jitted, *args):
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - start


def _init_fn(cfg):
    tx = optax.adam(cfg.learning_rate)
    return lambda key: create_state(lstm_vae.init_params(key, cfg), tx)


def vmapped_mode(p: Profile, cfg, data, replicas: int, mesh: Mesh | None = None) -> dict:
    """The vmapped program on one device, or with ``mesh`` its replica axis split over
    the mesh's devices (K padded up to a multiple of the device count; padded
    replicas train but are not counted). Returns ``mode``, ``run`` (one blocking
    round), ``compile_s`` and ``padded_to``."""
    n_dev = 1 if mesh is None else mesh.devices.size
    padded = -(-replicas // n_dev) * n_dev
    states = jax.jit(lambda k: init_replicas(_init_fn(cfg), k))(
        jax.random.split(jax.random.key(0), padded))
    train_keys = jax.random.split(jax.random.key(1), padded)
    if mesh is not None:
        states, train_keys = shard_replicas(states, mesh), shard_replicas(train_keys, mesh)
        data = replicate(data, mesh)
    fused = make_ensemble_fused_steps(lstm_vae.make_loss_fn(cfg), sample_rows(p.batch),
                                      p.steps_per_call, mesh=mesh)
    compiled, compile_s = _compile(fused, states, data, train_keys)
    box = [states]

    def run():
        box[0], metrics = compiled(box[0], data, train_keys)
        jax.block_until_ready(metrics)

    mode = "vmapped" if mesh is None else f"sharded over {n_dev} devices"
    return {"mode": mode, "run": run, "compile_s": compile_s,
            "padded_to": padded if mesh is not None else None}


def sequential_program(p: Profile, cfg, data):
    """The single-replica fused program (compiled once, shared by every K)."""
    init = jax.jit(_init_fn(cfg))
    fused = make_fused_steps(lstm_vae.make_loss_fn(cfg), sample_rows(p.batch), p.steps_per_call)
    compiled, compile_s = _compile(fused, init(jax.random.key(0)), data, jax.random.key(1))
    return init, compiled, compile_s


def sequential_mode(p: Profile, program, data, replicas: int) -> dict[str, Any]:
    """K calls of the single-replica program per round, one replica after the other."""
    init, compiled, compile_s = program
    states = [init(k) for k in jax.random.split(jax.random.key(0), replicas)]
    train_keys = jax.random.split(jax.random.key(1), replicas)

    def run():
        metrics = None
        for i in range(replicas):
            states[i], metrics = compiled(states[i], data, train_keys[i])
        jax.block_until_ready(metrics)

    return {"mode": "sequential", "run": run, "compile_s": compile_s, "padded_to": None}


def time_modes(p: Profile, modes: list[dict], replicas: int) -> list[dict]:
    """Times the modes of one K in interleaved rounds; the first is the sequential
    baseline, and every other row's ``speedup`` is paired with it round by round."""
    res = harness.time_interleaved({i: m["run"] for i, m in enumerate(modes)},
                                   spread_of=harness.paired_spread_of([0], range(1, len(modes))),
                                   **p.interleave)
    base = res[0]["round_median_s"]
    rows = []
    for i, m in enumerate(modes):
        row = _row(m["mode"], replicas, p, res[i], m["compile_s"])
        if m["padded_to"] is not None:
            row["padded_to"] = m["padded_to"]
        if i:
            paired = harness.paired_ratio([base], res[i]["round_median_s"])
            row["speedup"], row["speedup_spread"] = paired["ratio"], paired["spread"]
            row["speedup_uncertainty"] = paired["uncertainty"]
        rows.append(row)
    return rows


def _row(mode, replicas, p, res, compile_s):
    steps = replicas * p.steps_per_call
    return {"mode": mode, "replicas": replicas, "steps_per_call": p.steps_per_call,
            "s_per_round": res["median_s"], "steps_per_s": steps / res["median_s"],
            "compile_s": compile_s, "n": res["n"], "spread": res["spread"],
            "rounds": res["rounds"], "converged": res["converged"]}


def main(argv: list[str] | None = None) -> dict:
    args = harness.interleaved_argparser("ensemble").parse_args(argv)
    p = harness.profile_with_max_rounds(PROFILES[args.profile], args.max_rounds)
    cfg = lstm_vae.LSTMVAEConfig(seq_len=p.seq_len, hidden=p.hidden, latent=p.latent, unroll=1)
    data = jnp.asarray(make_sines(p.n_series, 0, length=p.seq_len).x_btc)
    rows: list[dict] = []
    summary: dict[str, Any] = {"ensemble_speedup_k5": None}
    program = sequential_program(p, cfg, data)
    for replicas in p.replicas:
        modes = [sequential_mode(p, program, data, replicas),
                 vmapped_mode(p, cfg, data, replicas)]
        if jax.device_count() > 1:
            modes.append(vmapped_mode(p, cfg, data, replicas, mesh=data_mesh()))
        timed = time_modes(p, modes, replicas)
        rows += timed
        summary[f"ensemble_speedup_k{replicas}"] = timed[1]["speedup"]
        if len(timed) > 2:
            summary[f"ensemble_speedup_k{replicas}_sharded"] = timed[2]["speedup"]
    harness.print_table(rows, COLUMNS)
    print_summary(summary)
    config = {"profile": args.profile, "sizes": dataclasses.asdict(p), "model": cfg,
              "throughput": "aggregate optimiser steps per second over all replicas"}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    emulate_cpu_devices()
    reexec_with_host_tunables()
    main(sys.argv[1:])
