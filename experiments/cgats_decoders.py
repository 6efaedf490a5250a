"""C-GATS's stage-2 decoders side by side on Synthetic Sines (one shared stage 1).

``python -m experiments.cgats_decoders [--profile smoke|quick] [--workdir DIR]
[--config.decoders=anomaly_latent,paper,autoregressive] [--config.temperatures=0,1]
[--config.detectors=robusttad,sr_cnn] [--config.key=value ...]``

Data and split: :mod:`experiments.frameworks_sines` (run 0's scaled 80:20 split by
series). Stage 1 is trained once; each decoder of ``decoders`` trains its stage 2
from it (same keys) and generates, at each sampling ``temperature``, one synthetic
set of whole windows (z from the fitted prior; ``cgats_from`` does not apply here) for
the training windows' own label vectors. Per (decoder, temperature):

* the temperature ``-1`` stands for the one C-GATS calibrated on the training windows
  (:func:`~jtsgen.models.cgats.calibrate_temperature`);
* anomaly realism (:mod:`jtsgen.evaluate.realism`) against the real training set:
  offset of labelled runs from the normal level, within-run |Δx|, normal |Δx|, and
  the held-out accuracy of a classifier telling real from generated anomalous
  windows (0.5 = indistinguishable);
* label faithfulness (:mod:`jtsgen.evaluate.faithfulness`, on-label share);
* F1 of each detector in TRTR (once), T(R+S)TR and TSTR, fitted and thresholded as
  in the framework runner (:func:`~jtsgen.evaluate.framework_runner.detector_fit`:
  ``detector_steps``, ``class_weight_from``, ``threshold_from``; the committed tables
  of 2026-12-03 predate these and ran at fixed steps with thresholds on all of each
  framework's training data).

Writes ``config.json``, ``results.json`` and ``decoders.md``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import check_choices, write_outputs
from jtsgen.data import make_sines, scaled_split
from jtsgen.data.labelled import Labelled
from jtsgen.detect import registry
from jtsgen.errors import InputError
from jtsgen.evaluate import tables
from jtsgen.evaluate.faithfulness import label_faithfulness
from jtsgen.evaluate.framework_runner import (
    FrameworksConfig,
    check_config,
    detector_fit,
    profile_settings,
)
from jtsgen.evaluate.frameworks import evaluate_framework
from jtsgen.evaluate.realism import discriminative_score, summarise_runs
from jtsgen.models import cgats
from jtsgen.models.cgats import DECODERS

REALISM = ("offset_mean", "within_dx_mean", "normal_dx_mean")


@dataclasses.dataclass(frozen=True)
class Config(FrameworksConfig):
    n_series: int = 2000  # Synthetic Sines as in frameworks_sines
    freq_range: tuple[float, ...] = (0.0, 0.05)
    anomaly_prob: float = 0.5
    kinds: tuple[str, ...] = ("point", "level_shift")
    train_frac: float = 0.8
    decoders: tuple[str, ...] = DECODERS
    temperatures: tuple[float, ...] = (0.0, 1.0, -1.0)  # -1: the calibrated temperature
    detectors: tuple[str, ...] = ("robusttad", "sr_cnn")
    n_faithfulness: int = 256


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests); quick: frameworks_sines' quick data and training."""
    if profile == "smoke":
        return Config(profile=profile, n_series=60, **profile_settings("smoke"))
    if profile == "paper":
        return Config(profile=profile, n_series=10_000, **profile_settings("paper"))
    return Config(profile=profile)


def _f1(config: Config, det: str, fw: str, train: Labelled, test: Labelled, synth) -> float:
    return evaluate_framework(fw, detector_fit(config, det, train, fw), jax.random.key(11), train,
                              test, synth, seed=config.seed,
                              threshold_from=config.threshold_from)["f1"]


