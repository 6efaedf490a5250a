"""Wall time of the experiments' pipelines, stage by stage.

``python -m benchmarks.pipeline [--profile tiny|full] [--out FILE]
[--experiments NAME,NAME,...] [--devices N]``

Runs each experiment's own stages with that experiment's config (``full``: its
``quick`` profile; ``tiny``: its ``smoke`` profile cut to a few steps) and times
every stage. Experiments (all by default):

* ``cgats_sines`` — :func:`experiments.cgats_sines.run_one` itself (4000 windows of
  length 240) with the stopwatch as its stage hook: ``data`` (Synthetic Sines, the
  80:20 split by series), ``train stage 1`` (:func:`jtsgen.models.cgats.fit_stage1`),
  ``train stage 2``, ``train CVAE ablation`` and ``train first-layer ablation``
  (Tables 10 and 11), ``train baselines (RCGAN, DDPM)``, ``generate`` (every generator
  run twice on labels from the fitted label model, with those labels and with all-zero
  labels), ``evaluate`` (label faithfulness) and ``figures`` (Figures 1-3), into a
  temporary directory, without checkpoints.
* ``detectors_sines`` — :func:`experiments.detectors_sines.run_once` itself, one
  split: ``data`` (split and scaler of the generated series), one ``detector NAME``
  stage per detector (fitting, threshold included) and ``evaluate`` (every detector's
  test predictions and metrics).
* ``frameworks_sines`` — :mod:`experiments.frameworks_sines`, one split: ``data``,
  ``split`` (split and scaler), ``augment NAME`` per augmenter, C-GATS's ``train
  stage 1`` / ``train stage 2`` (and ``train baselines (RCGAN, DDPM)`` when RCGAN or
  DDPM is a source), ``generate NAME`` per generator (as many series as the
  training set), then one ``detector NAME`` stage per detector: its fits and test
  scores in every framework and source. No checkpoints.
* ``vae_anomaly`` — :mod:`experiments.vae_anomaly`: ``data``, one
  ``train latent L`` stage per latent size, ``evaluate``.
* ``lstm_vae`` — :mod:`experiments.lstm_vae`: ``data``, ``train``, ``generate``,
  ``evaluate`` (fidelity report). No checkpoints are written.

``--devices N`` sets ``devices`` in the experiments' configs (``cgats_sines``,
``frameworks_sines``' generators, ``lstm_vae``: their training runs data parallel
over N devices; the command line
emulates one CPU device per core); with N > 1, naming an experiment that trains
on one device only is an error, raised before anything runs.

Every experiment runs twice in one process with the same keys: the first
("cold") pass includes tracing and compilation, the second ("warm") reuses what
was compiled (a stage whose program is built afresh on every call compiles in
both passes), so ``compile_s = cold - warm`` per stage.

Summary names written: ``pipeline_cold_s``, ``pipeline_warm_s`` and
``pipeline_train_share`` (``cgats_sines``: totals, and the ``train`` stages' share
of the warm total; null when ``cgats_sines`` is not run), and ``pipeline_{name}_cold_s``,
``pipeline_{name}_warm_s`` for every experiment run.
"""

from __future__ import annotations

import dataclasses
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from benchmarks import harness
from experiments import (
    cgats_sines,
    detectors_sines,
    frameworks_sines,
    lstm_vae,
    vae_anomaly,
)
from jtsgen.config import check_choices
from jtsgen.detect import vae_detector
from jtsgen.errors import InputError
from jtsgen.evaluate import framework_runner
from jtsgen.evaluate.fidelity import fidelity_report
from jtsgen.models import lstm_vae as lstm_vae_model
from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables
from jtsgen.train import to_default_device

COLUMNS = ["experiment", "stage", "cold_s", "warm_s", "compile_s", "warm_share"]


class Stopwatch:
    """Times named stages in order: ``watch(name, fn)`` runs ``fn``, blocks on its
    result and records the seconds under ``name`` (in ``watch.times``)."""

    def __init__(self):
        self.times: dict[str, float] = {}

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = jax.block_until_ready(fn())
        self.times[name] = time.perf_counter() - start
        return result


# ---- cgats_sines ---------------------------------------------------------------------

def cgats_config(profile: str):
    """The experiment's ``quick`` config (full) or its ``smoke`` config shortened to
    C-GATS alone, a few steps (tiny: the ablations' and baselines' training is
    specified by the generator tests)."""
    if profile == "full":
        return cgats_sines.get_config("quick")
    smoke = cgats_sines.get_config("smoke")
    model = dataclasses.replace(smoke.model, stage1_steps=4, stage2_steps=4, steps_per_call=2,
                                batch_size=8)
    return dataclasses.replace(smoke, n_series=64, n_eval=8, tsne_points=8, model=model,
                               ablations=False, baselines=False)


