"""The four-framework runner: generators, synthetic sets and every detector cell.

The experiments ``frameworks_sines``, ``frameworks_nab``, ``cgats_kpi`` and
``cgats_decoders`` are launchers around it: each loads its data and calls
:func:`run_all` and :func:`write_tables`.

Given a scaled 80:20 split of real windows, :func:`run_once` trains the generators
on the training windows (C-GATS; RCGAN and the conditional DDPM when asked for, see
:func:`jtsgen.models.generators.train_generators`) and builds one synthetic set per
source, as large as the training set:

* ``cgats``, its ablations ``cvae`` (end-to-end CVAE, Table 10) and ``cgats_first``
  (labels at the first layer, Table 11), ``rcgan``, ``ddpm``: generated for vectors
  drawn from C-GATS's label model, fitted on the training labels
  (``synthetic_labels="label_model"``, the default and the paper's: anomalous windows
  only, so a higher anomaly rate than the real set, reported per cell as
  ``train_anomaly_share``), for the training windows' own label vectors
  (``"train"``: the real count and rate), or for the real share of anomalous windows
  drawn from the label model, the rest all-normal (``"matched"``); every generator
  gets the same vectors;
  C-GATS always trains, the others when they are a source;
* ``mixup`` (α = 0.2, hard labels), ``cutmix``, ``combination``: each training
  window augmented once (:mod:`jtsgen.augment`).

Every detector is then fitted (threshold from its own training data) and tested
in the frameworks of :mod:`jtsgen.evaluate.frameworks` with the C-GATS set (the
paper's Tables 1-2: TRTR, T(R+S)TR, TRTS, TSTR), and in T(R+S)TR with every source
of ``augmentations`` (Table 3; its "w/o Aug." column is TRTR); the cheap
``baseline_detectors`` (Table 9) only in TRTR and in T(R+S)TR with C-GATS. A detector
starts from the same key in every framework, so its columns differ only through the
data. Metrics are point-wise precision, recall and F1 on the test data; with
``n_runs > 1`` tables give mean ± std over runs. Every cell also records, as
separately labelled extras, the test-oracle best F1 (threshold chosen on the test
scores: an upper bound, never the headline) and the labelled share of the
framework's training steps.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from jtsgen.augment import augment_batch, get_augmenter
from jtsgen.config import check_choices, saved_result, to_dict, write_json, write_outputs
from jtsgen.data.labelled import Labelled
from jtsgen.detect import registry
from jtsgen.detect.registry import DetectorSettings
from jtsgen.errors import InputError
from jtsgen.evaluate import tables
from jtsgen.evaluate.frameworks import FRAMEWORKS, evaluate_framework, holdout_split
from jtsgen.evaluate.realism import discriminative_score, summarise_runs
from jtsgen.models import cgats, generators
from jtsgen.models.cgats import CGATSConfig
from jtsgen.models.generators import GeneratorSettings
from jtsgen.runtime import Stage, untimed
from jtsgen.train import local_mesh

GENERATORS = {k: generators.GENERATORS[k].display for k in generators.TRAINABLE}
AUGMENTERS = {"mixup": ("Mixup (α=0.2)", {"alpha": 0.2, "hard": True}),
              "cutmix": ("CutMix", {}), "combination": ("Combination", {})}
SOURCES = tuple(GENERATORS) + tuple(AUGMENTERS)
SOURCE_NAMES = {**GENERATORS, **{k: v[0] for k, v in AUGMENTERS.items()}}  # display names
METRICS = ("precision", "recall", "f1", "f1_point_adjusted", "f1_flag_all", "f1_test_oracle",
           "train_anomaly_share", "f1_threshold_fit_data")
BASELINE_PAIRS = (("TRTR", None), ("T(R+S)TR", "cgats"))  # Table 9: w/o Aug., with C-GATS
SYNTHETIC_LABELS = {
    "label_model": "label vectors drawn from C-GATS's label model, fitted on the training "
                   "labels (the same vectors for every generator)",
    "train": "the training windows' own label vectors",
    "matched": "as many anomalous windows as the training set has (its share), their "
               "label vectors drawn from C-GATS's label model; the rest all-normal"}
CGATS_FROM = {
    "prior": "z drawn from the fitted prior: whole windows generated (the paper's first "
             "option; the rule of runs saved before 2026-12-05)",
    "train": "z inferred from each training window, occluded at its own and its drawn "
             "labels (the paper's second option): that window's normal pattern "
             "regenerated with the drawn anomalies",
    "train_paste": "z inferred from each training window (occluded at its own and its "
                   "drawn labels) and that window's own values kept on the steps labelled "
                   "in neither vector: C-GATS's anomalies inserted into real windows at "
                   "the drawn labels"}
THRESHOLD_FROM = {
    "real_train": "each detector's own, chosen on the framework's training data; in "
                  "T(R+S)TR on its real part only (the fitted detector's scores on the "
                  "real training series, the data TRTR's threshold comes from)",
    "fit_data": "each detector's own, chosen on all of the framework's training data "
                "(in T(R+S)TR: real and synthetic)",
    "real_holdout": "in TRTR and T(R+S)TR chosen on real training windows held out of "
                    "every fit (holdout_frac of them, stratified; generators and detectors "
                    "train on the rest); in TRTS and TSTR each detector's own"}
ORACLE_NOTE = ("\"test-oracle F1\" columns choose the threshold on the test scores themselves "
               "(an upper bound for the detector's scores, not a result)")
DETECTOR_STEPS = ("fixed", "epochs")
CLASS_WEIGHT_FROM = ("fit_data", "real_train", "real_part")
# settings added after runs were saved, with the value those runs ran under: a saved run
# without the key (nested keys: within its section) matches a config that has this value
ADDED_SETTINGS = {"detector_steps": "fixed", "extra_train": [], "holdout_frac": 0.2,
                  "cgats_from": "prior",
                  "class_weight_from": "fit_data",
                  "model": {"marginal": "identity", "noise": "gaussian",
                            "label_temperature": False},
                  "robusttad": {"replicas": 1}, "ncad": {"replicas": 1},
                  # SR-CNN's receptive field and step floor came later: off before
                  "sr_cnn": {"fit_context": False, "min_epochs": 0.0, "replicas": 1}}
GENERATE_CHUNK = 512


@dataclasses.dataclass(frozen=True)
class FrameworksConfig(DetectorSettings):
    """The settings every four-framework experiment has; each adds its data's."""

    profile: str = "quick"
    seed: int = 0
    n_runs: int = 1
    # run only these of 0 .. n_runs - 1 and save them, no tables (spreads one experiment's
    # runs over processes or machines; a call without it reads them back, writes tables)
    only_runs: tuple[int, ...] = ()
    detectors: tuple[str, ...] = ("robusttad", "sr_cnn", "ncad")
    # Table 9: scored only in TRTR and in T(R+S)TR with C-GATS (baselines.md)
    baseline_detectors: tuple[str, ...] = ()
    frameworks: tuple[str, ...] = FRAMEWORKS
    augmentations: tuple[str, ...] = ("mixup", "cutmix", "combination", "rcgan", "cgats")
    # "label_model" (the paper's): every generator gets the same draws from C-GATS's
    # label model (anomalous windows only: a higher anomaly rate than the real set);
    # "train": the training windows' own label vectors (the real count and rate);
    # "matched": the real share of anomalous windows, each drawn from the label model
    synthetic_labels: str = "label_model"
    # where C-GATS's z comes from (CGATS_FROM): "train_paste" (the default since
    # 2026-12-05: each training window's own z, its values kept off the labelled steps,
    # so C-GATS's anomalies are inserted into real windows at the drawn labels), "train"
    # (the same z, the whole window regenerated) or "prior" (whole windows generated from
    # the fitted prior: runs saved before 2026-12-05)
    cgats_from: str = "train_paste"
    # where T(R+S)TR's threshold comes from: "real_train" (the headline: the real training
    # series, like TRTR's, so a source changes the scores and not the operating point) or
    # "fit_data" (real + synthetic; reported beside it as f1_threshold_fit_data)
    threshold_from: str = "real_train"
    # where a detector's label-prevalence settings (RobustTAD's class weight) come from:
    # "real_part" (the real part of each framework's training data, like the threshold:
    # the real training labels in TRTR, T(R+S)TR and TRTS, so a source changes the
    # training data, not the detector's hyper-parameters; TSTR, which has no real part,
    # its own synthetic labels), "real_train" (the real training labels in TSTR too: the
    # rule of runs saved on 2026-12-04) or "fit_data" (each framework's training labels:
    # a label-model set, 4x the real share of labelled steps, lowers RobustTAD's
    # pos_weight 4x; runs saved before 2026-12-04)
    class_weight_from: str = "real_part"
    # with threshold_from="real_holdout": the share of real training windows held out
    # (stratified by whether a window holds a labelled step) to choose thresholds on
    holdout_frac: float = 0.2
    # how long a detector trains on each framework's data: "epochs" (steps times the
    # size of its training set over the real training set's: the same passes over every
    # window, so T(R+S)TR with a synthetic set as large as the real one trains twice as
    # many steps) or "fixed" (the same steps in every framework: a synthetic set then
    # halves the passes over the real windows; runs saved before this setting used it)
    detector_steps: str = "epochs"
    # C-GATS's sampling temperature: the scale of the per-step output noise added to its
    # decoder's mean (0 = the mean, 1 = the model's own distribution); -1 = the
    # temperature C-GATS calibrated on its training windows (their roughness, see
    # cgats.calibrate_temperature); the ablations and baselines sample at their defaults
    temperature: float = -1.0
    # generators train data parallel over this many local devices (as cgats_sines)
    devices: int = 1
    baseline_steps: int = 600
    model: CGATSConfig = GeneratorSettings.model  # C-GATS, the quick profile's


