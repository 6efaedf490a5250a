"""C-GATS's stage-2 decoders side by side on Synthetic Sines (one shared stage 1).

``python -m experiments.cgats_decoders [--profile smoke|quick] [--workdir DIR]
[--config.decoders=anomaly_latent,paper,autoregressive] [--config.temperatures=0,1]
[--config.detectors=robusttad,sr_cnn] [--config.key=value ...]``

Data and split: :mod:`experiments.frameworks_sines` (run 0's scaled 80:20 split by
series). Stage 1 is trained once; each decoder of ``decoders`` trains its stage 2
from it (same keys) and generates, at each sampling ``temperature``, one synthetic
set for the training windows' own label vectors. Per (decoder, temperature):

* the temperature ``-1`` stands for the one C-GATS calibrated on the training windows
  (:meth:`~jtsgen.models.cgats.CGATS.calibrate_temperature`);
* anomaly realism (:mod:`jtsgen.evaluate.realism`) against the real training set:
  offset of labelled runs from the normal level, within-run |Δx|, normal |Δx|, and
  the held-out accuracy of a classifier telling real from generated anomalous
  windows (0.5 = indistinguishable);
* label faithfulness (:mod:`jtsgen.evaluate.faithfulness`, on-label share);
* F1 of each detector in TRTR (once), T(R+S)TR and TSTR, thresholds from each
  framework's training data.

Writes ``config.json``, ``results.json`` and ``decoders.md``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from experiments import detectors_sines, frameworks_sines
from experiments.common import check_choices, main, prepare_workdir, write_outputs
from experiments.frameworks_common import check_config
from jtsgen.errors import InputError
from jtsgen.evaluate.faithfulness import label_faithfulness
from jtsgen.evaluate.frameworks import Labelled, evaluate_framework
from jtsgen.evaluate.realism import discriminative_score, summarise_runs
from jtsgen.models.cgats import CGATS, DECODERS

REALISM = ("offset_mean", "within_dx_mean", "normal_dx_mean")


@dataclasses.dataclass(frozen=True)
class Config(frameworks_sines.Config):
    decoders: tuple[str, ...] = DECODERS
    temperatures: tuple[float, ...] = (0.0, 1.0, -1.0)  # -1: the calibrated temperature
    detectors: tuple[str, ...] = ("robusttad", "sr_cnn")
    n_faithfulness: int = 256


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests); quick: frameworks_sines' quick data and training."""
    base = frameworks_sines.get_config(profile)
    return Config(**{f.name: getattr(base, f.name) for f in dataclasses.fields(base)})


def _f1(config: Config, det: str, fw: str, train: Labelled, test: Labelled, synth) -> float:
    def fit(key, x, y):
        return detectors_sines.fit_detector(det, key, x, y, config)

    return evaluate_framework(fw, fit, jax.random.key(11), train, test, synth,
                              seed=config.seed)["f1"]


def run(config: Config, workdir: str | Path) -> dict:
    """Trains stage 1 once, every decoder's stage 2, and measures each; returns results."""
    check_config(config)
    check_choices("--config.decoders", config.decoders, DECODERS)
    if not config.temperatures or any(t < 0 and t != -1 for t in config.temperatures):
        raise InputError("--config.temperatures",
                         f"need values >= 0 or -1 (calibrated), got {config.temperatures}")
    workdir = prepare_workdir(config, workdir)
    train, test = frameworks_sines.split(config, frameworks_sines.make_data(config), 0)
    key = jax.random.key(config.seed)
    base = CGATS(config.model).fit_stage1(jax.random.fold_in(key, 1), train.x_btc, train.y_bt,
                                          progress=False)
    results = {"real": summarise_runs(train.x_btc, train.y_bt), "rows": [],
               "trtr": {d: _f1(config, d, "TRTR", train, test, None) for d in config.detectors}}
    labels = train.y_bt
    y_faith = labels[labels.max(axis=1) > 0][:config.n_faithfulness]
    for dec in config.decoders:
        model = CGATS(dataclasses.replace(config.model, decoder=dec), enc_params=base.enc_params,
                      dec1_params=base.dec1_params, latent_prior=base.latent_prior)
        model.fit_stage2(jax.random.fold_in(key, 2), train.x_btc, train.y_bt, progress=False)
        for temp in config.temperatures:
            def gen(k, y, temp=temp, model=model):
                return model.generate(k, y, temperature=None if temp == -1 else temp)[0]

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
            + [detectors_sines.LABELS[d.split()[0]] + " " + d.split()[1] for d in dets])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    real = results["real"]
    lines.append("| real training data | | " + " | ".join(f"{real[m]:.3f}" for m in REALISM)
                 + " | | |" + " |" * len(dets))
    for r in results["rows"]:
        temp = (f"{r['calibrated']:.2f} (calibrated)" if r["temperature"] == -1
                else f"{r['temperature']:g}")
        cells = [r["decoder"], temp] + [f"{r[m]:.3f}" for m in REALISM]
        cells += [f"{r['on_label_share']:.3f}", f"{r['discriminative']:.3f}"]
        cells += [f"{r[d]:.3f}" for d in dets]
        lines.append("| " + " | ".join(cells) + " |")
    trtr = ", ".join(f"{detectors_sines.LABELS[d]} {f1:.3f}" for d, f1 in results["trtr"].items())
    return "\n".join(lines) + (
        f"\n\nTRTR (no synthetic data): {trtr}. One shared stage 1; synthetic sets for the "
        "training windows' labels; point-wise F1 on the real test series, thresholds from "
        "each framework's training data.\n")


if __name__ == "__main__":
    main("cgats_decoders", get_config, run)
