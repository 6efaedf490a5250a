"""Train-step speed: jtsgen (JAX) against the PyTorch references, in one process.

``python -m benchmarks.train_step [--profile tiny|full] [--out FILE]``

Rows (``full`` sizes; ``tiny`` shrinks them to seconds for tests, times one
LSTM-VAE batch size only and leaves the batch-256 entries null):

* LSTM-VAE of seed 000 at the seed's config (batch 16, length 100, hidden 32,
  latent 4) and at batch 256: our jitted step for scan unroll 1, 2, 4, 8 (the
  packed and fused rows use the one that wins a short interleaved pre-run), the
  same step on a state packed into one buffer per dtype
  (:func:`benchmarks.step_variants.make_packed_train_step`; the single-call speed-up uses
  the faster of the two), the same step with ``k`` steps fused in one ``lax.scan``
  (:func:`jtsgen.train.make_fused_steps`, time per step), the step split over
  all CPU devices (at batch 256 with 1, 2 and 4 microbatches per device)
  (:func:`benchmarks.step_variants.make_data_parallel_step`) and ``k`` such steps fused
  (:func:`jtsgen.train.make_data_parallel_fused_steps`; the command line asks XLA for
  one CPU device per core, as ``benchmarks.ensemble`` does, so the step can use
  both cores as torch's threads do), and the seed's PyTorch step
  (:mod:`benchmarks.reference.lstm_vae`);
* C-GATS stage 2 (frozen encoder, decoder trained; batch 64, length 240) with the
  encoder run on every batch (the reference's work) and on the posterior that
  ``cgats.fit`` computes once before stage 2 (``work="cached posterior"``: less
  work than the reference, its ratio is reported separately), and the RCGAN
  critic update (WGAN-GP with pac 4; batch 64, length 240; also split over all
  devices as ``jtsgen.train.fit(step=rcgan.make_step(...), mesh=)`` trains), each
  against its reference, at scan unroll 1, 2 and 8 (8 is the GPU's best).

Timing: compilation is timed separately (``lower().compile()``). The steady
state of every variant of a benchmark and of its torch reference is timed in
interleaved rounds (:func:`benchmarks.harness.time_interleaved`): each round
times each in turn, so a slow minute of the shared machine slows all of them. A
row's ``speedup`` is the median over rounds of (fastest torch thread setting in
that round) / (the row in that round), with ``speedup_spread`` the IQR / median
of those per-round ratios (:func:`benchmarks.harness.paired_ratio`). A ``full``
run takes 10 rounds and adds rounds, up to 30, until every row's median ratio is
known to within ±10 % (``speedup_uncertainty``, the 95 % confidence half-width
:func:`benchmarks.harness.median_uncertainty`, at most 0.1; ``harness.FULL_INTERLEAVE``;
rows record ``rounds`` and ``converged``). torch runs with
``torch.set_num_threads(cores)`` and with one thread (both rows are reported),
so a thread setting that suits this machine badly cannot inflate the ratio.
Without torch (or with ``JTSGEN_BENCH_NO_TORCH=1``) reference rows read
"skipped: torch not installed" and speed-ups are null. The FLOP-utilisation line
is derived in :mod:`benchmarks.flops`.

For ``X`` in ``seed_config`` and ``batch256``: ``speedup_X`` is the faster of
``speedup_one_device_X`` (best one-device single-call row) and
``speedup_data_parallel_X`` (best single-call data-parallel row; null on one
device); ``speedup_fused_seed_config`` is the faster of
``speedup_fused_one_device_seed_config`` and
``speedup_fused_data_parallel_seed_config``.

Summary names written: ``speedup_seed_config``, ``speedup_batch256``,
``speedup_one_device_X``, ``speedup_data_parallel_X``,
``speedup_fused_data_parallel_X``, ``speedup_fused_one_device_seed_config``,
``speedup_fused_seed_config``, ``speedup_packed_seed_config``,
``speedup_packed_batch256``, ``speedup_cgats_stage2``, ``speedup_cgats_stage2_cached``,
``speedup_rcgan_critic`` (the faster of ``speedup_rcgan_critic_one_device`` and
``speedup_rcgan_critic_data_parallel``, the critic update split over all devices),
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
from benchmarks.step_variants import PackedLayout, make_data_parallel_step, make_packed_train_step
from jtsgen.models import cgats, lstm_vae, rcgan
from jtsgen.models.cgats_labels import occlude
from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables, usable_cores
from jtsgen.train import (
    create_state,
    data_mesh,
    jit_over_data,
    make_data_parallel_fused_steps,
    make_fused_steps,
    make_train_step,
    replicate,
    sample_rows,
    shard_batch,
)

SKIPPED = "skipped: torch not installed"
COLUMNS = ["benchmark", "impl", "variant", "batch", "seq_len", "ms_per_step", "compile_s", "n",
           "rounds", "spread", "speedup", "speedup_spread", "status"]


def torch_enabled() -> bool:
    """torch is importable and not switched off with ``JTSGEN_BENCH_NO_TORCH=1``."""
    if os.environ.get("JTSGEN_BENCH_NO_TORCH", "") not in ("", "0"):
        return False
    return reference.torch_available()


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
    interleave: dict  # keyword arguments of harness.time_interleaved
    # microbatches per device of the data-parallel rows (large batch, > 1 device)
    data_parallel_microbatches: tuple[int, ...] = (1, 2, 4)


PROFILES = {
    "full": Profile(100, 32, 4, (16, 256), (1, 2, 4, 8), 20, 240, 64, (1, 2, 8), (4, 8),
                    dict(harness.FULL_INTERLEAVE)),
    "tiny": Profile(4, 8, 2, (4,), (1,), 2, 8, 8, (1,), (2, 4),
                    dict(rounds=2, min_round_s=0.0, min_calls=1)),
}


def compile_jax(step: Callable, state: Any, args: tuple) -> tuple[Callable[[], None], float]:
    """Compiles ``step(state, *args)`` (state donated); returns a blocking runner and the
    compile seconds. The runner threads the returned state into the next call."""
    lowered = step.lower(state, *args)
    start = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - start
    box = [state]

    def run():
        box[0], metrics = compiled(box[0], *args)
        jax.block_until_ready(metrics)

    return run, compile_s


def torch_runners(make_step: Callable[[], Callable]) -> dict[int, Callable[[], Any]]:
    """Reference steps at ``torch.set_num_threads(cores)`` and at one thread; each runner
    sets its thread count before every call, so they can be interleaved."""
    import torch

    device = reference.torch_device()
    runners = {}
    for threads in sorted({usable_cores(), 1}, reverse=True):
        torch.set_num_threads(threads)
        step = reference.on_device(make_step, device)

        def run(step=step, threads=threads):
            torch.set_num_threads(threads)
            return step()

        runners[threads] = run
    return runners


def measure(jax_variants: list[dict], make_torch_step: Callable[[], Callable] | None,
            base: dict, interleave: dict) -> list[dict]:
    """Times the jax variants and the torch reference in interleaved rounds.

    Args:
      jax_variants: dicts with ``variant``, ``run`` (from :func:`compile_jax`),
        ``compile_s``, ``per_call`` (steps per call) and any extra row fields.
      make_torch_step: builds the reference step, or None when torch is off.
      base: fields shared by every row (benchmark, batch, seq_len).
      interleave: keyword arguments of :func:`benchmarks.harness.time_interleaved`.

    Returns:
      rows (times per step); each jax row's ``speedup`` is the median over rounds
      of (fastest torch thread setting in that round) / (this row in that round).
    """
    fns = {f"jax:{i}": v["run"] for i, v in enumerate(jax_variants)}
    torch_fns = torch_runners(make_torch_step) if make_torch_step is not None else {}
    fns.update({f"torch:{threads}": fn for threads, fn in torch_fns.items()})
    spread_of = harness.paired_spread_of([f"torch:{threads}" for threads in torch_fns],
                                         [f"jax:{i}" for i in range(len(jax_variants))])
    res = harness.time_interleaved(fns, spread_of=spread_of, **interleave)
    ref_rounds = [res[f"torch:{threads}"]["round_median_s"] for threads in torch_fns]
    rows = []
    for i, v in enumerate(jax_variants):
        r, k = res[f"jax:{i}"], v["per_call"]
        extra = {key: val for key, val in v.items() if key not in ("run", "per_call")}
        row = {**base, "impl": "jax", **extra, "ms_per_step": r["median_s"] * 1e3 / k,
               "n": r["n"], "spread": r["spread"], "rounds": r["rounds"],
               "converged": r["converged"], "status": "ok", "speedup": None,
               "speedup_spread": None, "speedup_uncertainty": None}
        if ref_rounds:
            paired = harness.paired_ratio(ref_rounds, [t / k for t in r["round_median_s"]])
            row["speedup"], row["speedup_spread"] = paired["ratio"], paired["spread"]
            row["speedup_uncertainty"] = paired["uncertainty"]
        rows.append(row)
    if make_torch_step is None:
        rows.append(skipped_row(**base))
    version = _torch_version() if torch_fns else None
    device = reference.torch_device() if torch_fns else None
    if device:
        version = f"{version} on {device}"
    for threads in torch_fns:
        r = res[f"torch:{threads}"]
        rows.append({**base, "impl": "torch", "ms_per_step": r["median_s"] * 1e3, "n": r["n"],
                     "spread": r["spread"], "rounds": r["rounds"], "threads": threads,
                     "status": "ok", "variant": f"torch {version}, {threads} thread(s)"})
    return rows


def _torch_version() -> str:
    import torch

    return torch.__version__


def skipped_row(**fields) -> dict:
    return {"impl": "torch", "variant": "reference", "ms_per_step": None,
            "status": SKIPPED, **fields}


def lstm_vae_rows(p: Profile, batch: int, use_torch: bool) -> tuple[list[dict], dict]:
    """Rows for one batch size; returns (rows, facts) with best unroll and times."""
    base = dict(benchmark="lstm_vae", batch=batch, seq_len=p.vae_seq_len)
    x = jax.random.normal(jax.random.key(1), (batch, p.vae_seq_len, 1), jnp.float32)
    key = jax.random.key(2)

    def config(unroll: int) -> lstm_vae.LSTMVAEConfig:
        return lstm_vae.LSTMVAEConfig(seq_len=p.vae_seq_len, hidden=p.vae_hidden,
                                      latent=p.vae_latent, unroll=unroll)

    def fresh_state(cfg):
        return create_state(lstm_vae.init_params(jax.random.key(0), cfg), optax.adam(1e-3))

    variants = []
    for unroll in p.unrolls:
        cfg = config(unroll)
        run, compile_s = compile_jax(make_train_step(lstm_vae.make_loss_fn(cfg)),
                                     fresh_state(cfg), (x, key))
        variants.append({"variant": f"step, unroll={unroll}", "run": run, "per_call": 1,
                         "compile_s": compile_s, "unroll": unroll})
    # The packed and fused variants use the unroll that won a short interleaved pre-run.
    quick = harness.time_interleaved({v["unroll"]: v["run"] for v in variants},
                                     **{**p.interleave, "rounds": min(2, p.interleave["rounds"]),
                                        "max_rounds": None, "target_uncertainty": None})
    cfg = config(min(quick, key=lambda u: quick[u]["median_s"]))
    state = fresh_state(cfg)
    layout = PackedLayout.of(state)
    run, compile_s = compile_jax(make_packed_train_step(lstm_vae.make_loss_fn(cfg), layout),
                                 layout.pack(state), (x, key))
    variants.append({"variant": "step, state packed in one buffer per dtype, "
                     f"unroll={cfg.unroll}", "run": run, "per_call": 1, "compile_s": compile_s})
    run, compile_s = compile_jax(
        make_fused_steps(lstm_vae.make_loss_fn(cfg), sample_rows(batch), p.fused_k),
        fresh_state(cfg), (x, key))
    variants.append({"variant": f"{p.fused_k} steps fused in one scan, unroll={cfg.unroll}",
                     "run": run, "per_call": p.fused_k, "compile_s": compile_s})
    seed_config = batch == p.batches[0]
    variants += data_parallel_variants(
        p, cfg, lambda: fresh_state(cfg), x, key,
        micro_counts=(1,) if seed_config else p.data_parallel_microbatches,
        fused_micro=1 if seed_config else 2)
    make_torch = None
    if use_torch:
        from benchmarks.reference.lstm_vae import make_lstm_vae_step

        def make_torch():
            return make_lstm_vae_step(batch, p.vae_seq_len, p.vae_hidden, p.vae_latent)
    rows = measure(variants, make_torch, base, p.interleave)
    n_unroll = len(p.unrolls)
    best = min(rows[:n_unroll], key=lambda r: r["ms_per_step"])
    packed_row, fused_row = rows[n_unroll], rows[n_unroll + 1]
    single = min(best, packed_row, key=lambda r: r["ms_per_step"])  # one step, one device
    split = [r for r in rows if r["impl"] == "jax" and r.get("devices", 1) > 1]
    parallel = [r for r in split if r["steps_per_call"] == 1]
    best_parallel = min(parallel, key=lambda r: r["ms_per_step"]) if parallel else None
    fused_parallel = [r for r in split if r["steps_per_call"] > 1]
    _keep_best_speedup(rows[:n_unroll])
    if parallel:
        _keep_best_speedup(parallel)
    facts = {"best_unroll": best["unroll"], "best_ms": single["ms_per_step"],
             "speedup": single["speedup"], "speedup_fused": fused_row["speedup"],
             "speedup_packed": packed_row["speedup"], "cfg": config(best["unroll"]),
             "speedup_data_parallel": best_parallel and best_parallel["speedup"],
             "speedup_fused_data_parallel": fused_parallel[0]["speedup"] if fused_parallel
             else None}
    return rows, facts


def data_parallel_variants(p: Profile, cfg: lstm_vae.LSTMVAEConfig,
                           make_state: Callable[[], Any], x: jax.Array, key: jax.Array, *,
                           micro_counts: tuple[int, ...], fused_micro: int) -> list[dict]:
    """The step split over all devices (:func:`benchmarks.step_variants.make_data_parallel_step`),
    one variant per count in ``micro_counts`` that divides the batch, then ``p.fused_k`` such
    steps fused with ``fused_micro`` microbatches (each variant with its own state, as
    steps donate it); none on a single device."""
    n_dev = jax.device_count()
    if n_dev == 1:
        return []
    mesh = data_mesh()
    x = shard_batch(x, mesh)
    variants = []
    for micro in micro_counts:
        if x.shape[0] % (n_dev * micro):
            continue
        run, compile_s = compile_jax(
            make_data_parallel_step(lstm_vae.make_loss_fn(cfg), mesh, microbatches=micro),
            replicate(make_state(), mesh), (x, key))
        variants.append({"variant": f"data parallel over {n_dev} CPU devices, {micro} "
                         f"microbatch(es) of {x.shape[0] // n_dev // micro} rows per device, "
                         f"unroll={cfg.unroll}", "run": run, "per_call": 1,
                         "compile_s": compile_s, "devices": n_dev, "microbatches": micro,
                         "steps_per_call": 1})
    micro, rows = fused_micro, x.shape[0] // n_dev
    if rows % micro == 0:
        run, compile_s = compile_jax(
            make_data_parallel_fused_steps(lstm_vae.make_loss_fn(cfg), sample_rows(rows),
                                           p.fused_k, mesh, microbatches=micro),
            replicate(make_state(), mesh), (x, key))
        variants.append({"variant": f"{p.fused_k} data-parallel steps fused in one scan, "
                         f"{micro} microbatch(es) per device, unroll={cfg.unroll}",
                         "run": run, "per_call": p.fused_k, "compile_s": compile_s,
                         "devices": n_dev, "microbatches": micro, "steps_per_call": p.fused_k})
    return variants


def _sines(batch: int, seq_len: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Sines with 2% point anomalies: x [B, T, 1], y [B, T] (float32)."""
    rng = np.random.default_rng(seed)
    t = np.arange(seq_len, dtype=np.float32)[None, :, None]
    eta, theta = rng.uniform(0, 1, (batch, 1, 1)), rng.uniform(-np.pi, np.pi, (batch, 1, 1))
    x = np.sin(2 * np.pi * eta * t / seq_len + theta)
    y = (rng.uniform(size=(batch, seq_len)) < 0.02).astype(np.float32)
    x = x + y[..., None] * rng.choice([-1.0, 1.0], (batch, seq_len, 1)) * 1.5
    return x.astype(np.float32), y