def profile_settings(profile: str) -> dict:
    """The generator and detector settings of ``profile`` (``smoke``: seconds, for
    tests; ``quick``: a 2-core CPU; ``paper``: 5 runs and long training)."""
    gen = generators.settings_for(profile)
    out = dict(baseline_steps=gen.baseline_steps, model=gen.model,
               **registry.settings_dict(registry.settings_for(profile)))
    return {**out, "n_runs": 5} if profile == "paper" else out


def check_config(config: FrameworksConfig) -> None:
    check_choices("--config.detectors", config.detectors, registry.DETECTORS)
    check_choices("--config.frameworks", config.frameworks, FRAMEWORKS)
    check_choices("--config.augmentations", config.augmentations, SOURCES, allow_empty=True)
    check_choices("--config.baseline_detectors", config.baseline_detectors,
                  registry.DETECTORS, allow_empty=True)
    if config.synthetic_labels not in SYNTHETIC_LABELS:
        raise InputError("--config.synthetic_labels",
                         f"must be one of {', '.join(SYNTHETIC_LABELS)}, "
                         f"got {config.synthetic_labels!r}")
    if config.cgats_from not in CGATS_FROM:
        raise InputError("--config.cgats_from", f"must be one of {', '.join(CGATS_FROM)}, "
                                                f"got {config.cgats_from!r}")
    if config.class_weight_from not in CLASS_WEIGHT_FROM:
        raise InputError("--config.class_weight_from",
                         f"must be one of {', '.join(CLASS_WEIGHT_FROM)}, "
                         f"got {config.class_weight_from!r}")
    if config.threshold_from not in THRESHOLD_FROM:
        raise InputError("--config.threshold_from",
                         f"must be one of {', '.join(THRESHOLD_FROM)}, "
                         f"got {config.threshold_from!r}")
    if not 0.0 < config.holdout_frac < 1.0:
        raise InputError("--config.holdout_frac", f"must be in (0, 1), got {config.holdout_frac}")
    if config.detector_steps not in DETECTOR_STEPS:
        raise InputError("--config.detector_steps",
                         f"must be one of {DETECTOR_STEPS}, got {config.detector_steps!r}")
    if config.n_runs < 1:
        raise InputError("--config.n_runs", f"must be >= 1, got {config.n_runs}")
    outside = [r for r in config.only_runs if not 0 <= r < config.n_runs]
    if outside:
        raise InputError("--config.only_runs",
                         f"runs {outside} are not among 0 .. n_runs - 1 = {config.n_runs - 1}")
    if config.temperature < 0 and config.temperature != -1:
        raise InputError("--config.temperature",
                         f"must be >= 0, or -1 (calibrated), got {config.temperature}")