def run(config: Config, workdir: str | Path) -> dict:
    """Trains stage 1 once, every decoder's stage 2, and measures each; returns results."""
    check_config(config)
    check_choices("--config.decoders", config.decoders, DECODERS)
    if not config.temperatures or any(t < 0 and t != -1 for t in config.temperatures):
        raise InputError("--config.temperatures",
                         f"need values >= 0 or -1 (calibrated), got {config.temperatures}")
    workdir = prepare_workdir(config, workdir)
    data = make_sines(config.n_series, config.seed, length=config.model.seq_len,
                      anomaly_prob=config.anomaly_prob, kinds=config.kinds,
                      freq_range=tuple(config.freq_range))
    split = scaled_split(data.x_btc, data.y_bt, train_frac=config.train_frac, seed=config.seed)
    train, test = split.train, split.test
    key = jax.random.key(config.seed)
    base, _ = cgats.fit_stage1(cgats.CGATSState(config.model), jax.random.fold_in(key, 1),
                               train.x_btc, train.y_bt, progress=False)
    results = {"real": summarise_runs(train.x_btc, train.y_bt), "rows": [],
               "trtr": {d: _f1(config, d, "TRTR", train, test, None) for d in config.detectors}}
    labels = train.y_bt
    y_faith = labels[labels.max(axis=1) > 0][:config.n_faithfulness]
    for dec in config.decoders:
        model, _ = cgats.fit_stage2(base.replace(config=dataclasses.replace(
            config.model, decoder=dec)), jax.random.fold_in(key, 2), train.x_btc, train.y_bt,
            progress=False)
        for temp in config.temperatures:
            def gen(k, y, temp=temp, model=model):
                return cgats.generate(model, k, y, temperature=None if temp == -1 else temp)

            x = gen(jax.random.key(6), labels)
            synth = Labelled(x.astype(np.float32), labels.astype(np.float32))
            row = {"decoder": dec, "temperature": temp, "calibrated": model.temperature,
                   **summarise_runs(x, labels)}
            row["on_label_share"] = label_faithfulness(
                gen(jax.random.key(7), y_faith), gen(jax.random.key(7), 0 * y_faith),
                y_faith)["on_label_share"]
            row["discriminative"] = discriminative_score(train.x_btc, train.y_bt, x, labels,
                                                         seed=config.seed)
            for det in config.detectors:
                for fw in ("T(R+S)TR", "TSTR"):
                    row[f"{det} {fw}"] = _f1(config, det, fw, train, test, synth)
            results["rows"].append(row)
            print(row, flush=True)
    table = markdown(results, config)
    write_outputs(workdir, {"results.json": results}, {"decoders.md": table}, show=table)
    return results


def markdown(results: dict, config: Config) -> str:
    """One row per (decoder, temperature) plus the real data's row."""
    dets = [f"{d} {fw}" for d in config.detectors for fw in ("T(R+S)TR", "TSTR")]
    head = (["decoder", "T"] + ["run offset", "within-run |Δx|", "normal |Δx|",
                                "on-label share", "real-vs-generated acc."]
            + [registry.LABELS[d.split()[0]] + " " + d.split()[1] for d in dets])
    real = results["real"]
    body = [["real training data", ""] + [f"{real[m]:.3f}" for m in REALISM]
            + [""] * (2 + len(dets))]
    for r in results["rows"]:
        temp = (f"{r['calibrated']:.2f} (calibrated)" if r["temperature"] == -1
                else f"{r['temperature']:g}")
        body.append([r["decoder"], temp] + [f"{r[m]:.3f}" for m in REALISM]
                    + [f"{r['on_label_share']:.3f}", f"{r['discriminative']:.3f}"]
                    + [f"{r[d]:.3f}" for d in dets])
    lines = tables.markdown(head, body)
    trtr = ", ".join(f"{registry.LABELS[d]} {f1:.3f}" for d, f1 in results["trtr"].items())
    return "\n".join(lines) + (
        f"\n\nTRTR (no synthetic data): {trtr}. One shared stage 1; synthetic sets for the "
        "training windows' labels; point-wise F1 on the real test series, thresholds from "
        "each framework's training data.\n")


if __name__ == "__main__":
    main("cgats_decoders", get_config, run)