def _encoding_stage2_loss(cfg: cgats.CGATSConfig):
    """Stage-2 loss as the reference computes it: the frozen encoder encodes every
    batch, ``(params, (x, y, enc_params), key)``; ``cgats.fit`` instead encodes the
    training windows once (:func:`jtsgen.models.cgats.posterior`)."""
    enc, _, _ = cgats._nets(cfg)
    loss_fn = cgats.stage2_loss_fn(cfg)

    def encoding_loss(params, batch, key):
        x, y, enc_params = batch
        post = enc.apply({"params": jax.lax.stop_gradient(enc_params)}, occlude(x, y))
        return loss_fn(params, (x, y, post), key)

    return encoding_loss


def cgats_rows(p: Profile, use_torch: bool) -> list[dict]:
    """C-GATS stage 2 step (the reference's architecture: 32/64 units, latent 16, head 64):
    with the frozen encoder in the step (the reference's work) and on the cached
    posterior (how ``cgats.fit`` trains; ``work`` says which)."""
    base = dict(benchmark="cgats_stage2", batch=p.gen_batch, seq_len=p.gen_seq_len)
    x, y = (jnp.asarray(a) for a in _sines(p.gen_batch, p.gen_seq_len))
    key = jax.random.key(3)
    variants = []
    for unroll in p.gen_unrolls:
        # zero initial LSTM states, as the torch reference (state_from_z adds one small
        # Dense from z; not timed)
        cfg = cgats.CGATSConfig(seq_len=p.gen_seq_len, channels=1, hidden=(32, 64), latent=16,
                                head_hidden=64, batch_size=p.gen_batch, unroll=unroll,
                                state_from_z=False)
        enc, _, _ = cgats._nets(cfg)
        x0 = jnp.zeros((1, cfg.seq_len, 1))
        enc_params = enc.init(jax.random.key(0), x0)["params"]
        post = cgats.posterior(cfg, enc_params, x, y)
        for work, loss_fn, data in (
                ("as reference", _encoding_stage2_loss(cfg), (x, y, enc_params)),
                ("cached posterior", cgats.stage2_loss_fn(cfg), (x, y, post))):
            dec_params = cgats.init_decoder_params(cfg, jax.random.key(1))
            state = create_state(dec_params, optax.adam(cfg.learning_rate))
            run, compile_s = compile_jax(make_train_step(loss_fn), state, (data, key))
            variants.append({"variant": f"step, {work}, unroll={unroll}", "work": work,
                             "run": run, "per_call": 1, "compile_s": compile_s})
    make_torch = None
    if use_torch:
        from benchmarks.reference.cgats import make_cgats_stage2_step

        def make_torch():
            return make_cgats_stage2_step(p.gen_batch, p.gen_seq_len)
    rows = measure(variants, make_torch, base, p.interleave)
    for work in ("as reference", "cached posterior"):
        _keep_best_speedup([r for r in rows if r.get("work") == work])
    return rows


