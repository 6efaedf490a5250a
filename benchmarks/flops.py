"""FLOP utilisation of the LSTM-VAE train step: model FLOPs per second / machine peak.

``python -m benchmarks.flops [--profile tiny|full] [--out FILE]``

* Model FLOPs come from XLA: ``jax.jit(step).lower(...).compile().cost_analysis()``.
  XLA's cost analysis counts the body of a while loop once, not once per
  iteration, so the step is compiled with its scans fully unrolled at two short
  lengths ``T1 < T2``; every part of the step is affine in ``T`` (one LSTM cell
  per step in the encoder and decoder, forward and backward), so
  ``F(T) = F(T1) + (T - T1) * (F(T2) - F(T1)) / (T2 - T1)``. The matmul-only count
  ``3 * 2 * B * H * 4H`` per LSTM cell and step (forward ``h @ W_hh``, backward
  ``dpre @ W_hh^T`` and the weight gradient) is printed next to it as a check.
* Peak: usable cores x clock (``/proc/cpuinfo``, ``lscpu``'s max MHz if present)
  x FLOPs per cycle per core from the widest vector FMA the CPU reports (AVX-512
  FMA: 64, AVX2 FMA: 32, AVX: 16, SSE: 8 fp32 FLOPs/cycle).

* Recurrence floor: what one sequential LSTM iteration costs, apart from the rest of
  the model. :func:`recurrence_floor` times ``jax.grad`` of one
  :func:`jtsgen.nn.lstm.scan_recurrence` layer (hidden 32, 100 steps: one forward
  and one backward iteration per step) at several batch sizes, and a scan that does
  only the recurrent matmul ``h @ W_hh`` (and a ``tanh`` of ``H`` columns). The
  batch-1 time is the per-iteration cost that does not grow with the batch (kernel
  launches, loop bookkeeping); the rest grows with the rows. Their ratio bounds what
  batching can buy: K replicas vmapped in one program do the work of batch ``K * B``
  in one loop, so on one core their speed-up over K sequential runs is at most about
  ``K * t(B) / t(K * B)`` (``vmap_ceiling_k5``, B = 16, K = 5; a batched matmul is
  no faster than one matmul over the stacked rows).

Summary names written: ``flop_utilisation`` (fraction of peak at the seed config),
``model_flops_per_step``, ``peak_flops_per_s``, ``lstm_iteration_us_b{B}`` (forward
+ backward, per step, for every batch timed) and ``vmap_ceiling_k5`` (null in
``tiny``). ``benchmarks.train_step`` reuses :func:`peak_flops` and
:func:`lstm_vae_step_flops` for its own utilisation line.
"""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from typing import Any

import jax
import jax.numpy as jnp
import optax