def evaluations(config: FrameworksConfig) -> list[tuple[str, str | None]]:
    """The ``(framework, synthetic source)`` pairs the two tables need (TRTR has none)."""
    pairs = [(fw, None if fw == "TRTR" else "cgats") for fw in config.frameworks]
    pairs += [("TRTR", None)] + [("T(R+S)TR", src) for src in config.augmentations]
    return list(dict.fromkeys(pairs))


def detector_plan(config: FrameworksConfig) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """``(detector, its (framework, source) pairs)``: :func:`evaluations` for ``detectors``,
    :data:`BASELINE_PAIRS` for the ``baseline_detectors`` not among them."""
    pairs = evaluations(config)
    plan = [(det, pairs) for det in config.detectors]
    return plan + [(det, list(BASELINE_PAIRS)) for det in config.baseline_detectors
                   if det not in config.detectors]


class SourceKeys(NamedTuple):
    """:func:`synthetic_sets`' keys by purpose (:func:`source_keys`' split, in this order)."""

    cgats: jax.Array
    labels: jax.Array  # the label-model draws every generator gets
    cvae: jax.Array
    cgats_first: jax.Array
    baselines: jax.Array
    generate: jax.Array
    augment: jax.Array
    unused: jax.Array


def generate_in_chunks(generate, key: jax.Array, labels_bt: np.ndarray,
                       *given: np.ndarray) -> np.ndarray:
    """``generate(key, labels, *given)`` in chunks of :data:`GENERATE_CHUNK` label vectors
    (each of ``given``, e.g. series ``[B, T, C]``, cut into the same rows)."""
    chunks = [np.asarray(generate(jax.random.fold_in(key, i), labels_bt[s:s + GENERATE_CHUNK],
                                  *(g[s:s + GENERATE_CHUNK] for g in given)))
              for i, s in enumerate(range(0, len(labels_bt), GENERATE_CHUNK))]
    return np.concatenate(chunks).astype(np.float32)


