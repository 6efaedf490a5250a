"""Generative lab, seed 000 Exercise 6: the privacy-utility trade-off of DP-SGD.

``python -m experiments.lab_dp [--profile smoke|quick] [--workdir DIR]
[--config.key=value ...]``. The lab's data (:func:`jtsgen.data.lab_train_holdout`: a
training set and a real hold-out) and its LSTM-VAE, trained with DP-SGD on a grid of
clip norms C x noise multipliers σ, all runs as one vmapped program
(:func:`jtsgen.train.fit_dp_sweep`), plus one run without privacy in the same program
(no clipping, no noise: ε = ∞). Every run is scored at each of ``snapshots`` steps
(ε grows with the steps), so the grid also sweeps the training length. Per (C, σ,
steps): ε at ``delta`` (RDP accountant, Poisson sampling at q = B / N), the last
training losses, the share of clipped per-example gradients, and its samples'
fidelity to the hold-out (ACF distance, MMD², std ratio, TimeGAN's predictive score)
and privacy (membership-inference AUC, training members vs hold-out non-members).

Writes ``config.json``, ``results.json`` (every point), ``dp.md`` (every point,
ordered by ε, and the best utility reached within each ε budget) and
``privacy_utility.png`` (MMD² and predictive score against ε, the frontier drawn,
the non-private run and the i.i.d.-noise reference as lines).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import check_batch_size, check_counts, write_outputs
from jtsgen.data import lab_train_holdout
from jtsgen.data.generators import LAB_DATASETS
from jtsgen.errors import InputError
from jtsgen.evaluate import fidelity as F
from jtsgen.evaluate.privacy import membership_auc
from jtsgen.evaluate.report_plots import save_figure
from jtsgen.evaluate.trained_scores import predictive_score
from jtsgen.models import lstm_vae
from jtsgen.train import (
    DPSettings,
    adam,
    create_state,
    epsilon,
    fit_dp_sweep,
    init_replicas,
    loss_ends,
    sample_rows,
)

UTILITY = ("acf_distance", "mmd2", "std_ratio", "predictive_score")
NO_CLIP = 1e6  # the non-private run's bound: no per-example gradient reaches it


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    dataset: str = "seed000"
    n_train: int = 1024
    n_holdout: int = 256
    seq_len: int = 50
    batch_size: int = 32
    clips: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
    noise_multipliers: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    snapshots: tuple[int, ...] = (300, 1000, 3000)  # training steps at which runs are scored
    delta: float = 1e-4  # below 1 / n_train
    learning_rate: float = 3e-3  # the lab's DP-SGD rate (Adam)
    eval_steps: int = 1000  # the predictive score's network (as the lab)
    steps_per_call: int = 100
    vae: lstm_vae.LSTMVAEConfig = lstm_vae.LSTMVAEConfig(seq_len=50)


def get_config(profile: str = "quick") -> Config:
    """Profiles: smoke (seconds, tests) and quick (CPU minutes; the docs/lab.md figure)."""
    if profile == "smoke":
        return Config(profile=profile, n_train=32, n_holdout=32, seq_len=16, batch_size=8,
                      clips=(0.1, 1.0), noise_multipliers=(1.0,), snapshots=(10, 20),
                      delta=1e-3, eval_steps=20, steps_per_call=10,
                      vae=lstm_vae.LSTMVAEConfig(seq_len=16, hidden=8))
    return Config(profile=profile)


def check(config: Config) -> None:
    check_counts(config, ("n_train", "n_holdout", "seq_len", "eval_steps",
                          "steps_per_call"))
    if config.dataset not in LAB_DATASETS:
        raise InputError("--config.dataset", f"must be one of {LAB_DATASETS}, "
                         f"got {config.dataset!r}")
    for name in ("clips", "noise_multipliers", "snapshots"):
        values = getattr(config, name)
        if not values or any(v <= 0 for v in values):
            raise InputError(f"--config.{name}", f"must be positive numbers, got {values}")
    if list(config.snapshots) != sorted(set(config.snapshots)):
        raise InputError("--config.snapshots", "must be increasing step counts, "
                         f"got {config.snapshots}")
    if not 0 < config.delta < 1:
        raise InputError("--config.delta", f"must be in (0, 1), got {config.delta}")
    check_batch_size(config)


def grid(config: Config) -> list[tuple[float, float]]:
    """``(clip, noise_multiplier)`` of every run: the C x σ grid, then the non-private
    run ``(NO_CLIP, 0)``."""
    return list(itertools.product(config.clips, config.noise_multipliers)) + [(NO_CLIP, 0.0)]


def score(config: Config, train, holdout, synth, key: jax.Array) -> dict:
    """Utility of ``synth`` against the hold-out and its membership-inference AUC."""
    report = F.fidelity_report(holdout, synth)
    out = {m: report[m] for m in UTILITY if m in report}
    out["predictive_score"] = predictive_score(holdout, synth, key, steps=config.eval_steps)
    out["membership_auc"] = membership_auc(train, holdout, synth)
    return out


def sweep(config: Config, train: np.ndarray, holdout: np.ndarray, key: jax.Array) -> list[dict]:
    """Trains every run of :func:`grid` to each snapshot and scores it there; one dict
    per (run, snapshot)."""
    settings = grid(config)
    k = len(settings)
    vae = dataclasses.replace(config.vae, seq_len=config.seq_len, channels=train.shape[-1])
    init_key, fit_key, sample_key, eval_key = jax.random.split(key, 4)
    tx = adam(config.learning_rate)
    # every run starts from the same initial parameters and trains on its own batches
    states = init_replicas(lambda _: create_state(lstm_vae.init_params(init_key, vae), tx),
                           jax.random.split(init_key, k))
    keys = jax.random.split(fit_key, k)
    dp = DPSettings(*map(list, zip(*settings, strict=True)))
    q, n = config.batch_size / config.n_train, len(holdout)
    programs, done, points = {}, 0, []
    losses, clipped = np.zeros((k, 0)), np.zeros((k, 0))
    for steps in config.snapshots:
        states, history = fit_dp_sweep(
            states, jnp.asarray(train), keys, dp, loss_fn=lstm_vae.make_loss_fn(vae),
            sampler=sample_rows(config.batch_size), num_steps=steps - done,
            steps_per_call=min(config.steps_per_call, steps - done), programs=programs)
        done = steps
        losses = np.concatenate([losses, history["loss"]], axis=1)
        clipped = np.concatenate([clipped, history["clipped_share"]], axis=1)
        for r, (clip, sigma) in enumerate(settings):
            params = jax.tree.map(lambda leaf, r=r: leaf[r], states.params)
            synth = np.asarray(lstm_vae.generate(params, sample_key, n, vae), np.float32)
            private = sigma > 0
            points.append({
                "clip": clip if private else None, "noise_multiplier": sigma, "steps": steps,
                "epsilon": epsilon(sigma, q, steps, config.delta) if private else math.inf,
                **dict(zip(("loss_first10", "loss_last10"), loss_ends(losses[r]), strict=True)),
                "clipped_share": float(clipped[r].mean()),
                **score(config, train, holdout, synth, jax.random.fold_in(eval_key, r))})
        print(f"scored {k} runs at {steps} steps", flush=True)
    return points


def noise_reference(config: Config, train, holdout, key: jax.Array) -> dict:
    """The same scores for i.i.d. N(0, 1) values (what a generator that learnt nothing
    of the series scores; ε = 0)."""
    synth = np.asarray(jax.random.normal(key, holdout.shape), np.float32)
    return score(config, train, holdout, synth, key)


def frontier(points: list[dict], metric: str) -> list[dict]:
    """The private points that no point of smaller or equal ε beats on ``metric``
    (lower is better), in order of ε: the best utility within each privacy budget."""
    best, out = math.inf, []
    for p in sorted((p for p in points if math.isfinite(p["epsilon"])),
                    key=lambda p: (p["epsilon"], p[metric])):
        if p[metric] < best:
            best = p[metric]
            out.append(p)
    return out


def _fmt(v) -> str:
    if v is None:
        return "—"
    return "∞" if v == math.inf else f"{v:.4g}" if isinstance(v, float) else str(v)


def markdown(points: list[dict], noise: dict, config: Config) -> str:
    cols = ["clip", "noise_multiplier", "steps", "epsilon", "loss_last10", "clipped_share",
            *UTILITY, "membership_auc"]
    head = "| " + " | ".join(cols) + " |\n|" + "---:|" * len(cols) + "\n"
    rows = sorted(points, key=lambda p: (p["epsilon"], p["steps"]))
    body = "".join("| " + " | ".join(_fmt(p[c]) for c in cols) + " |\n" for p in rows)
    noise_row = "| noise | — | — | 0 | — | — | " + " | ".join(
        _fmt(noise[m]) for m in (*UTILITY, "membership_auc")) + " |\n"
    front = "\n".join(
        f"* {metric}: " + ", ".join(f"ε {p['epsilon']:.3g} → {p[metric]:.4f} (C {p['clip']:g}, "
                                    f"σ {p['noise_multiplier']:g}, {p['steps']} steps)"
                                    for p in frontier(points, metric))
        for metric in ("mmd2", "predictive_score"))
    return (head + body + noise_row
            + f"\nδ = {config.delta:g}, q = {config.batch_size}/{config.n_train} (RDP "
              "accountant, Poisson sampling assumed; batches drawn fixed-size with "
              "replacement). ε = ∞: the same run without clipping or noise. Best utility "
              f"within each ε budget (lower is better):\n\n{front}\n")


def plot(points: list[dict], noise: dict, path: Path) -> Path:
    """MMD² and predictive score against ε: every private point coloured by its clip
    norm, marker by its step count; the frontier as a line; the non-private runs'
    best and the noise reference as horizontal lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    private = [p for p in points if math.isfinite(p["epsilon"])]
    clips = sorted({p["clip"] for p in private})
    steps = sorted({p["steps"] for p in private})
    colours = plt.cm.viridis(np.linspace(0, 0.9, len(clips)))
    markers = "os^Dv<>"
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, metric in zip(axes, ("mmd2", "predictive_score"), strict=True):
        for p in private:
            ax.scatter(p["epsilon"], p[metric], color=colours[clips.index(p["clip"])],
                       marker=markers[steps.index(p["steps"]) % len(markers)], alpha=0.8, s=28)
        front = frontier(points, metric)
        ax.step([p["epsilon"] for p in front], [p[metric] for p in front], where="post",
                color="black", lw=1.2, label="best within ε")
        free = min(p[metric] for p in points if not math.isfinite(p["epsilon"]))
        ax.axhline(free, color="tab:green", ls="--", lw=1, label="no DP (ε = ∞)")
        ax.axhline(noise[metric], color="tab:red", ls=":", lw=1, label="i.i.d. noise")
        ax.set_xscale("log")
        ax.set_xlabel("ε (δ fixed)")
        ax.set_ylabel(f"{metric} (lower is better)")
    for i, c in enumerate(clips):
        axes[0].scatter([], [], color=colours[i], label=f"C = {c:g}")
    for i, s in enumerate(steps):
        axes[0].scatter([], [], color="grey", marker=markers[i % len(markers)],
                        label=f"{s} steps")
    axes[0].legend(fontsize=7, ncol=2)
    fig.suptitle("DP-SGD LSTM-VAE: privacy against utility")
    fig.tight_layout()
    return save_figure(fig, path)


def run(config: Config, workdir: str | Path) -> dict:
    """Trains the sweep, scores every snapshot, writes the table, JSON and figure."""
    check(config)
    workdir = prepare_workdir(config, workdir)
    train, holdout = lab_train_holdout(config.dataset, config.n_train, config.n_holdout,
                                       config.seq_len, config.seed)
    sweep_key, noise_key = jax.random.split(jax.random.key(config.seed))
    points = sweep(config, train, holdout, sweep_key)
    noise = noise_reference(config, train, holdout, noise_key)
    def as_json(p):  # the non-private run's ε = ∞ is written as null
        return {**p, "epsilon": p["epsilon"] if math.isfinite(p["epsilon"]) else None}

    results = {"points": [as_json(p) for p in points], "noise": noise,
               "epsilon_null": "the run without clipping or noise (ε = ∞)",
               "frontier": {m: frontier(points, m) for m in ("mmd2", "predictive_score")}}
    plot(points, noise, workdir / "privacy_utility.png")
    text = markdown(points, noise, config)
    write_outputs(workdir, {"results.json": results}, {"dp.md": text}, show=text)
    return results


if __name__ == "__main__":
    main("lab_dp", get_config, run)