def cgats_stages(config, watch: Stopwatch) -> dict:
    """The experiment's own :func:`experiments.cgats_sines.run_one` with ``watch`` as its
    stage hook, into a temporary directory, without checkpoints. Returns every
    generator's ``on_label_share``."""
    with tempfile.TemporaryDirectory() as tmp:
        results = cgats_sines.run_one(config, tmp, stage=watch, checkpoints=False,
                                      progress=False)
    return {name: row["on_label_share"] for name, row in results["faithfulness"].items()}


# ---- detectors_sines -----------------------------------------------------------------

def detectors_config(profile: str):
    """The experiment's ``quick`` config (full) or its ``smoke`` config with two
    detectors (a rule and a trained network) and fewer steps (tiny)."""
    if profile == "full":
        return detectors_sines.get_config("quick")
    smoke = detectors_sines.get_config("smoke")
    return dataclasses.replace(smoke, n_series=24, detectors=("case2", "sr_cnn"),
                               sr_cnn=dataclasses.replace(smoke.sr_cnn, num_steps=4,
                                                          steps_per_call=2))


def detectors_stages(config, watch: Stopwatch) -> dict:
    """The experiment's own first run (:func:`experiments.detectors_sines.run_once`)
    with ``watch`` as its stage hook: the split, one fit per detector, test metrics."""
    out = detectors_sines.run_once(config, detectors_sines.make_data(config), 0, stage=watch,
                                   progress=False)
    return {name: out[name]["f1"] for name in config.detectors}


# ---- frameworks_sines ----------------------------------------------------------------

def frameworks_config(profile: str):
    """The experiment's ``quick`` config (full) or its ``smoke`` config with a rule and
    a trained network, Mixup and C-GATS, a few steps each (tiny)."""
    if profile == "full":
        return frameworks_sines.get_config("quick")
    smoke = frameworks_sines.get_config("smoke")
    model = dataclasses.replace(smoke.model, stage1_steps=4, stage2_steps=4, steps_per_call=2,
                                batch_size=8)
    return dataclasses.replace(smoke, n_series=40, model=model, detectors=("case2", "sr_cnn"),
                               augmentations=("mixup", "cgats"),
                               sr_cnn=dataclasses.replace(smoke.sr_cnn, num_steps=4,
                                                          steps_per_call=2))


def frameworks_stages(config, watch: Stopwatch) -> dict:
    """Data, the split, augmenters, generators (training, generation), then each detector
    in every framework and source (fits and test scores). Returns every cell's F1."""
    data = watch("data", lambda: frameworks_sines.make_data(config))
    train, test = watch("split", lambda: frameworks_sines.split(config, data, 0))
    out = framework_runner.run_once(config, train, test, 0, None, progress=False, stage=watch)
    return {f"{c['detector']} {c['framework']} {c['source'] or 'real'}": c["f1"]
            for c in out["cells"]}


# ---- vae_anomaly ---------------------------------------------------------------------

def vae_anomaly_config(profile: str):
    """The experiment's ``quick`` config (full) or its ``smoke`` config, one latent (tiny)."""
    if profile == "full":
        return vae_anomaly.get_config("quick")
    smoke = vae_anomaly.get_config("smoke")
    return dataclasses.replace(smoke, n_steps=400, latents=(2,),
                               detector=dataclasses.replace(smoke.detector, num_steps=4,
                                                            steps_per_call=2))


def vae_anomaly_stages(config, watch: Stopwatch) -> dict:
    """Data (chronological split, scaler), one training per latent size, test metrics."""

    x_train, y_train, x_test, y_test = watch("data", lambda: vae_anomaly.load_data(config))
    fitted = {}
    for i, latent in enumerate(config.latents):
        det_cfg = dataclasses.replace(config.detector, latent=latent)
        key = jax.random.fold_in(jax.random.key(config.seed), i)
        fitted[latent] = watch(f"train latent {latent}",
                               lambda key=key, c=det_cfg: vae_detector.fit(key, x_train,
                                                                           y_train, c))
    metrics = watch("evaluate", lambda: {lat: vae_anomaly.evaluate(f, x_test, y_test)
                                         for lat, f in fitted.items()})
    return {f"point_f1_latent{lat}": m["point_f1"] for lat, m in metrics.items()}


# ---- lstm_vae ------------------------------------------------------------------------

def lstm_vae_config(profile: str):
    """The experiment's ``quick`` config (full) or its ``smoke`` config, 4 steps (tiny)."""
    if profile == "full":
        return lstm_vae.get_config("quick")
    smoke = lstm_vae.get_config("smoke")
    return dataclasses.replace(smoke, num_steps=4, steps_per_call=2, n_generate=4)


