"""Train-step speed: jtsgen (JAX) against the PyTorch references, in one process.

``python -m benchmarks.train_step [--profile tiny|full] [--out FILE]``

Rows (``full`` sizes; ``tiny`` shrinks them to seconds for tests, times one
LSTM-VAE batch size only and leaves the batch-256 entries null):

* LSTM-VAE of seed 000 at the seed's config (batch 16, length 100, hidden 32,
  latent 4) and at batch 256: our jitted step for scan unroll 1, 2, 4, 8 (the
  best one is used), the same step on a state packed into one buffer per dtype
  (:func:`jtsgen.train.make_packed_train_step`; the single-call speed-up uses
  the faster of the two), the same step with ``k`` steps fused in one ``lax.scan``
  (:func:`jtsgen.train.make_fused_steps`, time per step), and the seed's PyTorch
  step (:mod:`benchmarks.reference.lstm_vae`);
* C-GATS stage 2 (frozen encoder, decoder trained; batch 64, length 240) and
  the RCGAN critic update (WGAN-GP with pac 4; batch 64, length 240), each
  against its reference.

Timing: compilation is timed separately (``lower().compile()``); steady state is
repeated until the spread (IQR / median) is small (:func:`benchmarks.harness.time_fn`).
JAX and torch run in the same process, interleaved per benchmark. torch runs
with ``torch.set_num_threads(cores)`` and with one thread; the speed-up uses the
faster of the two, so a thread setting that suits this machine badly cannot
inflate it (both rows are reported). Without torch (or with
``JTSGEN_BENCH_NO_TORCH=1``) reference rows read "skipped: torch not installed"
and speed-ups are null. The FLOP-utilisation line is derived in :mod:`benchmarks.flops`.

Summary names written: ``speedup_seed_config``, ``speedup_batch256``,
``speedup_fused_seed_config``, ``speedup_packed_seed_config``,
``speedup_packed_batch256``, ``speedup_cgats_stage2``, ``speedup_rcgan_critic``,
``best_unroll_seed_config``, ``best_unroll_batch256``, ``flop_utilisation``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks import flops, harness, reference
from jtsgen.models import cgats, lstm_vae, rcgan
from jtsgen.runtime import reexec_with_host_tunables
from jtsgen.train import (
    PackedLayout,
    create_state,
    make_fused_steps,
    make_packed_train_step,
    make_train_step,
    sample_rows,
)

SKIPPED = "skipped: torch not installed"
COLUMNS = ["benchmark", "impl", "variant", "batch", "seq_len", "ms_per_step", "compile_s", "n",
           "spread", "speedup", "status"]


def torch_enabled() -> bool:
    """torch is importable and not switched off with ``JTSGEN_BENCH_NO_TORCH=1``."""
    if os.environ.get("JTSGEN_BENCH_NO_TORCH", "") not in ("", "0"):
        return False
    return reference.torch_available()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


@dataclasses.dataclass(frozen=True)
class Profile:
    vae_seq_len: int
    vae_hidden: int
    vae_latent: int
    batches: tuple[int, ...]  # (seed config, large); tiny times only the first
    unrolls: tuple[int, ...]
    fused_k: int
    gen_seq_len: int
    gen_batch: int
    gen_unrolls: tuple[int, ...]
    flops_short: tuple[int, int]
    timing: dict
    torch_timing: dict


PROFILES = {
    "full": Profile(100, 32, 4, (16, 256), (1, 2, 4, 8), 20, 240, 64, (1, 2), (4, 8),
                    dict(min_repeats=5, max_repeats=100, min_time_s=1.0, max_time_s=15.0),
                    dict(min_repeats=5, max_repeats=30, min_time_s=1.0, max_time_s=30.0)),
    "tiny": Profile(4, 8, 2, (4,), (1,), 2, 8, 8, (1,), (2, 4),
                    dict(min_repeats=2, max_repeats=3, min_time_s=0.0, max_time_s=0.2),
                    dict(min_repeats=2, max_repeats=3, min_time_s=0.0, max_time_s=0.5)),
}


def time_jax(step: Callable, state: Any, args: tuple, timing: dict, per_call: int = 1) -> dict:
    """Compiles ``step(state, *args)`` (state donated), then times it; times are per step."""
    lowered = step.lower(state, *args)
    start = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - start
    box = [state]

    def run():
        box[0], metrics = compiled(box[0], *args)
        jax.block_until_ready(metrics)

    res = harness.time_fn(run, **timing)
    return {"ms_per_step": res["median_s"] * 1e3 / per_call, "compile_s": compile_s,
            "n": res["n"], "spread": res["spread"], "status": "ok"}


def time_torch(make_step: Callable[[], Callable], timing: dict) -> list[dict]:
    """Reference rows at ``torch.set_num_threads(cores)`` and at one thread."""
    import torch

    rows = []
    for threads in sorted({usable_cores(), 1}, reverse=True):
        torch.set_num_threads(threads)
        step = make_step()
        res = harness.time_fn(step, **timing)
        rows.append({"ms_per_step": res["median_s"] * 1e3, "n": res["n"],
                     "spread": res["spread"], "threads": threads, "status": "ok",
                     "variant": f"torch {torch.__version__}, {threads} thread(s)"})
    return rows


def skipped_row(**fields) -> dict:
    return {"impl": "torch", "variant": "reference", "ms_per_step": None,
            "status": SKIPPED, **fields}


def reference_ms(rows: list[dict]) -> float | None:
    """Fastest successful torch time among ``rows``."""
    times = [r["ms_per_step"] for r in rows if r["impl"] == "torch" and r["status"] == "ok"]
    return min(times) if times else None


def ratio(ref_ms: float | None, ms: float | None) -> float | None:
    return ref_ms / ms if ref_ms and ms else None


def lstm_vae_rows(p: Profile, batch: int, use_torch: bool) -> tuple[list[dict], dict]:
    """Rows for one batch size; returns (rows, facts) with best unroll and times."""
    base = dict(benchmark="lstm_vae", batch=batch, seq_len=p.vae_seq_len)
    x = jax.random.normal(jax.random.key(1), (batch, p.vae_seq_len, 1), jnp.float32)
    key = jax.random.key(2)
    rows = []
    for unroll in p.unrolls:
        cfg = lstm_vae.LSTMVAEConfig(seq_len=p.vae_seq_len, hidden=p.vae_hidden,
                                     latent=p.vae_latent, unroll=unroll)
        state = create_state(lstm_vae.init_params(jax.random.key(0), cfg), optax.adam(1e-3))
        step = make_train_step(lstm_vae.make_loss_fn(cfg))
        res = time_jax(step, state, (x, key), p.timing)
        rows.append({**base, "impl": "jax", "variant": f"step, unroll={unroll}", **res,
                     "unroll": unroll})
    best = min(rows, key=lambda r: r["ms_per_step"])
    cfg = lstm_vae.LSTMVAEConfig(seq_len=p.vae_seq_len, hidden=p.vae_hidden,
                                 latent=p.vae_latent, unroll=best["unroll"])
    state = create_state(lstm_vae.init_params(jax.random.key(0), cfg), optax.adam(1e-3))
    layout = PackedLayout.of(state)
    packed = make_packed_train_step(lstm_vae.make_loss_fn(cfg), layout)
    res = time_jax(packed, layout.pack(state), (x, key), p.timing)
    packed_row = {**base, "impl": "jax", "variant": "step, state packed in one buffer per "
                  f"dtype, unroll={best['unroll']}", **res}
    rows.append(packed_row)
    fused = make_fused_steps(lstm_vae.make_loss_fn(cfg), sample_rows(batch), p.fused_k)
    res = time_jax(fused, state, (x, key), p.timing, per_call=p.fused_k)
    fused_row = {**base, "impl": "jax", "variant": f"{p.fused_k} steps fused in one scan, "
                 f"unroll={best['unroll']}", **res}
    rows.append(fused_row)
    if use_torch:
        from benchmarks.reference.lstm_vae import make_lstm_vae_step

        rows += [{**base, "impl": "torch", **r} for r in time_torch(
            lambda: make_lstm_vae_step(batch, p.vae_seq_len, p.vae_hidden, p.vae_latent),
            p.torch_timing)]
    else:
        rows.append(skipped_row(**base))
    ref = reference_ms(rows)
    for row in (best, packed_row, fused_row):
        row["speedup"] = ratio(ref, row["ms_per_step"])
    single = min(best, packed_row, key=lambda r: r["ms_per_step"])  # one step per call
    facts = {"best_unroll": best["unroll"], "best_ms": single["ms_per_step"],
             "speedup": single["speedup"], "speedup_fused": fused_row["speedup"],
             "speedup_packed": packed_row["speedup"], "cfg": cfg}
    return rows, facts


def _sines(batch: int, seq_len: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sines with 2% point anomalies: x [B, T, 1], y [B, T] (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(seq_len, dtype=np.float32)[None, :, None]
    eta, theta = rng.uniform(0, 1, (batch, 1, 1)), rng.uniform(-np.pi, np.pi, (batch, 1, 1))
    x = np.sin(2 * np.pi * eta * t / seq_len + theta)
    y = (rng.uniform(size=(batch, seq_len)) < 0.02).astype(np.float32)
    x = x + y[..., None] * rng.choice([-1.0, 1.0], (batch, seq_len, 1)) * 1.5
    return x.astype(np.float32), y


def cgats_rows(p: Profile, use_torch: bool) -> list[dict]:
    """C-GATS stage 2 step (the reference's architecture: 32/64 units, latent 16, head 64)."""
    base = dict(benchmark="cgats_stage2", batch=p.gen_batch, seq_len=p.gen_seq_len)
    x, y = (jnp.asarray(a) for a in _sines(p.gen_batch, p.gen_seq_len))
    key = jax.random.key(3)
    rows = []
    for unroll in p.gen_unrolls:
        cfg = cgats.CGATSConfig(seq_len=p.gen_seq_len, channels=1, hidden=(32, 64), latent=16,
                                head_hidden=64, batch_size=p.gen_batch, unroll=unroll)
        enc, _, dec2 = cgats._nets(cfg)
        x0 = jnp.zeros((1, cfg.seq_len, 1))
        enc_params = enc.init(jax.random.key(0), x0)["params"]
        dec_params = dec2.init(jax.random.key(1), jnp.zeros((1, cfg.latent)), x0,
                               jnp.zeros((1, cfg.seq_len)))["params"]
        state = create_state(dec_params, optax.adam(cfg.learning_rate))
        step = make_train_step(cgats.stage2_loss_fn(cfg))
        res = time_jax(step, state, ((x, y, enc_params), key), p.timing)
        rows.append({**base, "impl": "jax", "variant": f"step, unroll={unroll}", **res})
    if use_torch:
        from benchmarks.reference.cgats import make_cgats_stage2_step

        rows += [{**base, "impl": "torch", **r} for r in time_torch(
            lambda: make_cgats_stage2_step(p.gen_batch, p.gen_seq_len), p.torch_timing)]
    else:
        rows.append(skipped_row(**base))
    _mark_best(rows)
    return rows


def rcgan_rows(p: Profile, use_torch: bool) -> list[dict]:
    """One RCGAN critic update (LSTM 64, pac 4, WGAN-GP), same architecture as the reference."""
    base = dict(benchmark="rcgan_critic", batch=p.gen_batch, seq_len=p.gen_seq_len)
    x, y = _sines(p.gen_batch, p.gen_seq_len, seed=1)
    batch = (jnp.asarray(np.random.default_rng(2).standard_normal(x.shape, np.float32)),
             jnp.asarray(y))
    rows = []
    for unroll in p.gen_unrolls:
        cfg = rcgan.RCGANConfig(seq_len=p.gen_seq_len, channels=1, noise_dim=8, hidden=64,
                                pac=4, unroll=unroll)
        state = rcgan.init_state(jax.random.key(0), cfg)
        step = rcgan.compile_steps(cfg).critic_step
        res = time_jax(step, state, (batch, jax.random.key(4)), p.timing)
        rows.append({**base, "impl": "jax", "variant": f"critic step, unroll={unroll}", **res})
    if use_torch:
        from benchmarks.reference.rcgan import make_rcgan_critic_step

        rows += [{**base, "impl": "torch", **r} for r in time_torch(
            lambda: make_rcgan_critic_step(p.gen_batch, p.gen_seq_len, pac=4), p.torch_timing)]
    else:
        rows.append(skipped_row(**base))
    _mark_best(rows)
    return rows


def _mark_best(rows: list[dict]) -> None:
    jax_rows = [r for r in rows if r["impl"] == "jax"]
    best = min(jax_rows, key=lambda r: r["ms_per_step"])
    best["speedup"] = ratio(reference_ms(rows), best["ms_per_step"])


def print_summary(summary: dict) -> None:
    """One line per headline number; null (no reference) prints as n/a."""
    print("\nsummary:")
    for name, value in summary.items():
        text = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else value)
        print(f"  {name} = {text}")