def detector_key(seed: int, run: int, index: int) -> jax.Array:
    """The key of the ``index``-th detector of :func:`detector_plan` in run ``run``: every
    framework and source of that detector fits with it (so their cells pair)."""
    return jax.random.fold_in(jax.random.fold_in(jax.random.key(seed), run), index)


def source_keys(seed: int, run: int) -> SourceKeys:
    """The keys :func:`synthetic_sets` gets in run ``run`` of an experiment with ``seed``
    (so ``jtsgen fit`` trains the generators that :func:`run_all`'s run 0 resumes)."""
    run_key = jax.random.fold_in(jax.random.key(seed), run)
    return SourceKeys(*jax.random.split(jax.random.fold_in(run_key, 1_000), 8))


def samplers(config: FrameworksConfig, states: dict) -> dict[str, Callable]:
    """``{name: (key, labels_bt) -> x_btc}`` for the trained ``states``; C-GATS samples at
    ``config.temperature`` (-1: its calibrated one), the others at their defaults."""
    sample = {name: functools.partial(generators.generate, name, state)
              for name, state in states.items()}
    if "cgats" in states:
        sample["cgats"] = functools.partial(cgats.generate, states["cgats"],
                                            temperature=cgats_temperature(config))
    return sample


def cgats_temperature(config: FrameworksConfig) -> float | None:
    """C-GATS's sampling temperature for ``cgats.generate``: None (its calibrated one)
    for ``config.temperature == -1``."""
    return None if config.temperature == -1 else config.temperature


def synthetic_sets(config: FrameworksConfig, train: Labelled, sources: set[str], keys: SourceKeys,
                   checkpoint_dir: Path | None, *, progress: bool = True,
                   stage: Stage = untimed) -> dict[str, Labelled]:
    """One synthetic set per source, each with as many series as ``train``.

    Stages: ``augment NAME`` per augmenter, the generators' training stages of
    :func:`jtsgen.models.generators.train_generators`, ``generate NAME`` per generator.
    """
    out = {}
    for i, name in enumerate(sorted(sources & set(AUGMENTERS))):
        fn, params = get_augmenter(name), AUGMENTERS[name][1]
        x, y = stage(f"augment {name}", lambda fn=fn, params=params, i=i: augment_batch(
            fn, jax.random.fold_in(keys.augment, i), train.x_btc, train.y_bt, **params))
        out[name] = Labelled(np.asarray(x, np.float32), np.asarray(y, np.float32))
    wanted = sources & set(GENERATORS)
    if not wanted:
        return out
    states, _ = generators.train_generators(
        tuple(sorted(wanted)), generators.GeneratorKeys.of(keys),
        train.x_btc, train.y_bt, GeneratorSettings(config.model, config.baseline_steps),
        checkpoint_dir=checkpoint_dir, progress=progress, mesh=local_mesh(config.devices),
        stage=stage)
    sample = samplers(config, states)
    labels = synthetic_labels(config.synthetic_labels, states["cgats"], keys.labels,
                              train.y_bt)
    given = ()
    if config.cgats_from != "prior" and "cgats" in wanted:  # C-GATS on the training windows
        sample["cgats"] = lambda key, labels_bt, x_btc, y_bt: cgats.insert_anomalies(
            states["cgats"], key, x_btc, y_bt, labels_bt,
            paste=config.cgats_from == "train_paste", temperature=cgats_temperature(config))
        given = (train.x_btc, train.y_bt)
    for name in sorted(wanted):
        x = stage(f"generate {name}", lambda name=name: generate_in_chunks(
            sample[name], keys.generate, labels, *(given if name == "cgats" else ())))
        out[name] = Labelled(x, np.asarray(labels, np.float32))
    return out


def synthetic_labels(mode: str, state, key: jax.Array, y_bt: np.ndarray) -> np.ndarray:
    """The label vectors ``[B, T]`` every generator is asked for, one per training window
    (``y_bt [B, T]``), as :data:`SYNTHETIC_LABELS` describes ``mode``; ``state`` is the
    fitted C-GATS whose label model draws them."""
    y_bt = np.asarray(y_bt, np.float32)
    n = y_bt.shape[0]
    if mode == "train":
        return y_bt
    if mode == "label_model":
        return cgats.draw_labels(state, key, n)
    if mode != "matched":
        raise InputError("synthetic_labels", f"must be one of {', '.join(SYNTHETIC_LABELS)}, "
                                             f"got {mode!r}")
    n_anomalous = max(1, int(round(float(np.mean(y_bt.max(axis=1) > 0)) * n)))
    draw_key, pick_key = jax.random.split(key)
    rows = np.asarray(jax.random.choice(pick_key, n, (n_anomalous,), replace=False))
    out = np.zeros_like(y_bt)
    out[rows] = cgats.draw_labels(state, draw_key, n_anomalous)
    return out