def rcgan_rows(p: Profile, use_torch: bool) -> list[dict]:
    """One RCGAN critic update (LSTM 64, pac 4, WGAN-GP), same architecture as the reference."""
    base = dict(benchmark="rcgan_critic", batch=p.gen_batch, seq_len=p.gen_seq_len)
    x, y = _sines(p.gen_batch, p.gen_seq_len, seed=1)
    batch = (jnp.asarray(np.random.default_rng(2).standard_normal(x.shape, np.float32)),
             jnp.asarray(y))
    variants = []
    for unroll in p.gen_unrolls:
        cfg = rcgan.RCGANConfig(seq_len=p.gen_seq_len, channels=1, noise_dim=8, hidden=64,
                                pac=4, unroll=unroll)
        run, compile_s = compile_jax(rcgan.compile_steps(cfg).critic_step,
                                     rcgan.init_state(jax.random.key(0), cfg),
                                     (batch, jax.random.key(4)))
        variants.append({"variant": f"critic step, unroll={unroll}", "run": run, "per_call": 1,
                         "compile_s": compile_s})
    variants += rcgan_data_parallel_variants(dataclasses.replace(cfg, unroll=p.gen_unrolls[0]),
                                             batch)
    make_torch = None
    if use_torch:
        from benchmarks.reference.rcgan import make_rcgan_critic_step

        def make_torch():
            return make_rcgan_critic_step(p.gen_batch, p.gen_seq_len, pac=4)
    rows = measure(variants, make_torch, base, p.interleave)
    _keep_best_speedup([r for r in rows if not r.get("devices")])
    return rows


