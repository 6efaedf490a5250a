"""Generative lab, seed 000 Exercise 1 (issue 23): variable-length series, padding, masks.

``python -m experiments.lab_variable_length [--profile smoke|quick] [--workdir DIR]
[--config.key=value ...]``. Seed 000 series (trend + seasonal + spikes) of
``pad_len`` steps are cut to a length drawn uniformly from ``lengths`` (default
50 / 100 / 150), z-normalised per series over their real steps and padded at the end
with zeros to ``pad_len``, with a mask (1 = real step). A training set and a real
hold-out of the same length distribution. The masked, length-conditioned LSTM-VAE
(:mod:`jtsgen.models.lstm_vae`) is trained on the training set; it generates as many
series as the hold-out, their lengths drawn from the training lengths' empirical
distribution. Per length group (and pooled over all lengths) the masked fidelity
numbers (ACF, trend, std ratio, MMD²; :mod:`jtsgen.evaluate.fidelity`) of generated vs
hold-out, beside two references on the same groups: ``train`` (real training series:
the floor) and ``noise`` (N(0, 1) values on the hold-out's real steps); and the length
distribution of generated vs real. Writes ``config.json``, ``results.json`` and
``table.md`` to the work directory.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import check_batch_size, check_counts, write_json
from jtsgen.data.generators import make_trend_seasonal_spikes
from jtsgen.errors import InputError
from jtsgen.evaluate import fidelity as F
from jtsgen.models import lstm_vae
from jtsgen.train import adam, create_state, fit, loss_ends, sample_rows

METRICS = ("acf_distance", "trend_distance", "std_ratio", "mmd2")
SOURCES = ("lstm_vae", "train", "noise")


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    lengths: tuple[int, ...] = (50, 100, 150)  # drawn uniformly for every real series
    pad_len: int = 150  # common padded length T (>= every length)
    n_train: int = 768
    n_holdout: int = 384
    batch_size: int = 32
    vae_steps: int = 4000
    steps_per_call: int = 100
    nlags: int = 20  # ACF lags (capped at the shortest length - 1)
    vae: lstm_vae.LSTMVAEConfig = lstm_vae.LSTMVAEConfig(seq_len=150, length_conditioned=True)


def get_config(profile: str = "quick") -> Config:
    """Profiles: smoke (seconds, tests) and quick (a 2-core CPU in minutes; docs/lab.md)."""
    if profile == "smoke":
        return Config(profile=profile, lengths=(8, 12, 16), pad_len=16, n_train=48,
                      n_holdout=48, batch_size=8, vae_steps=20, steps_per_call=20, nlags=4,
                      vae=lstm_vae.LSTMVAEConfig(seq_len=16, hidden=8, length_conditioned=True))
    return Config(profile=profile)


def check_config(config: Config) -> None:
    """Raises :class:`InputError` naming the ``--config.`` flag of a value that can't run."""
    if not config.lengths:
        raise InputError("--config.lengths", "give at least one series length")
    if min(config.lengths) < 2:
        raise InputError("--config.lengths", f"lengths must be >= 2, got {config.lengths}")
    if max(config.lengths) > config.pad_len:
        raise InputError("--config.lengths", f"length {max(config.lengths)} is above "
                         f"--config.pad_len={config.pad_len}")
    check_counts(config, ("n_train", "n_holdout", "vae_steps", "steps_per_call", "nlags"))
    check_batch_size(config)


