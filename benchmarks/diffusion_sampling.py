"""DDPM sampling speed: one ``lax.scan`` reverse chain against the seed's Python loop.

``python -m benchmarks.diffusion_sampling [--profile tiny|full] [--out FILE]``

The model is seed 000's MLP denoiser (length 100, hidden 32, linear beta
schedule) with untrained weights: sampling cost does not depend on the weights.
For 50 and 1000 diffusion steps and batch 16 and 1024, one full reverse chain
(noise to series) is timed:

* jax: :func:`jtsgen.models.ddpm.sample` — all steps in one ``lax.scan`` inside
  one jit, each step's noise drawn in the scan body from a counter-based hash
  (:mod:`jtsgen.nn.noise`; threefry bits cost more than the denoiser on CPU);
  compilation is timed separately;
* torch: :func:`benchmarks.reference.ddpm.make_ddpm_sampler` — the seed's
  ``for t in reversed(range(T))`` loop, at ``torch.set_num_threads(cores)`` and
  at one thread (the speed-up uses the faster; both rows are reported).

jax and torch are timed in interleaved rounds and the speed-up is the median of
per-round ratios, as in :mod:`benchmarks.train_step`.

``tiny`` runs 5 and 10 steps at batch 4 on length 16 (for tests); its summary
keys keep the ``_50`` / ``_1000`` names for the first and second step count.
Without torch (or with ``JTSGEN_BENCH_NO_TORCH=1``) reference rows read
"skipped: torch not installed" and speed-ups are null.

Summary names written: ``speedup_sampling_50`` (50 steps, batch 16: the seed's
setting), ``speedup_sampling_1000`` (1000 steps, batch 16),
``speedup_sampling_50_b1024``, ``speedup_sampling_1000_b1024``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Any

import jax

from benchmarks import harness, reference
from benchmarks.train_step import (
    SKIPPED,
    measure,
    print_summary,
    torch_enabled,
)
from jtsgen.models import ddpm
from jtsgen.runtime import reexec_with_host_tunables, usable_cores

COLUMNS = ["benchmark", "impl", "variant", "steps", "batch", "ms_per_chain", "compile_s", "n",
           "rounds", "spread", "speedup", "speedup_spread", "status"]


@dataclasses.dataclass(frozen=True)
class Profile:
    steps: tuple[int, int]
    batches: tuple[int, ...]
    seq_len: int
    hidden: int
    interleave: dict  # keyword arguments of harness.time_interleaved


PROFILES = {
    "full": Profile((50, 1000), (16, 1024), 100, 32, dict(harness.FULL_INTERLEAVE)),
    "tiny": Profile((5, 10), (4,), 16, 8, dict(rounds=2, min_round_s=0.0, min_calls=1)),
}


def jax_variant(cfg: ddpm.DDPMConfig, batch: int) -> dict[str, Any]:
    """The compiled reverse chain as a variant for :func:`benchmarks.train_step.measure`."""
    params = ddpm.init_params(jax.random.key(0), cfg)
    chain = jax.jit(lambda p, k: ddpm.sample(p, k, batch, cfg))
    key = jax.random.key(1)
    start = time.perf_counter()
    compiled = chain.lower(params, key).compile()
    compile_s = time.perf_counter() - start
    return {"variant": "lax.scan reverse chain, one jit", "compile_s": compile_s, "per_call": 1,
            "run": lambda: jax.block_until_ready(compiled(params, key))}


def case_rows(p: Profile, steps: int, batch: int, use_torch: bool) -> list[dict]:
    """One jax row and the reference rows, timed interleaved; times are per whole chain."""
    base = {"benchmark": "ddpm_sampling", "steps": steps, "batch": batch}
    cfg = ddpm.DDPMConfig(seq_len=p.seq_len, num_timesteps=steps, hidden=p.hidden)
    make_torch = None
    if use_torch:
        from benchmarks.reference.ddpm import make_ddpm_sampler

        def make_torch():
            return make_ddpm_sampler(batch, p.seq_len, p.hidden, steps)
    rows = measure([jax_variant(cfg, batch)], make_torch, base, p.interleave)
    for row in rows:
        row["ms_per_chain"] = row.pop("ms_per_step")
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = harness.interleaved_argparser("diffusion_sampling").parse_args(argv)
    p = harness.profile_with_max_rounds(PROFILES[args.profile], args.max_rounds)
    use_torch = torch_enabled()
    rows: list[dict] = []
    summary: dict[str, Any] = {}
    for steps, name in zip(p.steps, ("50", "1000"), strict=True):
        for batch, suffix in zip(p.batches, ("", "_b1024"), strict=False):
            case = case_rows(p, steps, batch, use_torch)
            rows += case
            summary[f"speedup_sampling_{name}{suffix}"] = case[0]["speedup"]
    for name in ("50", "1000"):
        summary.setdefault(f"speedup_sampling_{name}_b1024", None)
    harness.print_table(rows, COLUMNS)
    print_summary(summary)
    config = {"profile": args.profile, "sizes": dataclasses.asdict(p), "denoiser": "mlp (seed 000)",
              "torch": "enabled" if use_torch else SKIPPED,
              "torch_threads": f"set_num_threads({usable_cores()}) and 1; speed-ups use the faster",
              "torch_device": (reference.torch_device() or "cpu") if use_torch else None}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    reexec_with_host_tunables()
    main(sys.argv[1:])