def detector_fit(config: FrameworksConfig, det: str, train: Labelled,
                 framework: str) -> Callable:
    """``fit(key, x_btc, y_bt) -> Fitted`` for detector ``det`` in ``framework`` of a run
    whose real training set is ``train``: its steps scaled by ``config.detector_steps``
    and its class weight taken as ``config.class_weight_from`` says."""
    real = (config.class_weight_from == "real_train"
            or (config.class_weight_from == "real_part" and framework != "TSTR"))
    base = registry.with_class_weight_of(config, det, train.y_bt) if real else config

    def fit(key, x, y):
        factor = len(x) / len(train.x_btc) if config.detector_steps == "epochs" else 1
        return registry.fit_detector(det, key, x, y,
                                     registry.with_steps_scaled(base, det, factor))

    return fit


def run_once(config: FrameworksConfig, train: Labelled, test: Labelled, run: int,
             checkpoint_dir: Path | None, *, progress: bool = True,
             stage: Stage = untimed) -> dict:
    """One run on a (scaled) split: generators and synthetic sets from ``train``, then
    every (detector, framework, source) cell.

    Stages: those of :func:`synthetic_sets`, and ``detector NAME`` per detector (its
    fits and test scores in every framework and source).
    """
    holdout = None
    if config.threshold_from == "real_holdout":  # nothing below fits on the held-out part
        train, holdout = holdout_split(train, config.holdout_frac, seed=config.seed + run)
    plan = detector_plan(config)
    sources = {src for _, pairs in plan for _, src in pairs if src is not None}
    synth = synthetic_sets(config, train, sources, source_keys(config.seed, run),
                           checkpoint_dir, progress=progress, stage=stage)
    cells = []
    for d, (det, pairs) in enumerate(plan):
        det_key = detector_key(config.seed, run, d)

        def every_framework(det=det, det_key=det_key, pairs=pairs):
            out = []
            for fw, src in pairs:
                start = time.perf_counter()
                fit = detector_fit(config, det, train, fw)
                metrics = evaluate_framework(fw, fit, det_key, train, test, synth.get(src),
                                             seed=config.seed + run,
                                             threshold_from=config.threshold_from,
                                             holdout=holdout)
                out.append({"detector": det, "framework": fw, "source": src, **metrics,
                            "fit_seconds": time.perf_counter() - start})
                if progress:
                    print(f"run {run} {registry.LABELS[det]:>12} {fw:>9} "
                          f"{src or '-':>11}: P {metrics['precision']:.3f} "
                          f"R {metrics['recall']:.3f} F1 {metrics['f1']:.3f}", flush=True)
            return out

        cells += stage(f"detector {det}", every_framework)
    return {"cells": cells, "n_train": int(len(train.x_btc)), "n_test": int(len(test.x_btc)),
            **({"n_holdout": int(len(holdout.x_btc))} if holdout is not None else {}),
            "synthetic_anomaly_rate": {k: float(v.y_bt.mean()) for k, v in synth.items()},
            "realism": anomaly_realism(train, synth, seed=config.seed + run)}


def anomaly_realism(train: Labelled, synth: dict[str, Labelled], *, seed: int) -> dict:
    """``{"real": ..., name: ...}``: :func:`jtsgen.evaluate.realism.summarise_runs` of the
    real training windows and of every generated set (augmenters aside), the latter
    with ``real_vs_generated_accuracy`` (a classifier telling their anomalous windows
    from the real ones, held out; 0.5 = indistinguishable)."""
    out = {"real": summarise_runs(train.x_btc, train.y_bt)}
    for name in sorted(set(synth) & set(GENERATORS)):
        s = synth[name]
        out[name] = {**summarise_runs(s.x_btc, s.y_bt),
                     "real_vs_generated_accuracy": discriminative_score(
                         train.x_btc, train.y_bt, s.x_btc, s.y_bt, seed=seed)}
    return out


