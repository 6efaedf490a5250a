"""The TimeGAN Sines benchmark (issue 23, item 6) for our LSTM-VAE and DDPM.

``python -m experiments.timegan_bench [--profile smoke|quick|paper] [--workdir DIR]
[--config.key=value ...]``

Data: TimeGAN's (Yoon et al., NeurIPS 2019) Sines, reimplemented in :func:`sines`:
every series has ``features`` channels of length ``seq_len`` (24 and 5 in the paper),
channel ``c`` is ``(sin(f_c t + p_c) + 1) / 2`` for ``t = 0 .. seq_len - 1`` with a
frequency ``f_c`` and a phase ``p_c`` each drawn from U[0, 0.1] per series and channel.

Each run ``r`` (``n_runs`` in all) draws ``n_series`` training series, trains the
generators of ``generators`` on them (standardised per channel; samples are mapped
back), draws as many synthetic series, and scores them against the training series
as TimeGAN's protocol does, with :mod:`jtsgen.evaluate.fidelity`'s discriminative
score, predictive score and context-FID (plus the cross-channel correlation
distance). A reference row ``real`` scores a fresh draw of Sines the generators never
saw: the floor each score reaches on two samples of one distribution.

Writes ``config.json``, ``runs/run{r}.json`` (one finished run each: a rerun with the
same settings reads it back instead of training, so an interrupted benchmark resumes
at its first unfinished run and a larger ``n_runs`` only adds runs), ``results.json``
(every run and the mean ± std over runs) and ``table.md`` (our rows next to the
published TimeGAN and Diffusion-TS Sines figures, see :data:`PUBLISHED`).

TimeGAN's Stocks setting is not run: its data (daily Google prices from Yahoo
Finance) are not shipped with jtsgen and cannot be downloaded where the benchmark
runs offline.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import check_choices, saved_result, to_dict, write_json, write_outputs
from jtsgen.errors import InputError
from jtsgen.evaluate import fidelity as F
from jtsgen.evaluate.trained_scores import trained_scores
from jtsgen.models import ddpm, lstm_vae
from jtsgen.train import adam, create_state, fit, loss_ends, sample_rows

GENERATORS = {"lstm_vae": "LSTM-VAE (ours)", "ddpm": "DDPM, temporal denoiser (ours)"}
REFERENCE = ("real", "real Sines, fresh draw (floor)")
METRICS = ("discriminative_score", "predictive_score", "context_fid", "correlation_distance")
TABLE_METRICS = METRICS[:3]
# settings added after runs were saved, with the value those runs ran under
ADDED_SETTINGS = {"vae": {"length_conditioned": False, "length_scale": 100.0, "cond_dim": 0,
                          "obs_noise": False}}

# Published Sines figures (mean ± std), length 24, 5 features. Diffusion-TS, Yuan &
# Qiao, ICLR 2024, Table 1 (its TimeGAN row repeats TimeGAN's Table 2 for the
# discriminative and predictive scores). Read from two independent reproductions of
# that table; the TimeGAN paper itself could not be opened here.
PUBLISHED = {
    "TimeGAN": {"discriminative_score": (0.011, 0.008), "predictive_score": (0.093, 0.019),
                "context_fid": (0.101, 0.014),
                "source": "Diffusion-TS Table 1, TimeGAN row (disc./pred. = TimeGAN Table 2)"},
    "Diffusion-TS": {"discriminative_score": (0.006, 0.007),
                     "predictive_score": (0.093, 0.000), "context_fid": (0.006, 0.000),
                     "source": "Diffusion-TS (Yuan & Qiao, ICLR 2024) Table 1"},
}


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    n_runs: int = 5
    n_series: int = 1000  # training series per run (TimeGAN: 10,000)
    seq_len: int = 24
    features: int = 5
    generators: tuple[str, ...] = ("lstm_vae", "ddpm")
    batch_size: int = 64
    vae_steps: int = 1500
    ddpm_steps: int = 3000
    eval_steps: int = 1000  # discriminative / predictive networks
    encoder_steps: int = 200  # context-FID encoder
    steps_per_call: int = 100
    vae: lstm_vae.LSTMVAEConfig = lstm_vae.LSTMVAEConfig(seq_len=24, channels=5, latent=8)
    # 200 steps up to beta 0.1: the chain ends near N(0, 1) (alpha_bar_T ~ 2e-5)
    ddpm: ddpm.DDPMConfig = ddpm.DDPMConfig(seq_len=24, channels=5, denoiser="temporal",
                                            width=32, blocks=3, num_timesteps=200,
                                            beta_end=0.1)


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests); quick: 5 runs of 1,000 series, about 13 minutes on 2 CPU
    cores; paper: 5 runs of 10,000 series (TimeGAN's size) with longer training."""
    if profile == "smoke":
        return Config(profile=profile, n_runs=2, n_series=40, batch_size=8, vae_steps=10,
                      ddpm_steps=10, eval_steps=10, encoder_steps=10, steps_per_call=10,
                      vae=lstm_vae.LSTMVAEConfig(seq_len=24, channels=5, hidden=8),
                      ddpm=ddpm.DDPMConfig(seq_len=24, channels=5, denoiser="temporal",
                                           width=8, blocks=1, num_timesteps=10))
    if profile == "paper":
        return Config(profile=profile, n_runs=5, n_series=10_000, batch_size=128,
                      vae_steps=10_000, ddpm_steps=20_000, eval_steps=2000,
                      encoder_steps=1000,
                      ddpm=dataclasses.replace(Config.ddpm, width=64, blocks=4))
    return Config(profile=profile)


