"""Seed 000 end to end: train the LSTM-VAE on trend+seasonal+spike series, generate, compare.

``python -m experiments.lstm_vae [--profile smoke|quick|paper] [--workdir DIR]
[--config.key=value ...]`` writes ``config.json``, ``results.json`` (loss curve,
fidelity numbers), ``fidelity.md`` and ``samples.png`` to the work directory and
checkpoints under ``checkpoints/`` (re-running resumes).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import write_json
from jtsgen.data.generators import make_trend_seasonal_spikes
from jtsgen.evaluate.fidelity import fidelity_report, markdown_table
from jtsgen.evaluate.report_plots import save_figure
from jtsgen.models import lstm_vae
from jtsgen.train import (
    FitResult,
    adam,
    create_state,
    fit,
    local_mesh,
    loss_ends,
    per_device_rows,
    sample_rows,
    to_default_device,
)


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    n_series: int = 100  # seed 000's trend + seasonal + spike series to train on
    batch_size: int = 16
    num_steps: int = 1000
    steps_per_call: int = 50  # optimiser steps fused into one compiled call
    checkpoint_every: int = 500  # steps between orbax checkpoints (a rerun resumes)
    n_generate: int = 100  # samples drawn for the fidelity numbers and the plot
    # train data parallel over this many local devices, each taking
    # batch_size / devices rows; on the command line a CPU is split into one
    # device per core
    devices: int = 1
    model: lstm_vae.LSTMVAEConfig = lstm_vae.LSTMVAEConfig()


def get_config(profile: str = "quick") -> Config:
    """Profiles: smoke (seconds, tests), quick (CPU minutes), paper (seed 000: 30 epochs)."""
    if profile == "smoke":
        return Config(profile=profile, n_series=32, num_steps=40, steps_per_call=20,
                      checkpoint_every=20, n_generate=16,
                      model=lstm_vae.LSTMVAEConfig(seq_len=50))
    if profile == "paper":  # the seed: 100 series, batch 16, 30 epochs of 7 batches
        return Config(profile=profile, num_steps=30 * 7, steps_per_call=30, checkpoint_every=0)
    return Config(profile=profile)


def load_data(config: Config) -> np.ndarray:
    """Trend + seasonal + spike series, each normalised to zero mean, unit std: ``[N, T, 1]``."""
    x = make_trend_seasonal_spikes(config.n_series, config.model.seq_len, config.seed).x_btc
    return (x - x.mean(axis=1, keepdims=True)) / (x.std(axis=1, keepdims=True) + 1e-6)


def train(config: Config, x_btc: np.ndarray, init_key: jax.Array, train_key: jax.Array, *,
          checkpoint_dir: Path | None = None, progress: bool = True) -> FitResult:
    """Initialises and trains the LSTM-VAE on ``x_btc [N, T, 1]`` (over ``config.devices``
    devices, the state then replicated on them); checkpoints in ``checkpoint_dir``."""
    m = config.model
    state = create_state(lstm_vae.init_params(init_key, m), adam(m.learning_rate))
    mesh = local_mesh(config.devices)
    return fit(
        state, jax.numpy.asarray(x_btc), train_key, mesh=mesh,
        loss_fn=lstm_vae.make_loss_fn(m),
        sampler=sample_rows(per_device_rows(config.batch_size, mesh)),
        num_steps=config.num_steps, steps_per_call=config.steps_per_call,
        checkpoint_dir=checkpoint_dir, checkpoint_every=config.checkpoint_every,
        progress=progress, desc="lstm_vae",
    )


def run(config: Config, workdir: str | Path) -> dict:
    """Trains, generates and evaluates; returns the results written to ``results.json``."""
    workdir = prepare_workdir(config, workdir)
    m = config.model
    x = load_data(config)
    init_key, train_key, gen_key = jax.random.split(jax.random.key(config.seed), 3)
    result = train(config, x, init_key, train_key, checkpoint_dir=workdir / "checkpoints")
    params = to_default_device(result.state.params)
    fake = np.asarray(lstm_vae.generate(params, gen_key, config.n_generate, m))
    fidelity = fidelity_report(x[:, :, 0], fake[:, :, 0])
    losses = result.history["loss"]
    results = {
        "loss_first": losses[0], "loss_last": losses[-1],
        "loss_first10_mean": loss_ends(losses)[0],
        "loss_last10_mean": loss_ends(losses)[1],
        "history": result.history, "fidelity": fidelity,
    }
    write_json(workdir / "results.json", results)
    (workdir / "fidelity.md").write_text(markdown_table(fidelity))
    _plot(x[:4, :, 0], fake[:4, :, 0], workdir / "samples.png")
    print(f"lstm_vae: loss {results['loss_first10_mean']:.4f} -> "
          f"{results['loss_last10_mean']:.4f} over {len(losses)} steps")
    print(markdown_table(fidelity))
    print(f"results in {workdir}")
    return results


def _plot(real_bt: np.ndarray, fake_bt: np.ndarray, path: Path) -> None:
    import matplotlib.pyplot as plt  # Agg: set by jtsgen.evaluate.report_plots

    fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
    axes[0].plot(real_bt.T, lw=1)
    axes[0].set_title("real (normalised)")
    axes[1].plot(fake_bt.T, lw=1)
    axes[1].set_title("LSTM-VAE samples")
    fig.tight_layout()
    save_figure(fig, path)


if __name__ == "__main__":
    main("lstm_vae", get_config, run)