def run_all(config: FrameworksConfig, workdir: Path,
            split: Callable[[int], tuple[Labelled, Labelled]], *,
            checkpoints: Path | None = None, progress: bool = True) -> list[dict]:
    """:func:`run_once` for runs ``0 .. n_runs - 1`` (those in ``only_runs`` if any) on
    ``split(run)``'s (train, test).

    Each finished run is saved as ``workdir/runs/run{r}.json`` with the settings it
    ran under (``n_runs`` aside) and read back by a rerun with the same settings, so
    an interrupted experiment resumes at its first unfinished run and a rerun with a
    larger ``n_runs`` only adds runs; a saved run of other settings is run again.
    Generators checkpoint under ``checkpoints/run{r}`` (default ``workdir/checkpoints``).
    """
    checkpoints = Path(checkpoints) if checkpoints else workdir / "checkpoints"
    settings = json.loads(json.dumps({k: v for k, v in to_dict(config).items()
                                      if k not in ("n_runs", "only_runs")}))
    runs = []
    for r in config.only_runs or range(config.n_runs):
        path = workdir / "runs" / f"run{r}.json"
        saved = saved_result(path, settings, ADDED_SETTINGS)
        if saved is not None:
            print(f"run {r}: read back from {path}", flush=True)
            runs.append(saved)
            continue
        result = run_once(config, *split(r), r, checkpoints / f"run{r}", progress=progress)
        write_json(path, {"settings": settings, "result": result})
        runs.append(result)
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    """Mean and std over runs of every metric, one row per (detector, framework, source)."""
    groups: dict[tuple, list[dict]] = {}
    for r in runs:
        for c in r["cells"]:
            groups.setdefault((c["detector"], c["framework"], c["source"]), []).append(c)
    rows = []
    for (det, fw, src), cells in groups.items():
        row = {"detector": det, "framework": fw, "source": src or "",
               "n_fit": cells[0]["n_fit"], "n_test": cells[0]["n_test"]}
        for m in METRICS:
            values = np.asarray([c.get(m, np.nan) for c in cells], np.float64)
            row[f"{m}_mean"], row[f"{m}_std"] = float(values.mean()), float(values.std())
        rows.append(row)
    return rows


def _cell(row: dict, metric: str, n_runs: int) -> str:
    return tables.cell(row[f"{metric}_mean"], row[f"{metric}_std"], n_runs)


def _share(rows: dict, det: str, pairs) -> str:
    """The labelled share of each pair's training steps (the same for every detector)."""
    return ", ".join(f"{name} {rows[(det, fw, src)]['train_anomaly_share_mean']:.3f}"
                     for name, (fw, src) in pairs)


def _threshold_note(config: FrameworksConfig) -> str:
    steps = ("; each detector trains as many epochs in every framework (steps in proportion "
             "to its training windows)" if config.detector_steps == "epochs" else "")
    if config.class_weight_from == "real_train":
        steps += ("; RobustTAD's class weight from the real training labels in every "
                  "framework")
    elif config.class_weight_from == "real_part":
        steps += ("; RobustTAD's class weight from the real training labels (in TSTR, "
                  "which has none, from its own)")
    if config.cgats_from != "prior":
        steps += f"; C-GATS's set: {CGATS_FROM[config.cgats_from]}"
    if config.threshold_from == "real_train":
        return ("thresholds from each framework's training data, in T(R+S)TR from its real "
                "part (the detector's scores on the real training series, as in TRTR)" + steps)
    if config.threshold_from == "real_holdout":
        return (f"thresholds in TRTR and T(R+S)TR from {config.holdout_frac:.0%} of the real "
                "training windows held out of every fit (generators and detectors train on "
                "the rest), in TRTS and TSTR from each framework's training data" + steps)
    return ("thresholds from each framework's training data (in T(R+S)TR: real + synthetic)"
            + steps)


def frameworks_markdown(rows: list[dict], config: FrameworksConfig) -> str:
    """Table 1's layout: P / R / F1 per framework (synthetic data from C-GATS), then the
    test-oracle F1 per framework as clearly named extra columns."""
    look = {(r["detector"], r["framework"], r["source"]): r for r in rows}
    key = {fw: (fw, "" if fw == "TRTR" else "cgats") for fw in config.frameworks}
    head = ["Detector"] + [f"{fw} {m}" for fw in config.frameworks for m in ("P", "R", "F1")]
    head += [f"{fw} test-oracle F1" for fw in config.frameworks]
    on_rs = config.threshold_from != "fit_data" and "T(R+S)TR" in config.frameworks
    head += ["T(R+S)TR F1, threshold on R+S"] if on_rs else []
    body = []
    for det in config.detectors:
        cells = [registry.LABELS[det]]
        for fw in config.frameworks:
            cells += [_cell(look[(det, *key[fw])], m, config.n_runs)
                      for m in ("precision", "recall", "f1")]
        cells += [_cell(look[(det, *key[fw])], "f1_test_oracle", config.n_runs)
                  for fw in config.frameworks]
        if on_rs:
            cells.append(_cell(look[(det, "T(R+S)TR", "cgats")], "f1_threshold_fit_data",
                               config.n_runs))
        body.append(cells)
    first = config.detectors[0]
    floors = ", ".join(f"{fw} {look[(first, *key[fw])]['f1_flag_all_mean']:.3f}"
                       for fw in config.frameworks)
    share = _share(look, first, [(fw, key[fw]) for fw in config.frameworks])
    return "\n".join(tables.markdown(head, body)) + (
        f"\n\nPoint-wise metrics on the test data ({config.n_runs} run(s)); synthetic data "
        f"from C-GATS; {_threshold_note(config)}. {ORACLE_NOTE}. Flagging every test step "
        f"scores F1 {floors}. Labelled share of each framework's training steps: {share}.\n")