def check_config(config: Config) -> None:
    """InputError naming the ``--config.`` flag of the first bad value."""
    check_choices("--config.generators", config.generators, tuple(GENERATORS))
    minimum = {"n_runs": 1, "n_series": 10, "seq_len": 2, "features": 1, "batch_size": 1,
               "vae_steps": 1, "ddpm_steps": 1, "eval_steps": 1, "encoder_steps": 1,
               "steps_per_call": 1}
    for name, low in minimum.items():
        if getattr(config, name) < low:
            raise InputError(f"--config.{name}", f"must be >= {low}, got {getattr(config, name)}")


class Sines(NamedTuple):
    """TimeGAN's Sines: series ``x_btc [N, T, C]`` in [0, 1] and the frequency and phase
    of every channel of every series, ``freq_bc``, ``phase_bc`` ``[N, C]``."""

    x_btc: np.ndarray
    freq_bc: np.ndarray
    phase_bc: np.ndarray


def sines(n: int, seq_len: int, features: int, rng: np.random.Generator) -> Sines:
    """``n`` Sines series: channel ``c`` of series ``i`` is
    ``(sin(freq[i, c] * t + phase[i, c]) + 1) / 2``, ``t = 0 .. seq_len - 1``, with
    ``freq`` and ``phase`` drawn from U[0, 0.1]; ``x_btc [n, seq_len, features]`` float32."""
    freq, phase = (rng.uniform(0.0, 0.1, (n, features)) for _ in range(2))
    t = np.arange(seq_len, dtype=np.float64)[None, :, None]
    x = 0.5 * (np.sin(freq[:, None, :] * t + phase[:, None, :]) + 1.0)
    return Sines(x.astype(np.float32), freq, phase)


def load_data(config: Config, run: int) -> tuple[np.ndarray, np.ndarray]:
    """Run ``run``'s ``(train, fresh)`` Sines, each ``[n_series, seq_len, features]``:
    independent draws (the second is the ``real`` reference row)."""
    return tuple(sines(config.n_series, config.seq_len, config.features,
                       np.random.default_rng([config.seed, run, part])).x_btc
                 for part in (0, 1))