def rcgan_data_parallel_variants(cfg: rcgan.RCGANConfig, batch: tuple) -> list[dict]:
    """The critic update split over all devices (the step ``jtsgen.train.fit(step=...,
    mesh=)`` trains RCGAN with: each device its rows and noise, gradients averaged); none
    on one device."""
    n_dev = jax.device_count()
    groups = batch[0].shape[0] // cfg.pac
    if n_dev == 1 or groups % n_dev:
        return []
    mesh = data_mesh()
    step = rcgan.make_critic_step(cfg, "data")

    def local(state, rows, key):
        return step(state, rows, jax.random.fold_in(key, jax.lax.axis_index("data")))

    run, compile_s = compile_jax(jit_over_data(local, mesh),
                                 replicate(rcgan.init_state(jax.random.key(0), cfg), mesh),
                                 (shard_batch(batch, mesh), jax.random.key(4)))
    return [{"variant": f"critic step, data parallel over {n_dev} CPU devices "
             f"({batch[0].shape[0] // n_dev} rows each), unroll={cfg.unroll}", "run": run,
             "per_call": 1, "compile_s": compile_s, "devices": n_dev}]


def _keep_best_speedup(rows: list[dict]) -> list[dict]:
    """Only the fastest jax row keeps its speed-up (the headline for that benchmark)."""
    jax_rows = [r for r in rows if r["impl"] == "jax"]
    best = min(jax_rows, key=lambda r: r["ms_per_step"])
    for row in jax_rows:
        if row is not best:
            row["speedup"] = row["speedup_spread"] = row["speedup_uncertainty"] = None
    return rows


