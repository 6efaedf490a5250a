"""Generative lab (issue 23): every fidelity and privacy metric for several generators.

``python -m experiments.lab_timeseries [--profile smoke|quick] [--workdir DIR]
[--config.key=value ...]``. Seed 000 series (trend + seasonal + spikes, each
z-normalised) are split into a training set and a real hold-out of equal size.
Trained on the training set: the LSTM-VAE, the same LSTM-VAE under DP-SGD, and the
seed's MLP DDPM; two references: ``copy`` (the training records themselves: ideal
fidelity, worst privacy) and ``noise`` (i.i.d. N(0, 1) values). Each generator's
samples are compared with the hold-out (fidelity) and with train vs hold-out
(privacy). Writes ``config.json``, ``results.json``, ``lab.md`` (one row per
generator), ``samples.npz`` (the data and every generator's samples) and report
plots under ``plots_<generator>/``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import write_json
from jtsgen.data import lab_train_holdout
from jtsgen.errors import InputError
from jtsgen.evaluate import fidelity as F
from jtsgen.evaluate.privacy import privacy_report
from jtsgen.evaluate.report_plots import save_report
from jtsgen.evaluate.trained_scores import trained_scores
from jtsgen.models import ddpm, lstm_vae
from jtsgen.train import (
    adam,
    create_state,
    epsilon,
    fit,
    fit_dp,
    loss_ends,
    poisson_capacity,
    poisson_rows,
    sample_rows,
)

FIDELITY = ("acf_distance", "trend_distance", "std_ratio", "spectral_distance", "mmd2",
            "discriminative_score", "predictive_score", "context_fid")
PRIVACY = ("dcr_ratio", "share_closer_to_train", "nndr_train_median", "membership_auc")


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    # "seed000": trend + seasonal + spikes, univariate; "seed003": hourly 3-channel
    # series (Exercise 2), non-overlapping windows of seq_len hours
    dataset: str = "seed000"
    n_train: int = 1024
    n_holdout: int = 256
    seq_len: int = 50
    batch_size: int = 32
    vae_steps: int = 1500
    ddpm_steps: int = 4000
    dp_steps: int = 1000
    dp_clip: float = 0.1
    dp_noise_multiplier: float = 1.0
    dp_delta: float = 1e-4  # below 1 / n_train
    # clipped updates stay stable at a larger step than plain Adam (1e-3, the seed's)
    dp_learning_rate: float = 3e-3
    # "fixed": batches of batch_size rows drawn with replacement (ε then approximates);
    # "poisson": each row joins with rate batch_size / n_train (the sampler ε assumes)
    dp_sampler: str = "fixed"
    eval_steps: int = 1000  # discriminative / predictive networks (300 missed a collapse)
    encoder_steps: int = 200  # context-FID encoder
    steps_per_call: int = 100
    plots: tuple[str, ...] = ("lstm_vae", "lstm_vae_dp", "ddpm")  # report plots for these
    vae: lstm_vae.LSTMVAEConfig = lstm_vae.LSTMVAEConfig(seq_len=50)
    ddpm: ddpm.DDPMConfig = ddpm.DDPMConfig(seq_len=50)


def get_config(profile: str = "quick") -> Config:
    """Profiles: smoke (seconds, tests) and quick (CPU minutes; the docs/lab.md table)."""
    if profile == "smoke":
        return Config(profile=profile, n_train=32, n_holdout=32, seq_len=16, batch_size=8,
                      vae_steps=20, ddpm_steps=20, dp_steps=20, eval_steps=20,
                      encoder_steps=20, steps_per_call=20, dp_delta=1e-3, plots=("ddpm",),
                      vae=lstm_vae.LSTMVAEConfig(seq_len=16, hidden=8),
                      ddpm=ddpm.DDPMConfig(seq_len=16, num_timesteps=10))
    return Config(profile=profile)


def load_data(config: Config) -> tuple[np.ndarray, np.ndarray]:
    """``(train [n_train, T, C], holdout [n_holdout, T, C])``: disjoint windows, each
    channel of each window z-normalised (:func:`jtsgen.data.lab_train_holdout`)."""
    return lab_train_holdout(config.dataset, config.n_train, config.n_holdout,
                             config.seq_len, config.seed)


class TrainKeys(NamedTuple):
    """:func:`train_generators`' keys by purpose (one ``split(key, 8)``, in this order;
    the DP run starts from the plain VAE's initial parameters, both samplers share one)."""

    vae_init: jax.Array
    vae_fit: jax.Array
    dp_fit: jax.Array
    ddpm_init: jax.Array
    ddpm_fit: jax.Array
    vae_sample: jax.Array
    ddpm_sample: jax.Array
    noise: jax.Array


def dp_sampler(config: Config, n: int):
    """The DP-SGD run's sampler (``config.dp_sampler``) over ``n`` training series."""
    if config.dp_sampler == "fixed":
        return sample_rows(config.batch_size)
    if config.dp_sampler == "poisson":
        rate = config.batch_size / n
        return poisson_rows(rate, poisson_capacity(n, rate))
    raise InputError("--config.dp_sampler", f"must be fixed or poisson, got {config.dp_sampler!r}")