def _configs(config: Config) -> tuple[lstm_vae.LSTMVAEConfig, ddpm.DDPMConfig]:
    """The networks' configs with the data's length and channels."""
    shape = dict(seq_len=config.seq_len, channels=config.features)
    return dataclasses.replace(config.vae, **shape), dataclasses.replace(config.ddpm, **shape)


class TrainKeys(NamedTuple):
    """:func:`train_generators`' keys by purpose (one ``split(key, 6)``, in this order)."""

    vae_init: jax.Array
    vae_fit: jax.Array
    vae_sample: jax.Array
    ddpm_init: jax.Array
    ddpm_fit: jax.Array
    ddpm_sample: jax.Array


def train_generators(config: Config, train: np.ndarray, key: jax.Array) -> tuple[dict, dict]:
    """Trains every generator of ``config.generators`` on ``train [N, T, C]``
    (standardised per channel) and draws ``N`` series from each, mapped back to the
    data's scale: ``({name: [N, T, C] float32}, {name_loss_first10/last10: float})``."""
    vae_cfg, dm_cfg = _configs(config)
    mean, std = train.mean(axis=(0, 1)), train.std(axis=(0, 1)) + 1e-6
    data, n = jnp.asarray((train - mean) / std, jnp.float32), len(train)
    keys = TrainKeys(*jax.random.split(key, 6))
    common = dict(sampler=sample_rows(config.batch_size), steps_per_call=config.steps_per_call,
                  progress=False)
    samples, facts = {}, {}
    if "lstm_vae" in config.generators:
        run = fit(create_state(lstm_vae.init_params(keys.vae_init, vae_cfg),
                               adam(vae_cfg.learning_rate)), data, keys.vae_fit,
                  loss_fn=lstm_vae.make_loss_fn(vae_cfg), num_steps=config.vae_steps, **common)
        samples["lstm_vae"] = lstm_vae.generate(run.state.params, keys.vae_sample, n, vae_cfg)
        facts["lstm_vae"] = run.history["loss"]
    if "ddpm" in config.generators:
        run = fit(create_state(ddpm.init_params(keys.ddpm_init, dm_cfg),
                               adam(dm_cfg.learning_rate)), data, keys.ddpm_fit,
                  loss_fn=ddpm.make_loss_fn(dm_cfg), num_steps=config.ddpm_steps, **common)
        samples["ddpm"] = ddpm.sample(run.state.params, keys.ddpm_sample, n, dm_cfg)
        facts["ddpm"] = run.history["loss"]
    losses = {f"{k}_loss_{part}10": value for k, v in facts.items()
              for part, value in zip(("first", "last"), loss_ends(v), strict=True)}
    return {k: (np.asarray(v, np.float64) * std + mean).astype(np.float32)
            for k, v in samples.items()}, losses


def score(config: Config, real: np.ndarray, sets: dict[str, np.ndarray],
          key: jax.Array) -> dict[str, dict[str, float]]:
    """``{name: {metric: value}}`` for every ``sets[name] [M, T, C]`` against
    ``real [N, T, C]``; one context-FID encoder, trained on ``real``, embeds all."""
    trained = trained_scores(real, sets, key, steps=config.eval_steps,
                               encoder_steps=config.encoder_steps)
    return {name: {**trained[name],
                   "correlation_distance": (F.correlation_distance(real, synth)
                                            if config.features > 1 else float("nan"))}
            for name, synth in sets.items()}


def run_once(config: Config, run: int) -> dict:
    """Run ``run``: data, generators, scores. ``{"rows": {name: {metric: v}}, **losses}``."""
    train, fresh = load_data(config, run)
    gen_key, eval_key = jax.random.split(jax.random.fold_in(jax.random.key(config.seed), run))
    samples, losses = train_generators(config, train, gen_key)
    rows = score(config, train, {**samples, REFERENCE[0]: fresh}, eval_key)
    return {"rows": rows, **losses}


