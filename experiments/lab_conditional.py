"""Generative lab, seed 000 Exercise 4: generation conditioned on trend and volatility.

``python -m experiments.lab_conditional [--profile smoke|quick] [--workdir DIR]
[--config.key=value ...]``. Series with known window-level attributes
(:func:`jtsgen.data.generators.make_trend_volatility`: a trend of slope ``±slope``,
seed 000's seasonal sines, noise of std ``noise_low`` or ``noise_high``), a training
set and a real hold-out. The conditional LSTM-VAE (:mod:`jtsgen.models.lstm_vae`,
``cond_dim = 2``: ``c = (±1 trend, ±1 volatility)``, with its observation-noise head) is
trained on the training set, then generates one series per hold-out series under that
series' condition, i.e. as many per condition as the hold-out has.

Measured attributes of any series: trend = the sign of its least-squares slope;
volatility = the std of its residual after a least-squares fit of a line and the
seasonal periods (7 and 30), high above the midpoint of the two volatility classes'
median residual std on the *training* series. Per condition (down / up × low / high)
and pooled: condition accuracy (trend, volatility, both) of the generated series, of
the real hold-out (the ceiling) and of the model's samples under randomly permuted
conditions (the floor: what a generator ignoring the condition scores); MMD² to the
hold-out of that condition of the generated series, of the real training series of
that condition (the floor of MMD²) and of the permuted-condition samples. Writes
``config.json``, ``results.json``, ``conditional.md`` and ``conditional.png`` (real and
generated series per condition).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import check_batch_size, check_counts, write_outputs
from jtsgen.data.generators import make_trend_volatility
from jtsgen.errors import InputError
from jtsgen.evaluate import fidelity as F
from jtsgen.evaluate.report_plots import save_figure
from jtsgen.models import lstm_vae
from jtsgen.train import adam, create_state, fit, sample_rows

CONDITIONS = {"down / low": (0, 0), "down / high": (0, 1), "up / low": (1, 0),
              "up / high": (1, 1)}
PERIODS = (7.0, 30.0)  # the seasonal periods of the data, removed before measuring volatility


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    seq_len: int = 64
    n_train: int = 2048
    n_holdout: int = 512
    slope: float = 0.02  # |trend slope| per step
    noise_low: float = 0.1  # noise std of the low-volatility class
    noise_high: float = 0.4
    batch_size: int = 64
    # the decoder learns the period-7 sine late (recon 0.23 -> 0.12 near step 2300 and
    # -> 0.08, the noise floor, near 3800, at 3e-3; at 1e-3 not within 3000 steps)
    vae_steps: int = 8000
    steps_per_call: int = 100
    n_plot: int = 4  # series per condition in the figure
    vae: lstm_vae.LSTMVAEConfig = lstm_vae.LSTMVAEConfig(seq_len=64, learning_rate=3e-3,
                                                         cond_dim=2, obs_noise=True)


def get_config(profile: str = "quick") -> Config:
    """Profiles: smoke (seconds, tests) and quick (a 2-core CPU in minutes; docs/lab.md)."""
    if profile == "smoke":
        return Config(profile=profile, seq_len=16, n_train=64, n_holdout=48, batch_size=16,
                      vae_steps=20, steps_per_call=20, n_plot=2,
                      vae=lstm_vae.LSTMVAEConfig(seq_len=16, hidden=8, cond_dim=2,
                                                 obs_noise=True))
    return Config(profile=profile)


def check_config(config: Config) -> None:
    """Raises :class:`InputError` naming the ``--config.`` flag of a value that can't run."""
    if config.seq_len < 8:
        raise InputError("--config.seq_len", f"must be >= 8 (a line and two seasonal "
                                             f"periods are fitted), got {config.seq_len}")
    check_counts(config, ("n_train", "n_holdout", "vae_steps", "steps_per_call", "n_plot"))
    check_batch_size(config)
    if not config.slope > 0:
        raise InputError("--config.slope", f"must be > 0, got {config.slope}")
    if not 0 < config.noise_low < config.noise_high:
        raise InputError("--config.noise_low", f"need 0 < noise_low < noise_high, got "
                                               f"{config.noise_low} and {config.noise_high}")
    if config.vae.cond_dim != 2:
        raise InputError("--config.vae.cond_dim", f"the condition is (trend, volatility): "
                                                  f"must be 2, got {config.vae.cond_dim}")