def lstm_vae_stages(config, watch: Stopwatch) -> dict:
    """Data (per-series normalised), training without checkpoints, generation, fidelity."""
    m = config.model
    x = watch("data", lambda: lstm_vae.load_data(config))
    init_key, train_key, gen_key = jax.random.split(jax.random.key(config.seed), 3)
    result = watch("train", lambda: to_default_device(lstm_vae.train(
        config, x, init_key, train_key, progress=False).state.params))
    fake = watch("generate", lambda: lstm_vae_model.generate(result, gen_key,
                                                             config.n_generate, m))
    return watch("evaluate", lambda: fidelity_report(x[:, :, 0], np.asarray(fake)[:, :, 0]))


EXPERIMENTS: dict[str, tuple[Callable[[str], Any], Callable[[Any, Stopwatch], dict]]] = {
    "cgats_sines": (cgats_config, cgats_stages),
    "detectors_sines": (detectors_config, detectors_stages),
    "frameworks_sines": (frameworks_config, frameworks_stages),
    "vae_anomaly": (vae_anomaly_config, vae_anomaly_stages),
    "lstm_vae": (lstm_vae_config, lstm_vae_stages),
}


def time_experiment(name: str, config) -> tuple[list[dict], dict]:
    """Runs ``name``'s stages cold then warm; returns its rows (stages, then a total)
    and the quality numbers of the warm pass."""
    stages = EXPERIMENTS[name][1]
    cold, warm = Stopwatch(), Stopwatch()
    stages(config, cold)
    scores = stages(config, warm)
    total_warm = sum(warm.times.values())
    rows = [{"experiment": name, "stage": stage, "cold_s": cold.times[stage],
             "warm_s": warm.times[stage],
             "compile_s": max(cold.times[stage] - warm.times[stage], 0.0),
             "warm_share": warm.times[stage] / total_warm} for stage in warm.times]
    total_cold = sum(cold.times.values())
    rows.append({"experiment": name, "stage": "total", "cold_s": total_cold,
                 "warm_s": total_warm, "compile_s": max(total_cold - total_warm, 0.0),
                 "warm_share": 1.0})
    return rows, scores


def _parser():
    parser = harness.base_argparser("pipeline")
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS),
                        help="comma-separated experiments to time (default: %(default)s)")
    parser.add_argument("--devices", type=int, default=1,
                        help="devices that cgats_sines, frameworks_sines and lstm_vae "
                             "train over (their config's `devices`; the command line emulates "
                             "one CPU device per core; default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    names = list(dict.fromkeys(n.strip() for n in args.experiments.split(",") if n.strip()))
    check_choices("--experiments", tuple(names), tuple(EXPERIMENTS))
    rows: list[dict] = []
    scores = {}
    summary: dict[str, Any] = {"pipeline_cold_s": None, "pipeline_warm_s": None,
                               "pipeline_train_share": None}
    configs = {name: EXPERIMENTS[name][0](args.profile) for name in names}
    if args.devices != 1:
        single = [n for n in names if not hasattr(configs[n], "devices")]
        if single:
            with_setting = [n for n, (make, *_) in EXPERIMENTS.items()
                            if hasattr(make(args.profile), "devices")]
            raise InputError("--devices", f"{', '.join(single)}: no `devices` setting, it "
                             "trains on one device; time it without --devices (experiments "
                             f"with the setting: {', '.join(with_setting)})")
        configs = {n: dataclasses.replace(c, devices=args.devices) for n, c in configs.items()}
    for name in names:
        exp_rows, scores[name] = time_experiment(name, configs[name])
        rows += exp_rows
        total = exp_rows[-1]
        summary[f"pipeline_{name}_cold_s"] = total["cold_s"]
        summary[f"pipeline_{name}_warm_s"] = total["warm_s"]
        if name == "cgats_sines":
            train = sum(r["warm_s"] for r in exp_rows if r["stage"].startswith("train"))
            summary["pipeline_cold_s"], summary["pipeline_warm_s"] = (total["cold_s"],
                                                                      total["warm_s"])
            summary["pipeline_train_share"] = train / total["warm_s"]
    harness.print_table(rows, COLUMNS)
    print("\nsummary:")
    for key, value in summary.items():
        print(f"  {key} = {value:.4g}" if value is not None else f"  {key} = null")
    report_config = {"profile": args.profile, "experiments": names,
                     "experiment_configs": configs, "quality_of_warm_runs": scores,
                     "passes": "cold (with compilation) then warm, same keys"}
    harness.write_report(args.out, config=report_config, rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    emulate_cpu_devices()
    reexec_with_host_tunables()
    main(sys.argv[1:])
