"""Wall time of the C-GATS Synthetic Sines pipeline, stage by stage.

``python -m benchmarks.pipeline [--profile tiny|full] [--out FILE]``

Runs the C-GATS part of ``experiments.cgats_sines`` with that experiment's own
config (``full``: its ``quick`` profile — 4000 windows of length 240, 800 + 800
steps at batch 32; ``tiny``: its ``smoke`` profile cut to a few steps) and times:

* ``data`` — Synthetic Sines generation and the 80:20 split by series;
* ``train stage 1`` — :meth:`CGATS.fit_stage1` (foundation VAE on occluded normal windows);
* ``train stage 2`` — :meth:`CGATS.fit_stage2` (frozen encoder, conditional decoder);
* ``generate`` — labels from the fitted label model, then paired generation with
  those labels and with all-zero labels (``n_eval`` windows each), as the
  experiment's faithfulness table does;
* ``evaluate`` — :func:`jtsgen.evaluate.faithfulness.label_faithfulness` on them.

The whole sequence runs twice in one process with the same keys: the first
("cold") pass includes tracing and compilation, the second ("warm") reuses the
compiled programs, so ``compile_s = cold - warm`` per stage. No checkpoints are
written. The experiment's ablations, baselines and figures are not part of this
benchmark (they reuse the same compiled training core).

Summary names written: ``pipeline_cold_s``, ``pipeline_warm_s`` (totals) and
``pipeline_train_share`` (training's share of the warm total).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from benchmarks import harness
from experiments.cgats_sines import get_config
from jtsgen.data.sines import make_sines
from jtsgen.data.splits import split_by_series
from jtsgen.evaluate.faithfulness import label_faithfulness
from jtsgen.models.cgats import CGATS
from jtsgen.runtime import reexec_with_host_tunables

STAGES = ("data", "train stage 1", "train stage 2", "generate", "evaluate")
COLUMNS = ["stage", "cold_s", "warm_s", "compile_s", "warm_share"]


def pipeline_config(profile: str):
    """The experiment's ``quick`` config (full) or its ``smoke`` config shortened (tiny)."""
    if profile == "full":
        return get_config("quick")
    smoke = get_config("smoke")
    model = dataclasses.replace(smoke.model, stage1_steps=4, stage2_steps=4, steps_per_call=2,
                                batch_size=8)
    return dataclasses.replace(smoke, n_series=64, n_eval=8, model=model)


def run_once(config) -> tuple[dict[str, float], dict[str, float]]:
    """One pass of the stages; returns (seconds per stage, faithfulness numbers)."""
    times: dict[str, float] = {}
    out: dict[str, Any] = {}
    m = config.model

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = jax.block_until_ready(fn())
        times[name] = time.perf_counter() - start
        return result

    def data():
        d = make_sines(config.n_series, config.seed, length=m.seq_len,
                       anomaly_prob=config.anomaly_prob, freq_range=tuple(config.freq_range))
        split = split_by_series(config.n_series, seed=config.seed)
        return d.x_btc[split.train], d.y_bt[split.train]

    x_tr, y_tr = timed("data", data)
    keys = jax.random.split(jax.random.key(config.seed), 8)
    k1, k2 = jax.random.split(keys[0])
    model = CGATS(m)
    timed("train stage 1", lambda: model.fit_stage1(k1, x_tr, y_tr, progress=False).enc_params)
    timed("train stage 2", lambda: model.fit_stage2(k2, x_tr, y_tr, progress=False).dec_params)

    def generate():
        y = model.sample_labels(keys[1], config.n_eval)
        out["y"] = y
        return model.generate(keys[5], y)[0], model.generate(keys[5], np.zeros_like(y))[0]

    x_y, x_0 = timed("generate", generate)
    scores = timed("evaluate", lambda: label_faithfulness(x_y, x_0, out["y"]))
    return times, scores


def main(argv: list[str] | None = None) -> dict:
    args = harness.base_argparser("pipeline").parse_args(argv)
    config = pipeline_config(args.profile)
    cold, _ = run_once(config)
    warm, scores = run_once(config)
    total_warm = sum(warm.values())
    rows = [{"stage": s, "cold_s": cold[s], "warm_s": warm[s],
             "compile_s": max(cold[s] - warm[s], 0.0), "warm_share": warm[s] / total_warm}
            for s in STAGES]
    rows.append({"stage": "total", "cold_s": sum(cold.values()), "warm_s": total_warm,
                 "compile_s": max(sum(cold.values()) - total_warm, 0.0), "warm_share": 1.0})
    harness.print_table(rows, COLUMNS)
    summary = {"pipeline_cold_s": sum(cold.values()), "pipeline_warm_s": total_warm,
               "pipeline_train_share": (warm["train stage 1"] + warm["train stage 2"])
               / total_warm}
    print("\nsummary:")
    for name, value in summary.items():
        print(f"  {name} = {value:.4g}")
    report_config = {"profile": args.profile, "experiment": "experiments.cgats_sines",
                     "experiment_config": config, "faithfulness_of_warm_run": scores,
                     "passes": "cold (with compilation) then warm, same keys",
                     "load_average": os.getloadavg()}
    harness.write_report(args.out, config=report_config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    reexec_with_host_tunables()
    main(sys.argv[1:])