def train_generators(config: Config, train: np.ndarray, key: jax.Array) -> tuple[dict, dict]:
    """Samples ``{name: [n_holdout, T, 1]}`` of every generator and training facts."""
    keys = TrainKeys(*jax.random.split(key, 8))
    n, data, c = config.n_holdout, jnp.asarray(train), train.shape[-1]
    config = dataclasses.replace(  # the networks take the data's channels and length
        config, vae=dataclasses.replace(config.vae, seq_len=config.seq_len, channels=c),
        ddpm=dataclasses.replace(config.ddpm, seq_len=config.seq_len, channels=c))
    common = dict(sampler=sample_rows(config.batch_size), steps_per_call=config.steps_per_call,
                  progress=False)
    vae_loss = lstm_vae.make_loss_fn(config.vae)
    vae = fit(create_state(lstm_vae.init_params(keys.vae_init, config.vae),
                           adam(config.vae.learning_rate)), data, keys.vae_fit, loss_fn=vae_loss,
              num_steps=config.vae_steps, **common)
    dp_run = fit_dp(create_state(lstm_vae.init_params(keys.vae_init, config.vae),
                                 adam(config.dp_learning_rate)), data, keys.dp_fit,
                    loss_fn=vae_loss, num_steps=config.dp_steps, clip=config.dp_clip,
                    noise_multiplier=config.dp_noise_multiplier,
                    **(common | {"sampler": dp_sampler(config, len(train))}))
    dm = fit(create_state(ddpm.init_params(keys.ddpm_init, config.ddpm),
                          adam(config.ddpm.learning_rate)), data, keys.ddpm_fit,
             loss_fn=ddpm.make_loss_fn(config.ddpm), num_steps=config.ddpm_steps, **common)
    eps = epsilon(config.dp_noise_multiplier, config.batch_size / config.n_train,
                  config.dp_steps, config.dp_delta)
    samples = {
        "copy": train[np.random.default_rng(config.seed).permutation(len(train))[:n]],
        "lstm_vae": lstm_vae.generate(vae.state.params, keys.vae_sample, n, config.vae),
        "lstm_vae_dp": lstm_vae.generate(dp_run.state.params, keys.vae_sample, n, config.vae),
        "ddpm": ddpm.sample(dm.state.params, keys.ddpm_sample, n, config.ddpm),
        "noise": jax.random.normal(keys.noise, (n, config.seq_len, c)),
    }
    facts = {"epsilon": eps, "delta": config.dp_delta, "dp_sampler": config.dp_sampler,
             "sample_rate": config.batch_size / config.n_train}
    for name, run in (("lstm_vae", vae), ("lstm_vae_dp", dp_run), ("ddpm", dm)):
        losses = run.history["loss"]
        facts[f"{name}_loss_first10"], facts[f"{name}_loss_last10"] = loss_ends(losses)
    facts["lstm_vae_dp_clipped_share"] = float(np.mean(dp_run.history["clipped_share"]))
    if "overflow" in dp_run.history:  # Poisson batches: their mean size and any overflow
        facts["lstm_vae_dp_mean_batch"] = float(np.mean(dp_run.history["batch_size"]))
        facts["lstm_vae_dp_overflow"] = int(np.sum(dp_run.history["overflow"]))
    return {k: np.asarray(v, np.float32) for k, v in samples.items()}, facts


def evaluate(config: Config, train, holdout, samples: dict, key: jax.Array) -> dict:
    """``{name: {metric: value}}``: fidelity against the hold-out, privacy train vs hold-out."""
    trained = trained_scores(holdout, samples, key, steps=config.eval_steps,
                               encoder_steps=config.encoder_steps)
    rows = {}
    for name, synth in samples.items():
        row = {m: v for m, v in F.fidelity_report(holdout, synth).items()
               if m in FIDELITY or m == "correlation_distance"}
        row.update(trained[name])
        privacy = privacy_report(train, holdout, synth, seed=config.seed)
        row.update({m: privacy[m] for m in PRIVACY})
        rows[name] = row
    return rows


def markdown(rows: dict, facts: dict) -> str:
    """One row per generator, one column per metric (privacy columns prefixed)."""
    extra = ["correlation_distance"] if "correlation_distance" in next(iter(rows.values())) else []
    cols = list(FIDELITY) + extra + list(PRIVACY)
    head = "| generator | " + " | ".join(cols) + " |\n|---" + "|---:" * len(cols) + "|\n"
    body = "".join(f"| {name} | " + " | ".join(f"{row[c]:.4f}" for c in cols) + " |\n"
                   for name, row in rows.items())
    sampled = ("Poisson-sampled batches, as the accountant assumes"
               if facts.get("dp_sampler") == "poisson" else
               "Poisson sampling assumed; batches drawn fixed-size with replacement")
    note = (f"\nlstm_vae_dp: DP-SGD with ε = {facts['epsilon']:.2f} at δ = {facts['delta']:g} "
            f"(RDP accountant, q = {facts['sample_rate']:.4f}; {sampled}).\n")
    return head + body + note


def run(config: Config, workdir: str | Path) -> dict:
    """Trains the generators, evaluates every metric, writes the table and plots."""
    dp_sampler(config, config.n_train)  # a bad sampler name stops before the workdir exists
    workdir = prepare_workdir(config, workdir)
    train, holdout = load_data(config)
    gen_key, eval_key = jax.random.split(jax.random.key(config.seed))
    samples, facts = train_generators(config, train, gen_key)
    rows = evaluate(config, train, holdout, samples, eval_key)
    results = {"rows": rows, **facts}
    write_json(workdir / "results.json", results)
    np.savez_compressed(workdir / "samples.npz", train=train, holdout=holdout, **samples)
    (workdir / "lab.md").write_text(markdown(rows, facts))
    for name in config.plots:
        save_report(holdout, samples[name], workdir / f"plots_{name}", seed=config.seed)
    print(markdown(rows, facts))
    print(f"results in {workdir}")
    return results


if __name__ == "__main__":
    main("lab_timeseries", get_config, run)