from benchmarks import harness
from jtsgen.models import lstm_vae
from jtsgen.nn.lstm import scan_recurrence
from jtsgen.runtime import reexec_with_host_tunables
from jtsgen.train import create_state, make_step_fn, make_train_step


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _clock_mhz() -> tuple[float | None, str]:
    """Max clock from lscpu when it reports one, else the current 'cpu MHz' of /proc/cpuinfo."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"^CPU max MHz:\s*([\d.]+)", out, re.MULTILINE)
        if m and float(m.group(1)) > 0:
            return float(m.group(1)), "lscpu 'CPU max MHz'"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("cpu mhz"):
                    return float(line.split(":", 1)[1]), "/proc/cpuinfo 'cpu MHz'"
    except (OSError, ValueError):
        pass
    return None, "unknown"


def peak_flops() -> dict[str, Any]:
    """Peak fp32 FLOP/s of the usable cores, with the derivation as a string."""
    flags = _cpu_flags()
    if "avx512f" in flags:
        per_cycle, isa = 64, "AVX-512 FMA (2 x 16 lanes x 2)"
    elif "avx2" in flags and "fma" in flags:
        per_cycle, isa = 32, "AVX2 FMA (2 units x 8 fp32 lanes x 2)"
    elif "avx" in flags:
        per_cycle, isa = 16, "AVX (8 lanes mul + 8 lanes add)"
    else:
        per_cycle, isa = 8, "SSE (4 lanes mul + 4 lanes add)"
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    mhz, source = _clock_mhz()
    peak = cores * mhz * 1e6 * per_cycle if mhz else None
    derivation = (
        f"{cores} cores x {mhz:.0f} MHz ({source}) x {per_cycle} FLOPs/cycle ({isa}) "
        f"= {peak / 1e9:.1f} GFLOP/s" if peak else "clock unknown: no peak"
    )
    return {"cores": cores, "clock_mhz": mhz, "flops_per_cycle": per_cycle, "isa": isa,
            "peak_flops_per_s": peak, "derivation": derivation}


def _compiled_flops(cfg: lstm_vae.LSTMVAEConfig, batch: int) -> float:
    state = create_state(lstm_vae.init_params(jax.random.key(0), cfg), optax.adam(1e-3))
    step = jax.jit(make_step_fn(lstm_vae.make_loss_fn(cfg)))
    x = jnp.zeros((batch, cfg.seq_len, cfg.channels), jnp.float32)
    cost = step.lower(state, x, jax.random.key(0)).compile().cost_analysis()
    if isinstance(cost, list):  # older jax returns one dict per computation
        cost = cost[0]
    return float(cost["flops"])


def lstm_vae_step_flops(cfg: lstm_vae.LSTMVAEConfig, batch: int,
                        short: tuple[int, int] = (4, 8)) -> dict[str, Any]:
    """FLOPs of one train step at ``cfg``, extrapolated from fully unrolled short lengths."""
    t1, t2 = short
    h = cfg.hidden
    matmul_only = 2 * cfg.seq_len * 3 * 2 * batch * h * 4 * h
    if cfg.seq_len <= t2:  # short enough to count exactly
        total = _compiled_flops(dataclasses.replace(cfg, unroll=cfg.seq_len), batch)
        return {"flops": total, "matmul_only_estimate": matmul_only,
                "derivation": f"F({cfg.seq_len}) = {total:.4g} FLOPs/step (compiled, fully "
                              f"unrolled; matmuls alone: {matmul_only:.4g})"}
    f1 = _compiled_flops(dataclasses.replace(cfg, seq_len=t1, unroll=t1), batch)
    f2 = _compiled_flops(dataclasses.replace(cfg, seq_len=t2, unroll=t2), batch)
    slope = (f2 - f1) / (t2 - t1)
    total = f1 + (cfg.seq_len - t1) * slope
    return {"flops": total, "flops_t1": f1, "flops_t2": f2, "t1": t1, "t2": t2,
            "flops_per_time_step": slope, "matmul_only_estimate": matmul_only,
            "derivation": (f"F({t1})={f1:.4g}, F({t2})={f2:.4g} (compiled, fully unrolled); "
                           f"F({cfg.seq_len}) = F({t1}) + {cfg.seq_len - t1} x {slope:.4g} "
                           f"= {total:.4g} FLOPs/step (matmuls alone: {matmul_only:.4g})")}


def utilisation(flops_per_step: float, seconds_per_step: float, peak: float | None) -> float | None:
    """Achieved FLOP/s divided by the peak (None without a peak)."""
    if not peak or seconds_per_step <= 0:
        return None
    return flops_per_step / seconds_per_step / peak


def _time_step(cfg, batch, timing):
    state = create_state(lstm_vae.init_params(jax.random.key(0), cfg), optax.adam(1e-3))
    step = make_train_step(lstm_vae.make_loss_fn(cfg))
    x = jax.random.normal(jax.random.key(1), (batch, cfg.seq_len, cfg.channels), jnp.float32)
    key = jax.random.key(2)
    compiled = step.lower(state, x, key).compile()
    box = [state]

    def run():
        box[0], metrics = compiled(box[0], x, key)
        jax.block_until_ready(metrics)

    return harness.time_fn(run, **timing)


def _per_iteration_us(fn, args, steps: int, timing: dict) -> float:
    compiled = jax.jit(fn).lower(*args).compile()
    res = harness.time_fn(lambda: jax.block_until_ready(compiled(*args)), **timing)
    return res["median_s"] / steps * 1e6


def recurrence_floor(batches: tuple[int, ...], hidden: int, steps: int,
                     timing: dict) -> list[dict[str, Any]]:
    """Microseconds per sequential LSTM iteration at each batch size.

    ``recurrence_us``: forward + backward of one :func:`scan_recurrence` layer
    (``jax.grad`` of the summed hidden states w.r.t. its input projections and
    ``W_hh``), per time step. ``matmul_us``: a scan doing only ``h @ W_hh``
    (``[B, H] @ [H, 4H]``, then a ``tanh`` of its first ``H`` columns as the next
    ``h``, which keeps the carry bounded), per step; the recurrence does two such
    products per step (forward, and ``dpre @ W_hh^T`` backward). ``fixed_share``: the batch-1
    recurrence time over this batch's (the part that does not grow with the rows).
    """
    key = jax.random.split(jax.random.key(0), 2)
    w_hh = jax.random.normal(key[0], (hidden, 4 * hidden), jnp.float32) / hidden**0.5

    def loss(xproj, w, h0):
        return scan_recurrence(xproj, w, h0, h0)[0].sum()

    def matmuls(w, h0):
        return jax.lax.scan(lambda h, _: (jnp.tanh((h @ w)[:, :hidden]), None), h0, None,
                            length=steps)[0]

    rows = []
    for batch in batches:
        xproj = jax.random.normal(key[1], (steps, batch, 4 * hidden), jnp.float32)
        h0 = jnp.zeros((batch, hidden), jnp.float32)
        rec = _per_iteration_us(jax.grad(loss, argnums=(0, 1)), (xproj, w_hh, h0), steps, timing)
        mm = _per_iteration_us(matmuls, (w_hh, h0), steps, timing)
        rows.append({"batch": batch, "hidden": hidden, "steps": steps, "recurrence_us": rec,
                     "matmul_us": mm})
    base = rows[0]["recurrence_us"] if rows and rows[0]["batch"] == 1 else None
    for row in rows:
        row["fixed_share"] = base / row["recurrence_us"] if base else None
    return rows


def vmap_ceiling(rows: list[dict[str, Any]], batch: int, replicas: int) -> float | None:
    """``K * t(B) / t(K * B)`` from :func:`recurrence_floor` rows (None if not timed)."""
    by_batch = {r["batch"]: r["recurrence_us"] for r in rows}
    if batch not in by_batch or batch * replicas not in by_batch:
        return None
    return replicas * by_batch[batch] / by_batch[batch * replicas]


def main(argv: list[str] | None = None) -> dict:
    args = harness.base_argparser("flops").parse_args(argv)
    tiny = args.profile == "tiny"
    batch = 4 if tiny else 16
    cfg = (lstm_vae.LSTMVAEConfig(seq_len=6, hidden=8, unroll=1) if tiny
           else lstm_vae.LSTMVAEConfig(unroll=1))
    short = (3, 6) if tiny else (4, 8)
    timing = (dict(min_repeats=2, max_repeats=3, min_time_s=0.0, max_time_s=0.5) if tiny
              else dict(min_repeats=10, max_repeats=200, min_time_s=1.0, max_time_s=20.0))
    peak = peak_flops()
    fl = lstm_vae_step_flops(cfg, batch, short)
    t = _time_step(cfg, batch, timing)
    util = utilisation(fl["flops"], t["median_s"], peak["peak_flops_per_s"])
    print(f"peak: {peak['derivation']}")
    print(f"model FLOPs: {fl['derivation']}")
    util_txt = f"{util:.2%}" if util is not None else "n/a"
    print(f"step: {t['median_s'] * 1e3:.3f} ms -> {fl['flops'] / t['median_s'] / 1e9:.2f} GFLOP/s "
          f"-> utilisation {util_txt}")
    rows = [{"benchmark": "lstm_vae", "batch": batch, "seq_len": cfg.seq_len,
             "ms_per_step": t["median_s"] * 1e3, "n": t["n"], "spread": t["spread"],
             "flops_per_step": fl["flops"], "gflops_per_s": fl["flops"] / t["median_s"] / 1e9,
             "utilisation": util}]
    harness.print_table(rows, ["benchmark", "batch", "seq_len", "ms_per_step", "gflops_per_s",
                               "utilisation"])
    floor_batches = (1, 4) if tiny else (1, 16, 80, 256)
    floor_timing = (timing if tiny
                    else dict(min_repeats=10, max_repeats=200, min_time_s=0.5, max_time_s=5.0))
    floor = recurrence_floor(floor_batches, cfg.hidden, cfg.seq_len, floor_timing)
    print("\nrecurrence floor (one LSTM layer, hidden "
          f"{cfg.hidden}: us per step, forward + backward):")
    harness.print_table(floor, ["batch", "recurrence_us", "matmul_us", "fixed_share"])
    ceiling = vmap_ceiling(floor, 16, 5)
    if ceiling is not None:
        print(f"vmapped ensemble ceiling, K=5 at batch 16 on one core: 5 x t(16) / t(80) "
              f"= {ceiling:.2f}x")
    summary = {"flop_utilisation": util, "model_flops_per_step": fl["flops"],
               "peak_flops_per_s": peak["peak_flops_per_s"], "vmap_ceiling_k5": ceiling,
               **{f"lstm_iteration_us_b{r['batch']}": r["recurrence_us"] for r in floor}}
    config = {"profile": args.profile, "batch": batch, "model": cfg, "peak": peak, "flops": fl,
              "recurrence_floor": floor}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    reexec_with_host_tunables()
    main(sys.argv[1:])
