"""Seed 000, Exercise 3: anomaly preservation of the generative lab's generators.

``python -m experiments.lab_anomaly_preservation [--profile smoke|quick] [--workdir DIR]
[--config.lab_dir=LAB] [--config.key=value ...]``. Reads ``LAB/samples.npz`` and
``LAB/config.json`` of a finished ``experiments.lab_timeseries`` run (default
``runs/lab_timeseries``, that experiment's own default work directory: run
``python -m experiments.lab_timeseries`` first). The rule of
:mod:`jtsgen.evaluate.anomaly_preservation` (Spectral Residual score, threshold = the
``quantile`` of the real *training* scores) is applied to the real hold-out and to every
generator's samples; score distributions are compared with the hold-out. For seed 000
data the spike labels are regenerated from the lab's config (checked against the saved
series) and the rule's recall on them is reported. Writes ``config.json``,
``results.json`` and ``table.md`` (one row per generator).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import write_outputs
from jtsgen.data.generators import make_trend_seasonal_spikes
from jtsgen.errors import InputError
from jtsgen.evaluate import anomaly_preservation as AP

GENERATORS = ("copy", "noise", "lstm_vae", "lstm_vae_dp", "ddpm")


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    # a finished experiments.lab_timeseries work directory (its default one)
    lab_dir: str = "runs/lab_timeseries"
    quantile: float = AP.DEFAULT_QUANTILE  # threshold = this quantile of real train scores


def get_config(profile: str = "quick") -> Config:
    """The profiles differ only in name: the work is the lab run's (``lab_dir``)."""
    return Config(profile=profile)


def check_config(config: Config) -> None:
    """Raises :class:`InputError` naming the ``--config.`` flag of a bad value."""
    if not 0.0 < config.quantile <= 1.0:
        raise InputError("--config.quantile", f"must be in (0, 1], got {config.quantile}")
    lab = Path(config.lab_dir)
    for name in ("samples.npz", "config.json"):
        if not (lab / name).is_file():
            raise InputError("--config.lab_dir", f"{lab} has no {name}; give the work "
                             "directory of a finished run of `python -m "
                             "experiments.lab_timeseries --workdir DIR`")


def load_lab(config: Config) -> tuple[dict, dict[str, np.ndarray]]:
    """``(lab config dict, {"train", "holdout", generator: [B, T, C]})`` of the lab run in
    ``config.lab_dir``."""
    lab = Path(config.lab_dir)
    lab_config = json.loads((lab / "config.json").read_text())
    with np.load(lab / "samples.npz") as f:
        arrays = {k: np.asarray(f[k], np.float32) for k in f.files}
    missing = {"train", "holdout"} - set(arrays)
    if missing:
        raise InputError("--config.lab_dir", f"samples.npz lacks {sorted(missing)}")
    return lab_config, arrays


def spike_labels(lab_config: dict, train: np.ndarray, holdout: np.ndarray):
    """``(y_train [n_train, T], y_holdout [n_holdout, T])`` regenerated from the lab's
    seed 000 settings, or ``(None, None)`` if the data is not seed 000 or the
    regenerated (z-normalised) series do not match the saved ones."""
    if lab_config.get("dataset", "seed000") != "seed000":
        return None, None
    n_train, n_hold = len(train), len(holdout)
    data = make_trend_seasonal_spikes(n_train + n_hold, train.shape[1],
                                      int(lab_config.get("seed", 0)))
    x = data.x_btc
    x = (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-6)
    if not (np.allclose(x[:n_train], train, atol=1e-4)
            and np.allclose(x[n_train:], holdout, atol=1e-4)):
        return None, None
    return data.y_bt[:n_train], data.y_bt[n_train:]


def markdown(report: dict) -> str:
    """One row per set: anomaly rate, score quantiles, KS and Wasserstein vs the hold-out."""
    qcols = [f"q{100 * p:g}" for p in AP.QUANTILES]
    head = ("| set | anomaly rate | rate / real | " + " | ".join(f"score {c}" for c in qcols)
            + " | KS vs real | Wasserstein vs real |\n|---" + "|---:" * (4 + len(qcols)) + "|\n")

    def line(name, row, real=False):
        cells = [f"{row['rate']:.4f}", "1.00" if real else f"{row['rate_ratio']:.2f}"]
        cells += [f"{row[c]:.3f}" for c in qcols]
        cells += ["0" if real else f"{row['ks']:.3f}", "0" if real else f"{row['wasserstein']:.3f}"]
        return f"| {name} | " + " | ".join(cells) + " |\n"

    body = line("real train (sets the threshold)", report["train"], real=True)
    body += line("real hold-out", report["real"], real=True)
    body += "".join(line(name, row) for name, row in report["rows"].items())
    note = (f"\nRule: Spectral Residual score (max over channels), anomalous when above "
            f"{report['threshold']:.4f}, the {report['quantile']:g} quantile of the real "
            "training scores; the same threshold for every set. KS / Wasserstein: all step "
            "scores of the set vs the real hold-out's.")
    if "recall_train" in report:
        note += (f" Recall on the real spike labels: {report['recall_train']:.3f} (train), "
                 f"{report['recall_real']:.3f} (hold-out); labelled share of train steps "
                 f"{report['label_rate_train']:.4f}.")
    return head + body + note + "\n"


def run(config: Config, workdir: str | Path) -> dict:
    """Loads the lab run's samples, applies the rule, writes the table."""
    check_config(config)
    workdir = prepare_workdir(config, workdir)
    lab_config, arrays = load_lab(config)
    train, holdout = arrays["train"], arrays["holdout"]
    synthetic = {g: arrays[g] for g in GENERATORS if g in arrays}
    synthetic.update({g: x for g, x in arrays.items()
                      if g not in synthetic and g not in ("train", "holdout")})
    y_train, y_hold = spike_labels(lab_config, train, holdout)
    report = AP.preservation_report(train, holdout, synthetic, y_train_bt=y_train,
                                    y_real_bt=y_hold, quantile=config.quantile)
    if y_train is not None:
        report["label_rate_train"] = float(np.mean(y_train))
    report["lab_profile"] = lab_config.get("profile")
    report["lab_dir"] = config.lab_dir
    table = markdown(report)
    write_outputs(workdir, {"results.json": report}, {"table.md": table}, show=table)
    return report


if __name__ == "__main__":
    main("lab_anomaly_preservation", get_config, run)