def load_data(config: Config) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{"train": (x [n_train, T, 1], trend [n_train], vol [n_train]), "holdout": ...}``:
    independent draws. Raises if the training set lacks a class (thresholds need both)."""
    n = config.n_train + config.n_holdout
    d = make_trend_volatility(n, config.seq_len, config.seed, slope=config.slope,
                              noise_std=(config.noise_low, config.noise_high))
    cut = config.n_train
    data = {"train": (d.x_btc[:cut], d.trend_b[:cut], d.vol_b[:cut]),
            "holdout": (d.x_btc[cut:], d.trend_b[cut:], d.vol_b[cut:])}
    if len(set(data["train"][2])) < 2 or len(set(data["train"][1])) < 2:
        raise InputError("--config.n_train", "the training set needs both trends and both "
                                             "volatility levels; raise n_train")
    return data


def condition_bk(trend_b: np.ndarray, vol_b: np.ndarray) -> np.ndarray:
    """Attributes in {0, 1} -> the model's condition ``[B, 2]`` float32 in {-1, 1}."""
    return np.stack([2.0 * trend_b - 1.0, 2.0 * vol_b - 1.0], axis=1).astype(np.float32)


def residual_std_b(x_btc: np.ndarray) -> np.ndarray:
    """Std ``[B]`` of each series' residual after a least-squares fit of a line and the
    sine and cosine of each seasonal period in :data:`PERIODS`."""
    x_bt = np.asarray(x_btc, np.float64)[..., 0]
    t = np.arange(x_bt.shape[1], dtype=np.float64)
    basis = [np.ones_like(t), t / len(t)]
    for p in PERIODS:
        basis += [np.sin(2 * np.pi * t / p), np.cos(2 * np.pi * t / p)]
    b_tk = np.stack(basis, axis=1)
    fitted_bt = x_bt @ (b_tk @ np.linalg.pinv(b_tk)).T
    return (x_bt - fitted_bt).std(axis=1)