def run_all(config: Config, workdir: Path) -> list[dict]:
    """:func:`run_once` for runs ``0 .. n_runs - 1``, each saved as
    ``workdir/runs/run{r}.json`` with its settings (all but ``n_runs`` and ``profile``)
    and read back by a rerun with the same settings (a run saved before a setting of
    :data:`ADDED_SETTINGS` existed matches at that setting's old value)."""
    settings = json.loads(json.dumps({k: v for k, v in to_dict(config).items()
                                      if k not in ("n_runs", "profile")}))
    runs = []
    for r in range(config.n_runs):
        path = workdir / "runs" / f"run{r}.json"
        saved = saved_result(path, settings, ADDED_SETTINGS)
        if saved is not None:
            print(f"run {r}: read back from {path}", flush=True)
            runs.append(saved)
            continue
        result = run_once(config, r)
        write_json(path, {"settings": settings, "result": result})
        print(f"run {r}: {json.dumps(result['rows'])}", flush=True)
        runs.append(result)
    return runs


def summarise(runs: list[dict]) -> dict[str, dict[str, list[float]]]:
    """``{name: {metric: [mean, std]}}`` over runs (sample std, ddof 1; 0 for one run)."""
    out = {}
    for name in runs[0]["rows"]:
        out[name] = {}
        for m in METRICS:
            v = np.array([r["rows"][name][m] for r in runs], np.float64)
            out[name][m] = [float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else 0.0]
    return out


def markdown(config: Config, summary: dict) -> str:
    """Our rows (mean ± std over ``n_runs``) and the published ones, one column per
    score, and a notes section saying where each number comes from."""
    head = ("| model | discriminative ↓ | predictive ↓ | context-FID ↓ | runs | source |\n"
            "|---|---:|---:|---:|---:|---|\n")
    names = {**GENERATORS, REFERENCE[0]: REFERENCE[1]}
    ours = "".join(
        f"| {names[name]} | " + " | ".join(f"{row[m][0]:.3f} ± {row[m][1]:.3f}"
                                          for m in TABLE_METRICS)
        + f" | {config.n_runs} | this repo, `{config.profile}` profile |\n"
        for name, row in summary.items())
    published = "".join(
        f"| {name} (published) | " + " | ".join(f"{row[m][0]:.3f} ± {row[m][1]:.3f}"
                                                for m in TABLE_METRICS)
        + f" | — | {row['source']} |\n" for name, row in PUBLISHED.items())
    notes = (
        f"\nSines, length {config.seq_len}, {config.features} features; ours: "
        f"{config.n_series} training series per run, as many synthetic, scored against the "
        f"training series; mean ± std over {config.n_runs} runs (each run draws its own "
        "data and trains anew). Our scores are jtsgen.evaluate.fidelity's: the "
        f"discriminative score is an LSTM classifier (hidden 16, {config.eval_steps} steps) "
        "where TimeGAN uses a GRU; our predictive score predicts all channels one step "
        "ahead where TimeGAN predicts the last feature from the others; our context-FID "
        f"embeds with a small contrastive conv encoder ({config.encoder_steps} steps on the "
        "real series) where Diffusion-TS uses TS2Vec. Compare rows within a source; across "
        "sources only roughly.\n")
    return head + ours + published + notes


def run(config: Config, workdir: str | Path) -> dict:
    """Runs (or reads back) every run, writes ``results.json`` and ``table.md``."""
    check_config(config)
    workdir = prepare_workdir(config, workdir)
    runs = run_all(config, workdir)
    summary = summarise(runs)
    results = {"summary": summary, "runs": runs,
               "published": {k: {m: list(v) if isinstance(v, tuple) else v
                                 for m, v in row.items()} for k, row in PUBLISHED.items()}}
    table = markdown(config, summary)
    write_outputs(workdir, {"results.json": results}, {"table.md": table}, table)
    return results


if __name__ == "__main__":
    main("timegan_bench", get_config, run)