def augmentations_markdown(rows: list[dict], config: FrameworksConfig,
                           runs: list[dict] | None = None) -> str:
    """Table 3's layout: F1 without augmentation (TRTR) and in T(R+S)TR per source, then
    the same cells' test-oracle F1 as clearly named extra columns; given the ``runs``
    (two or more), also :func:`paired_markdown`."""
    look = {(r["detector"], r["framework"], r["source"]): r for r in rows}
    cols = [("w/o Aug. (TRTR)", ("TRTR", ""))] + [
        (SOURCE_NAMES[s], ("T(R+S)TR", s)) for s in config.augmentations]
    head = ["Detector"] + [n for n, _ in cols] + [f"{n} test-oracle F1" for n, _ in cols]
    body = [[registry.LABELS[det]]
            + [_cell(look[(det, *k)], "f1", config.n_runs) for _, k in cols]
            + [_cell(look[(det, *k)], "f1_test_oracle", config.n_runs) for _, k in cols]
            for det in config.detectors]
    text = "\n".join(tables.markdown(head, body)) + (
        f"\n\nPoint-wise F1 on the real test data ({config.n_runs} run(s)); every "
        "augmented column trains on the real training series plus that source's set; "
        f"{_threshold_note(config)}. {ORACLE_NOTE}. Labelled share of the training "
        f"steps: {_share(look, config.detectors[0], cols)}.\n")
    paired = paired_markdown(runs, config) if runs is not None else None
    return text if paired is None else text + "\n" + paired


def paired_differences(runs: list[dict], detector: str, source: str = "cgats") -> dict:
    """``{column: (mean, std, wins)}``: ``source``'s T(R+S)TR F1 minus each other column's
    (TRTR as ``"TRTR"``, every other source), paired by run (same split, same detector
    key), its mean and std over runs, and in how many runs ``source`` was higher."""
    f1: dict[str, list[float]] = {}
    for run in runs:
        for c in run["cells"]:
            if c["detector"] == detector and (c["framework"], c["source"]) == ("TRTR", None):
                f1.setdefault("TRTR", []).append(c["f1"])
            elif c["detector"] == detector and c["framework"] == "T(R+S)TR":
                f1.setdefault(c["source"], []).append(c["f1"])
    ref = np.asarray(f1.get(source, []), np.float64)
    out = {}
    for col, values in f1.items():
        if col != source and len(values) == len(ref):
            d = ref - np.asarray(values, np.float64)
            out[col] = (float(d.mean()), float(d.std()), int((d > 0).sum()))
    return out


def paired_markdown(runs: list[dict], config: FrameworksConfig,
                    source: str = "cgats") -> str | None:
    """C-GATS's T(R+S)TR F1 minus every other column of Table 3, paired by run (mean ±
    std, runs won); None with one run or without C-GATS among the sources."""
    if len(runs) < 2 or source not in config.augmentations:
        return None
    names = {"TRTR": "w/o Aug. (TRTR)", **SOURCE_NAMES}
    cols = ["TRTR"] + [s for s in config.augmentations if s != source]
    body = []
    for det in config.detectors:
        diff = paired_differences(runs, det, source)
        body.append([registry.LABELS[det]] + [
            f"{diff[c][0]:+.3f} ± {diff[c][1]:.3f} ({diff[c][2]}/{len(runs)})" if c in diff
            else "" for c in cols])
    return "\n".join(tables.markdown(
        ["Detector"] + [f"{names[source]} − {names[c]}" for c in cols], body)) + (
        f"\n\n{names[source]}'s T(R+S)TR F1 minus each column's, paired by run (the same "
        "split and detector key in both): mean ± std over runs (runs where "
        f"{names[source]} is higher / runs). A mean within its std is not a ranking.\n")


def baselines_markdown(rows: list[dict], config: FrameworksConfig, dataset: str) -> str:
    """Table 9's row for ``dataset``: each baseline's F1 without augmentation (TRTR) and
    with C-GATS (T(R+S)TR), then each cell's P / R / F1 and test-oracle F1."""
    look = {(r["detector"], r["framework"], r["source"]): r for r in rows}
    dets, n = config.baseline_detectors, config.n_runs
    label = registry.LABELS
    head = ["Data"] + [f"{label[d]} {c}" for d in dets for c in ("w/o Aug.", "+ C-GATS")]
    row = [dataset] + [_cell(look[(d, *k)], "f1", n) for d in dets
                       for k in (("TRTR", ""), ("T(R+S)TR", "cgats"))]
    detail = [[label[d], fw] + [_cell(look[(d, fw, src)], m, n) for m in
                                ("precision", "recall", "f1", "f1_test_oracle")]
              for d in dets for fw, src in (("TRTR", ""), ("T(R+S)TR", "cgats"))]
    pairs = [(fw, (fw, src)) for fw, src in (("TRTR", ""), ("T(R+S)TR", "cgats"))]
    return "\n".join(tables.markdown(head, [row]) + [""] + tables.markdown(
        ["Detector", "Framework", "P", "R", "F1", "test-oracle F1"], detail)) + (
        f"\n\nPoint-wise F1 on the real test data ({n} run(s)); w/o Aug. = TRTR, + C-GATS "
        f"= T(R+S)TR with C-GATS's set; {_threshold_note(config)}. {ORACLE_NOTE}. "
        f"Labelled share of the training steps: {_share(look, dets[0], pairs)}.\n")