def pad_and_normalise(x_bt: np.ndarray, lengths_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``x_bt [B, T]`` cut to ``lengths_b [B]`` -> ``(x_bt1 [B, T, 1], m_bt [B, T])``
    float32: each series z-normalised over its first ``length`` steps, the rest 0."""
    m = np.arange(x_bt.shape[1])[None, :] < lengths_b[:, None]
    n = m.sum(axis=1, keepdims=True)
    mean = np.where(m, x_bt, 0.0).sum(axis=1, keepdims=True) / n
    std = np.sqrt(np.where(m, (x_bt - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / n)
    x = np.where(m, (x_bt - mean) / (std + 1e-6), 0.0)
    return x[..., None].astype(np.float32), m.astype(np.float32)


def load_data(config: Config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """``{"train": (x [n_train, T, 1], m [n_train, T]), "holdout": (...)}``, disjoint
    series, lengths drawn uniformly from ``config.lengths``."""
    n = config.n_train + config.n_holdout
    x = make_trend_seasonal_spikes(n, config.pad_len, config.seed).x_btc[..., 0]
    rng = np.random.default_rng([config.seed, 1])
    x, m = pad_and_normalise(x.astype(np.float64), rng.choice(config.lengths, size=n))
    cut = config.n_train
    return {"train": (x[:cut], m[:cut]), "holdout": (x[cut:], m[cut:])}


def train_and_generate(config: Config, train, n: int, key: jax.Array):
    """Fits the masked LSTM-VAE on ``train = (x, m)``; returns ``(x [n, T, 1], m [n, T])``
    generated (lengths from the training lengths) and the loss history facts."""
    vae_cfg = dataclasses.replace(config.vae, seq_len=config.pad_len, channels=1)
    k_init, k_fit, k_gen = jax.random.split(key, 3)
    state = create_state(lstm_vae.init_params(k_init, vae_cfg), adam(vae_cfg.learning_rate))
    run = fit(state, (jax.numpy.asarray(train[0]), jax.numpy.asarray(train[1])), k_fit,
              loss_fn=lstm_vae.make_loss_fn(vae_cfg), sampler=sample_rows(config.batch_size),
              num_steps=config.vae_steps, steps_per_call=config.steps_per_call, progress=False)
    pool = lstm_vae.lengths_of(jax.numpy.asarray(train[1]))
    x, m = lstm_vae.generate_masked(run.state.params, k_gen, n, vae_cfg, pool)
    first, last = loss_ends(run.history["loss"])
    facts = {"loss_first10": first, "loss_last10": last}
    return (np.asarray(x, np.float32), np.asarray(m, np.float32)), facts


def group_metrics(real, fake, nlags: int) -> dict[str, float]:
    """Masked fidelity of ``fake = (x, m)`` against ``real = (x, m)``; NaN for MMD² when a
    set has fewer than 2 series."""
    (xr, mr), (xf, mf) = real, fake
    masks = {"real_mask": mr, "fake_mask": mf}
    row = {"n_real": len(xr), "n_fake": len(xf)}
    if len(xr) == 0 or len(xf) == 0:
        return row | {k: float("nan") for k in METRICS}
    row["acf_distance"] = F.acf_distance(xr, xf, nlags, **masks)
    row["trend_distance"] = F.trend_distance(xr, xf, **masks)
    row["std_ratio"] = F.std_ratio(xr, xf, **masks)
    row["mmd2"] = F.mmd2(xr, xf, **masks) if min(len(xr), len(xf)) > 1 else float("nan")
    return row


def evaluate(config: Config, data: dict, samples: dict) -> dict:
    """``{source: {group: metrics}}``, group = a length or ``"all"``."""
    holdout = data["holdout"]
    lengths = sorted(set(config.lengths))
    out = {}
    for name, (x, m) in samples.items():
        rows = {"all": group_metrics(holdout, (x, m), config.nlags)}
        for length in lengths:
            pick_r = holdout[1].sum(1) == length
            pick_f = m.sum(1) == length
            rows[str(length)] = group_metrics((holdout[0][pick_r], holdout[1][pick_r]),
                                              (x[pick_f], m[pick_f]), config.nlags)
        out[name] = rows
    return out


def length_shares(m_bt: np.ndarray, lengths: list[int]) -> dict[str, float]:
    """Share of series of each length ``{str(length): share}``."""
    n_b = m_bt.sum(axis=1)
    return {str(length): float(np.mean(n_b == length)) for length in lengths}


def markdown(rows: dict, shares: dict) -> str:
    """The per-length fidelity table, then the length distributions as a text line (one
    table per file, so :mod:`experiments.readme_tables` can copy it)."""
    head = ("| source | length | n real / n generated | " + " | ".join(METRICS)
            + " |\n|---|---|---:" + "|---:" * len(METRICS) + "|\n")
    body = "".join(
        f"| {name} | {group} | {r['n_real']} / {r['n_fake']} | "
        + " | ".join(f"{r[k]:.4f}" for k in METRICS) + " |\n"
        for name, groups in rows.items() for group, r in groups.items())
    lengths = list(next(iter(shares.values())))
    dist = "; ".join(f"{name} " + " / ".join(f"{s[k]:.3f}" for k in lengths)
                     for name, s in shares.items())
    return head + body + f"\nShare of series of length {' / '.join(lengths)}: {dist}.\n"


def run(config: Config, workdir: str | Path) -> dict:
    """Builds the padded data, trains, generates, evaluates, writes the files."""
    check_config(config)
    data = load_data(config)  # before the work directory: bad input leaves nothing behind
    workdir = prepare_workdir(config, workdir)
    gen_key, noise_key = jax.random.split(jax.random.key(config.seed))
    n = config.n_holdout
    generated, facts = train_and_generate(config, data["train"], n, gen_key)
    xh, mh = data["holdout"]
    noise = np.asarray(jax.random.normal(noise_key, xh.shape), np.float32) * mh[..., None]
    samples = {"lstm_vae": generated, "train": data["train"], "noise": (noise, mh)}
    rows = evaluate(config, data, samples)
    lengths = sorted(set(config.lengths))
    shares = {"real train": length_shares(data["train"][1], lengths),
              "real hold-out": length_shares(mh, lengths),
              "generated": length_shares(generated[1], lengths)}
    tv = 0.5 * sum(abs(shares["generated"][k] - shares["real train"][k]) for k in map(str, lengths))
    results = {"rows": rows, "length_shares": shares, "length_tv_generated_vs_train": tv,
               **facts}
    write_json(workdir / "results.json", results)
    table = markdown(rows, shares)
    table += (f"\nTotal variation of the generated vs training length distribution: {tv:.3f}. "
              f"LSTM-VAE loss {facts['loss_first10']:.3f} (first 10 steps) -> "
              f"{facts['loss_last10']:.3f} (last 10).\n")
    (workdir / "table.md").write_text(table)
    print(table)
    print(f"results in {workdir}")
    return results


if __name__ == "__main__":
    main("lab_variable_length", get_config, run)