def measure(x_btc: np.ndarray, vol_threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Measured ``(trend_b, vol_b)`` in {0, 1}: slope > 0, residual std > threshold."""
    slope_b = F.slopes_b(np.asarray(x_btc, np.float64)[..., 0])
    return (slope_b > 0).astype(int), (residual_std_b(x_btc) > vol_threshold).astype(int)


def volatility_threshold(x_btc: np.ndarray, vol_b: np.ndarray) -> float:
    """Midpoint of the low and the high class's median residual std (training data)."""
    s = residual_std_b(x_btc)
    return float(0.5 * (np.median(s[vol_b == 0]) + np.median(s[vol_b == 1])))


def accuracy(x_btc, trend_b, vol_b, vol_threshold: float) -> dict[str, float]:
    """Shares of series whose measured trend, volatility and both equal the requested."""
    got_t, got_v = measure(x_btc, vol_threshold)
    ok_t, ok_v = got_t == trend_b, got_v == vol_b
    return {"trend": float(ok_t.mean()), "vol": float(ok_v.mean()),
            "both": float((ok_t & ok_v).mean())}


def train_and_generate(config: Config, train, c_hold: np.ndarray, key: jax.Array):
    """Fits the conditional LSTM-VAE on ``train = (x, trend, vol)``; returns samples under
    ``c_hold`` and under a random permutation of it, each ``[n, T, 1]``, and loss facts."""
    vae_cfg = dataclasses.replace(config.vae, seq_len=config.seq_len, channels=1)
    k_init, k_fit, k_gen, k_floor = jax.random.split(key, 4)
    data = (jax.numpy.asarray(train[0]), jax.numpy.asarray(condition_bk(train[1], train[2])))
    state = create_state(lstm_vae.init_params(k_init, vae_cfg), adam(vae_cfg.learning_rate))
    run = fit(state, data, k_fit, loss_fn=lstm_vae.make_loss_fn(vae_cfg),
              sampler=sample_rows(config.batch_size), num_steps=config.vae_steps,
              steps_per_call=config.steps_per_call, progress=False)
    params = run.state.params
    perm = np.random.default_rng([config.seed, 2]).permutation(len(c_hold))
    generated = lstm_vae.generate_conditional(params, k_gen, c_hold, vae_cfg)
    floor = lstm_vae.generate_conditional(params, k_floor, c_hold[perm], vae_cfg)
    facts = {f"{name}_{part}": float(np.mean(values[sl]))
             for name, values in run.history.items() if name in ("loss", "recon", "noise_nll")
             for part, sl in (("first10", slice(None, 10)), ("last10", slice(-10, None)))}
    return np.asarray(generated, np.float32), np.asarray(floor, np.float32), facts


def condition_rows(data: dict, generated: np.ndarray, floor: np.ndarray,
                   threshold: float) -> dict[str, dict]:
    """``{condition or "all": row}``: accuracies of generated / real hold-out / floor
    against the requested condition, MMD² to the hold-out, median slope and residual std."""
    xh, th, vh = data["holdout"]
    xt, tt, vt = data["train"]
    groups = {name: ((th == t) & (vh == v), (tt == t) & (vt == v))
              for name, (t, v) in CONDITIONS.items()}
    groups["all"] = (np.ones_like(th, bool), np.ones_like(tt, bool))
    rows = {}
    for name, (pick, pick_train) in groups.items():
        want = (th[pick], vh[pick])
        sets = {"generated": generated[pick], "real": xh[pick], "floor": floor[pick]}
        row = {"n": int(pick.sum())}
        row |= {k: accuracy(x, *want, threshold) for k, x in sets.items()}
        enough = row["n"] > 1
        row["mmd2"] = {k: F.mmd2(xh[pick], x) if enough else float("nan") for k, x in
                       (("generated", generated[pick]), ("train", xt[pick_train]),
                        ("floor", floor[pick]))}
        row["median_slope"] = {k: float(np.median(F.slopes_b(x[..., 0]))) for k, x in
                               sets.items() if len(x)}
        row["median_residual_std"] = {k: float(np.median(residual_std_b(x))) for k, x in
                                      sets.items() if len(x)}
        rows[name] = row
    return rows


def markdown(rows: dict) -> str:
    """One row per condition (and pooled): accuracies, ceiling, floor, MMD²s."""
    head = ("| condition | n | trend acc | volatility acc | both | both, real hold-out "
            "(ceiling) | both, permuted conditions (floor) | MMD² | MMD² real train | "
            "MMD² permuted |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    body = "".join(
        f"| {name} | {r['n']} | {r['generated']['trend']:.3f} | {r['generated']['vol']:.3f} | "
        f"{r['generated']['both']:.3f} | {r['real']['both']:.3f} | {r['floor']['both']:.3f} | "
        f"{r['mmd2']['generated']:.4f} | {r['mmd2']['train']:.4f} | {r['mmd2']['floor']:.4f} |\n"
        for name, r in rows.items())
    return head + body


def plot_conditions(data: dict, generated: np.ndarray, n_plot: int, path: Path) -> Path:
    """Grid: a column per condition, real hold-out series (top) and generated (bottom)."""
    import matplotlib.pyplot as plt  # Agg: set by jtsgen.evaluate.report_plots

    xh, th, vh = data["holdout"]
    fig, axes = plt.subplots(2, len(CONDITIONS), figsize=(4 * len(CONDITIONS), 5),
                             sharex=True, sharey=True, squeeze=False)
    for j, (name, (t, v)) in enumerate(CONDITIONS.items()):
        idx = np.flatnonzero((th == t) & (vh == v))[:n_plot]
        for i, (x, label, color) in enumerate(((xh, "real", "tab:red"),
                                               (generated, "generated", "tab:blue"))):
            axes[i, j].plot(x[idx, :, 0].T, color=color, lw=0.8, alpha=0.8)
            axes[i, j].set_title(f"{label}: {name}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def run(config: Config, workdir: str | Path) -> dict:
    """Builds the data, trains, generates per condition, measures, writes the files."""
    check_config(config)
    data = load_data(config)  # before the work directory: bad input leaves nothing behind
    workdir = prepare_workdir(config, workdir)
    threshold = volatility_threshold(data["train"][0], data["train"][2])
    _, th, vh = data["holdout"]
    generated, floor, facts = train_and_generate(config, data["train"], condition_bk(th, vh),
                                                 jax.random.key(config.seed))
    rows = condition_rows(data, generated, floor, threshold)
    results = {"rows": rows, "vol_threshold": threshold, **facts}
    table = markdown(rows)
    note = (f"\nVolatility threshold (training data): residual std {threshold:.4f}. "
            f"Loss {facts['loss_first10']:.3f} (first 10 steps) -> {facts['loss_last10']:.3f} "
            f"(last 10).\n")
    plot_conditions(data, generated, config.n_plot, workdir / "conditional.png")
    write_outputs(workdir, {"results.json": results}, {"conditional.md": table + note},
                  show=table + note)
    return results


if __name__ == "__main__":
    main("lab_conditional", get_config, run)