def print_summary(summary: dict) -> None:
    """One line per headline number; null (no reference) prints as n/a."""
    print("\nsummary:")
    for name, value in summary.items():
        text = "n/a" if value is None else (f"{value:.4g}" if isinstance(value, float) else value)
        print(f"  {name} = {text}")


def best_of(*values: float | None) -> float | None:
    """The largest of the values that are not None (None when all are)."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


def best_speedup(rows: list[dict]) -> float | None:
    values = [r["speedup"] for r in rows if r.get("speedup") is not None]
    return max(values) if values else None


def main(argv: list[str] | None = None) -> dict:
    args = harness.interleaved_argparser("train_step").parse_args(argv)
    p = harness.profile_with_max_rounds(PROFILES[args.profile], args.max_rounds)
    use_torch = torch_enabled()
    rows = []
    summary: dict[str, Any] = {"speedup_batch256": None, "speedup_one_device_batch256": None,
                               "speedup_data_parallel_batch256": None,
                               "speedup_fused_data_parallel_batch256": None,
                               "best_unroll_batch256": None,
                               "speedup_packed_batch256": None}
    for label, batch in zip(("seed_config", "batch256"), p.batches, strict=False):
        r, facts = lstm_vae_rows(p, batch, use_torch)
        rows += r
        summary[f"best_unroll_{label}"] = facts["best_unroll"]
        summary[f"speedup_packed_{label}"] = facts["speedup_packed"]
        summary[f"speedup_one_device_{label}"] = facts["speedup"]
        summary[f"speedup_data_parallel_{label}"] = facts["speedup_data_parallel"]
        summary[f"speedup_fused_data_parallel_{label}"] = facts["speedup_fused_data_parallel"]
        summary[f"speedup_{label}"] = best_of(facts["speedup"], facts["speedup_data_parallel"])
        if label == "seed_config":
            summary["speedup_fused_one_device_seed_config"] = facts["speedup_fused"]
            summary["speedup_fused_seed_config"] = best_of(
                facts["speedup_fused"], facts["speedup_fused_data_parallel"])
            seed_facts = facts
    r = cgats_rows(p, use_torch)
    rows += r
    for work, name in (("as reference", "speedup_cgats_stage2"),
                       ("cached posterior", "speedup_cgats_stage2_cached")):
        summary[name] = best_speedup([x for x in r if x.get("work") == work])
    r = rcgan_rows(p, use_torch)
    rows += r
    summary["speedup_rcgan_critic"] = best_speedup(r)
    summary["speedup_rcgan_critic_one_device"] = best_speedup(
        [x for x in r if not x.get("devices")])
    summary["speedup_rcgan_critic_data_parallel"] = best_speedup(
        [x for x in r if x.get("devices")])

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
              "torch_device": (reference.torch_device() or "cpu") if use_torch else None,
              "peak": peak, "model_flops": fl, "lstm_vae_best_config": seed_facts["cfg"]}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    emulate_cpu_devices()
    reexec_with_host_tunables()
    main(sys.argv[1:])