def best_speedup(rows: list[dict]) -> float | None:
    values = [r["speedup"] for r in rows if r.get("speedup") is not None]
    return max(values) if values else None


def main(argv: list[str] | None = None) -> dict:
    args = harness.base_argparser("train_step").parse_args(argv)
    p = PROFILES[args.profile]
    use_torch = torch_enabled()
    rows = []
    summary: dict[str, Any] = {"speedup_batch256": None, "best_unroll_batch256": None,
                               "speedup_packed_batch256": None}
    for label, batch in zip(("seed_config", "batch256"), p.batches, strict=False):
        r, facts = lstm_vae_rows(p, batch, use_torch)
        rows += r
        summary[f"speedup_{label}"] = facts["speedup"]
        summary[f"best_unroll_{label}"] = facts["best_unroll"]
        summary[f"speedup_packed_{label}"] = facts["speedup_packed"]
        if label == "seed_config":
            summary["speedup_fused_seed_config"] = facts["speedup_fused"]
            seed_facts = facts
    for builder, name in ((cgats_rows, "speedup_cgats_stage2"),
                          (rcgan_rows, "speedup_rcgan_critic")):
        r = builder(p, use_torch)
        rows += r
        summary[name] = best_speedup(r)

    peak = flops.peak_flops()
    fl = flops.lstm_vae_step_flops(seed_facts["cfg"], p.batches[0], p.flops_short)
    util = flops.utilisation(fl["flops"], seed_facts["best_ms"] / 1e3, peak["peak_flops_per_s"])
    summary["flop_utilisation"] = util
    harness.print_table(rows, COLUMNS)
    gflops = fl["flops"] / seed_facts["best_ms"] * 1e-6
    print(f"\nFLOP utilisation (LSTM-VAE step, batch {p.batches[0]}):\n  peak  {peak['derivation']}"
          f"\n  model {fl['derivation']}\n  achieved {gflops:.2f} GFLOP/s at "
          f"{seed_facts['best_ms']:.3f} ms/step -> "
          + (f"{util:.2%} of peak" if util is not None else "n/a"))
    print_summary(summary)
    config = {"profile": args.profile, "sizes": dataclasses.asdict(p),
              "torch": "enabled" if use_torch else SKIPPED,
              "torch_threads": f"set_num_threads({usable_cores()}) and 1; speed-ups use the faster",
              "peak": peak, "model_flops": fl, "lstm_vae_best_config": seed_facts["cfg"],
              "load_average": os.getloadavg()}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    reexec_with_host_tunables()
    main(sys.argv[1:])
