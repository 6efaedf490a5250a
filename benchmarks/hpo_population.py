"""Hyper-parameter search: K forecaster candidates as one vmapped population vs one by one.

``python -m benchmarks.hpo_population [--profile tiny|full] [--out FILE] [--max-rounds N]``

K candidates of the seed-003 LSTM seq2seq (input 60, horizon 10, 3 channels, hidden
32, batch 64) that differ in learning rate, dropout and teacher forcing train on the
same windows, ``k`` steps per call:

* population: the program :func:`jtsgen.forecast.search.train_population` runs —
  ``make_ensemble_fused_steps(shared_data=False)``: one compiled call advances all K
  stacked states, each with its own ``data["hp"]`` and learning rate;
* one by one: the single-candidate fused program (what ``jtsgen.train.fit`` compiles)
  called once per candidate, one after the other.

Both are timed in interleaved rounds (:func:`benchmarks.harness.time_interleaved`);
the ratio is the median of per-round ratios. Throughput is candidate-steps per second;
``candidates_per_s`` converts it to candidates trained per second at the quick
profile's ``search_steps`` (1000) steps each.

Summary names written: ``hpo_population_speedup_k{K}`` for every K timed and
``hpo_population_speedup`` (the largest K's, the headline).
"""

from __future__ import annotations

import dataclasses
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import harness
from benchmarks.train_step import print_summary
from jtsgen.data.generators import make_hourly_multichannel
from jtsgen.forecast.data import prepare
from jtsgen.forecast.search import init_state, sample_candidates, tiled
from jtsgen.models import forecast as fm
from jtsgen.runtime import reexec_with_host_tunables
from jtsgen.train import init_replicas, make_ensemble_fused_steps, make_fused_steps

COLUMNS = ["mode", "candidates", "steps_per_call", "s_per_round", "candidate_steps_per_s",
           "candidates_per_s", "compile_s", "rounds", "spread", "speedup", "speedup_spread"]
SEARCH_STEPS = 1000  # the quick profile's steps per candidate


@dataclasses.dataclass(frozen=True)
class Profile:
    candidates: tuple[int, ...]  # the population sizes K timed
    hidden: int  # the seq2seq LSTM's width
    input_len: int  # steps in, steps forecast
    horizon: int
    batch: int  # rows per candidate and step
    steps_per_call: int  # steps fused into one call (population and one by one alike)
    interleave: dict  # keyword arguments of harness.time_interleaved


PROFILES = {
    "full": Profile((4, 8), 32, 60, 10, 64, 25, dict(harness.FULL_INTERLEAVE)),
    "tiny": Profile((2,), 8, 12, 3, 8, 2, dict(rounds=2, min_round_s=0.0, min_calls=1)),
}


def _compile(jitted, *args):
    start = time.perf_counter()
    compiled = jitted.lower(*args).compile()
    return compiled, time.perf_counter() - start


def modes(p: Profile, cfg: fm.ForecastConfig, x, y, k: int) -> list[dict]:
    cands = sample_candidates(0, k, ("lstm",), (cfg.hidden,))
    loss_fn, sampler = fm.make_loss_fn(cfg), fm.sample_windows(p.batch)
    init_key, train_key = jax.random.key(0), jax.random.key(1)
    # one by one
    single = [init_state(cfg, init_key, c["learning_rate"]) for c in cands]
    data1 = [fm.train_data(x, y, fm.hparams(c["dropout"], c["teacher_forcing"])) for c in cands]
    seq, seq_s = _compile(make_fused_steps(loss_fn, sampler, p.steps_per_call),
                          single[0], data1[0], train_key)

    def one_by_one():
        out = None
        for i in range(k):
            single[i], out = seq(single[i], data1[i], train_key)
        jax.block_until_ready(out)

    # population
    lrs = jnp.asarray([c["learning_rate"] for c in cands], jnp.float32)
    states = jax.jit(lambda lr: init_replicas(lambda r: init_state(cfg, init_key, r), lr))(lrs)
    hp = {n: jnp.asarray([c[n] for c in cands], jnp.float32)
          for n in ("dropout", "teacher_forcing")}
    data = {"x": tiled(k)(x), "y": tiled(k)(y), "hp": hp}
    keys = jnp.stack([train_key] * k)
    pop, pop_s = _compile(make_ensemble_fused_steps(loss_fn, sampler, p.steps_per_call,
                                                    shared_data=False), states, data, keys)
    box = [states]

    def population():
        box[0], out = pop(box[0], data, keys)
        jax.block_until_ready(out)

    return [{"mode": "one by one", "run": one_by_one, "compile_s": seq_s},
            {"mode": "vmapped population", "run": population, "compile_s": pop_s}]


def main(argv: list[str] | None = None) -> dict:
    args = harness.interleaved_argparser("hpo_population").parse_args(argv)
    p = harness.profile_with_max_rounds(PROFILES[args.profile], args.max_rounds)
    cfg = fm.ForecastConfig(kind="lstm", input_len=p.input_len, horizon=p.horizon,
                            channels=3, hidden=p.hidden)
    series = make_hourly_multichannel(2000, 3, 42, coupling=0.3).x_tc
    train = prepare(series, input_len=p.input_len, horizon=p.horizon).train
    x, y = np.asarray(train.x_bic), np.asarray(train.y_bhc)
    rows, summary = [], {}
    for k in p.candidates:
        ms = modes(p, cfg, x, y, k)
        res = harness.time_interleaved({m["mode"]: m["run"] for m in ms},
                                       spread_of=harness.paired_spread_of(
                                           ["one by one"], ["vmapped population"]),
                                       **p.interleave)
        base = res["one by one"]["round_median_s"]
        for m in ms:
            r = res[m["mode"]]
            rate = k * p.steps_per_call / r["median_s"]
            row = {"mode": m["mode"], "candidates": k, "steps_per_call": p.steps_per_call,
                   "s_per_round": r["median_s"], "candidate_steps_per_s": rate,
                   "candidates_per_s": rate / SEARCH_STEPS, "compile_s": m["compile_s"],
                   "rounds": r["rounds"], "spread": r["spread"]}
            if m["mode"] != "one by one":
                paired = harness.paired_ratio([base], r["round_median_s"])
                row["speedup"], row["speedup_spread"] = paired["ratio"], paired["spread"]
                summary[f"hpo_population_speedup_k{k}"] = paired["ratio"]
                summary["hpo_population_speedup"] = paired["ratio"]
            rows.append(row)
    harness.print_table(rows, COLUMNS)
    print_summary(summary)
    config = {"profile": args.profile, "sizes": dataclasses.asdict(p), "model": cfg,
              "throughput": "candidate optimiser steps per second; candidates_per_s at "
                            f"{SEARCH_STEPS} steps per candidate"}
    harness.write_report(args.out, config=config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    reexec_with_host_tunables()
    main(sys.argv[1:])
