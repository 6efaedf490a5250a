"""Seed 001 end to end: VAE reconstruction-error anomaly detection, latent sweep 5/10/20.

``python -m experiments.vae_anomaly [--profile smoke|quick|paper] [--workdir DIR]
[--config.key=value ...]``

Data: :func:`jtsgen.data.make_periodic_multifeature` (10 features, 10,000 steps, 5%
anomalous steps), not normalised by the generator. The first 80% of the time steps
are the training part, the rest the test part (chronological; windows are cut
inside each part, so none straddles the boundary). A standard scaler is fitted on
the training part only. For every latent size the window VAE of
:mod:`jtsgen.detect.vae_detector` is trained on the training windows (50 steps,
stride 1); thresholds are the 95th percentile of the *training* reconstruction
errors (seed 001 used the test errors). Latent sizes change parameter shapes, so
the three models train as separate compiled runs, not one vmapped program.

Reported on the test part, per latent: window-level precision/recall/F1 (a window
is anomalous if any of its steps is, as in seed 001) and point-level
precision/recall/F1 (per-step scores, see the detector). With 5% anomalous steps
spread at random, most windows of 50 contain one (``window_anomaly_rate`` in the
results), which caps window-level recall at a 95th-percentile threshold.

Writes ``config.json``, ``results.json``, ``table.csv`` and ``table.md``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import write_outputs
from jtsgen.data import fit_standard_scaler, make_periodic_multifeature, split_chronological
from jtsgen.detect import vae_detector
from jtsgen.evaluate import tables
from jtsgen.metrics import point_prf
from jtsgen.train import loss_ends

COLUMNS = ("latent", "window_precision", "window_recall", "window_f1",
           "point_precision", "point_recall", "point_f1")


@dataclasses.dataclass(frozen=True)
class Config:
    """Experiment config; ``detector.latent`` is replaced by each entry of ``latents``."""

    profile: str = "quick"
    seed: int = 0
    n_steps: int = 10_000
    n_features: int = 10
    anomaly_frac: float = 0.05
    train_frac: float = 0.8
    latents: tuple[int, ...] = (5, 10, 20)
    detector: vae_detector.Config = vae_detector.Config(num_steps=1500)


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests); quick: full data, short training (CPU, < 3 min); paper:
    full data, ~50 epochs of the 7,951 training windows at batch 64."""
    if profile == "smoke":
        det = vae_detector.Config(hidden=(32, 16), batch_size=32, num_steps=40,
                                  steps_per_call=20)
        return Config(profile=profile, n_steps=1200, detector=det)
    if profile == "paper":
        return Config(profile=profile, detector=vae_detector.Config(num_steps=6200,
                                                                    steps_per_call=200))
    return Config(profile=profile)


def _prf(y_true, y_pred) -> tuple[float, float, float]:
    return tuple(float(v) for v in point_prf(np.asarray(y_true), np.asarray(y_pred)))


def evaluate(fitted, x_btc: np.ndarray, y_bt: np.ndarray) -> dict:
    """Window- and point-level P/R/F1 of ``fitted`` on ``(x_btc, y_bt)``."""
    cfg = fitted.info["config"]
    starts = vae_detector.window_starts(x_btc.shape[1], cfg.window, cfg.stride)
    idx = starts[:, None] + np.arange(cfg.window)[None, :]
    win_true = (y_bt[:, idx] > 0).any(axis=-1)
    win_pred = vae_detector.score_windows(fitted, x_btc) >= fitted.info["window_threshold"]
    wp, wr, wf = _prf(win_true, win_pred)
    pp, pr, pf = _prf(y_bt, fitted.predict(x_btc))
    return {"window_precision": wp, "window_recall": wr, "window_f1": wf,
            "point_precision": pp, "point_recall": pr, "point_f1": pf,
            "window_anomaly_rate": float(win_true.mean()), "n_windows": int(win_true.size)}


def markdown(rows: list[dict]) -> str:
    """The results table in Markdown, one row per latent size."""
    body = [[str(r["latent"])] + [f"{r[c]:.3f}" for c in COLUMNS[1:]] for r in rows]
    return "\n".join(tables.markdown(COLUMNS, body)) + "\n"


def csv(rows: list[dict]) -> str:
    lines = [",".join(COLUMNS)]
    lines += [",".join(str(r[c]) for c in COLUMNS) for r in rows]
    return "\n".join(lines) + "\n"


def load_data(config: Config) -> tuple[np.ndarray, ...]:
    """The series split chronologically and scaled by a scaler fitted on the training
    part: ``(x_train [1, T1, C], y_train [1, T1], x_test [1, T2, C], y_test [1, T2])``."""
    data = make_periodic_multifeature(config.n_steps, config.n_features, config.seed,
                                      anomaly_frac=config.anomaly_frac, normalize=False)
    split = split_chronological(config.n_steps, train_frac=config.train_frac)
    scaler = fit_standard_scaler(data.x_tc[split.train])
    return (scaler.transform(data.x_tc[split.train])[None], data.y_t[split.train][None],
            scaler.transform(data.x_tc[split.test])[None], data.y_t[split.test][None])


def run(config: Config, workdir: str | Path) -> dict:
    """Generates, splits, scales, trains one detector per latent; returns ``results.json``."""
    workdir = prepare_workdir(config, workdir)
    x_train, y_train, x_test, y_test = load_data(config)
    rows = []
    for i, latent in enumerate(config.latents):
        det_cfg = dataclasses.replace(config.detector, latent=latent)
        key = jax.random.fold_in(jax.random.key(config.seed), i)
        start = time.perf_counter()
        fitted = vae_detector.fit(key, x_train, y_train, det_cfg)
        seconds = time.perf_counter() - start
        loss = fitted.info["history"]["loss"]
        row = {"latent": latent, **evaluate(fitted, x_test, y_test),
               "step_threshold": fitted.threshold,
               "window_threshold": fitted.info["window_threshold"],
               "loss_first10_mean": loss_ends(loss)[0],
               "loss_last10_mean": loss_ends(loss)[1], "fit_seconds": seconds}
        rows.append(row)
        print(f"latent {latent}: window F1 {row['window_f1']:.3f}, point F1 "
              f"{row['point_f1']:.3f} (loss {row['loss_first10_mean']:.1f} -> "
              f"{row['loss_last10_mean']:.1f}, {seconds:.1f}s)")
    results = {
        "rows": rows,
        "threshold_source": f"{config.detector.percentile:g}th percentile of training errors",
        "n_train_steps": int(x_train.shape[1]), "n_test_steps": int(x_test.shape[1]),
        "test_anomaly_rate": float(y_test.mean()),
    }
    table = markdown(rows)
    write_outputs(workdir, {"results.json": results},
                  {"table.csv": csv(rows), "table.md": table}, show=table)
    return results


if __name__ == "__main__":
    main("vae_anomaly", get_config, run)