REALISM_COLUMNS = {"runs": "labelled runs", "offset_mean": "run offset",
                   "within_dx_mean": "within-run |Δx|", "length_mean": "run length",
                   "normal_dx_mean": "normal |Δx|",
                   "real_vs_generated_accuracy": "real-vs-generated acc."}


def realism_markdown(runs: list[dict]) -> str | None:
    """Anomaly realism of the real training windows and each generated set, mean (± std)
    over the runs that recorded it; None when none did (runs saved before it)."""
    saved = [r["realism"] for r in runs if "realism" in r]
    if not saved:
        return None
    names = ["real"] + [n for n in saved[0] if n != "real"]
    body = []
    for name in names:
        cells = [GENERATORS.get(name, "real training windows")]
        for col in REALISM_COLUMNS:
            values = np.asarray([r[name].get(col, np.nan) for r in saved], np.float64)
            cells.append("" if np.isnan(values).all() else
                         tables.cell(float(np.nanmean(values)), float(np.nanstd(values)),
                                     len(saved)))
        body.append(cells)
    return "\n".join(tables.markdown(["Set", *REALISM_COLUMNS.values()], body)) + (
        f"\n\nLabelled runs of the real training windows and of each generator's set "
        f"({len(saved)} run(s)): offset = mean |x - the local normal level| over a run "
        "(the line between the last unlabelled values around it), within-run |Δx| (runs "
        "of 2+ steps), normal |Δx| = the roughness of unlabelled steps; real-vs-generated "
        "acc. = held-out accuracy of a classifier telling the set's anomalous windows "
        "from the real ones (0.5 = indistinguishable). jtsgen.evaluate.realism.\n")


def csv(rows: list[dict]) -> str:
    return tables.csv(["detector", "framework", "source", "n_fit", "n_test"] + [
        f"{m}_{s}" for m in METRICS for s in ("mean", "std")], rows)


def write_tables(config: FrameworksConfig, workdir: Path, runs: list[dict],
                 data_note: str, dataset: str = "data", extra: dict | None = None) -> dict:
    """Writes ``results.json`` (with ``extra``), ``frameworks.md``, ``augmentations.md``,
    ``baselines.md`` (when ``baseline_detectors``; its row named ``dataset``),
    ``realism.md`` (when the runs recorded it) and ``cells.csv`` into ``workdir``;
    returns the results. With ``only_runs`` (a part of the runs) it writes nothing and
    returns ``{"runs": runs}``."""
    if config.only_runs:
        print(f"runs {list(config.only_runs)} saved in {workdir / 'runs'}; the same command "
              "without --config.only_runs reads them back and writes the tables", flush=True)
        return {"runs": runs}
    rows = summarise(runs)
    results = {"rows": rows, "runs": runs, "n_runs": config.n_runs, "data": data_note,
               **(extra or {}),
               "metric": "point-wise precision/recall/F1 on each framework's test data",
               "thresholds": f"{config.threshold_from}: {THRESHOLD_FROM[config.threshold_from]}",
               "synthetic_labels": f"{config.synthetic_labels}: "
                                   f"{SYNTHETIC_LABELS[config.synthetic_labels]}",
               "extra_column": "f1_point_adjusted (point-adjusted F1; overestimates quality)",
               "extra_columns": {
                   "f1_test_oracle": "best F1 over thresholds chosen on the test scores "
                                     "(an upper bound, never the headline)",
                   "train_anomaly_share": "share of labelled steps in the framework's "
                                          "training set",
                   "f1_threshold_fit_data": "T(R+S)TR with threshold_from=real_train or "
                                            "real_holdout: the "
                                            "F1 with the threshold chosen on real + "
                                            "synthetic instead"}}
    tables = {"frameworks.md": frameworks_markdown(rows, config),
              "augmentations.md": augmentations_markdown(rows, config, runs)}
    if config.baseline_detectors:
        tables["baselines.md"] = baselines_markdown(rows, config, dataset)
    realism = realism_markdown(runs)
    if realism is not None:
        tables["realism.md"] = realism
    write_outputs(workdir, {"results.json": results}, {**tables, "cells.csv": csv(rows)},
                  show="\n".join(tables.values()))
    return results
