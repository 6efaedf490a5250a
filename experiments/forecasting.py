"""Seed 003 forecasting: baselines, LSTM and attention seq2seq, population search,
and the forecasting utility of synthetic series.

``python -m experiments.forecasting [--profile smoke|quick|paper] [--workdir DIR]
[--config.key=value ...]``. Data: the seed's hourly 3-channel series
(:func:`jtsgen.data.generators.make_hourly_multichannel`), or a CSV given by
``--config.data_path`` (a time column, then one numeric column per channel). The
series is split 70/15/15 by time, scaled by a scaler fitted on the training part and
cut into windows of ``input_len`` inputs and ``horizon`` targets per part.

Writes ``config.json``, ``results.json``, ``metrics.csv`` (per horizon step and
overall, original units), ``table.md``, ``search.csv``, ``utility.csv``/``.md`` and
the figures ``forecasts.png``, ``attention_heatmap.png``, ``lag_importance.png``;
checkpoints under ``checkpoints/`` and the finished search in ``search.json``, so a
rerun resumes. ``--config.search_backend=optuna`` lets an Optuna TPE study propose the
search's shapes (``search_trials`` trials; needs ``pip install 'jtsgen[optuna]'``).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import atomic_write_text, write_json
from jtsgen.data.generators import make_hourly_multichannel
from jtsgen.errors import InputError
from jtsgen.evaluate import forecast_metrics as fmx
from jtsgen.evaluate.tables import csv, markdown
from jtsgen.forecast import baselines, plots
from jtsgen.forecast.data import ForecastData, load_csv, prepare
from jtsgen.forecast.search import (
    import_optuna,
    init_state,
    optuna_search,
    run_search,
    sample_candidates,
)
from jtsgen.models import forecast as fm
from jtsgen.models import generators, lstm_vae
from jtsgen.train import adam, create_state, fit, sample_rows

SYNTHETIC = ("lstm_vae", "none")
SEARCH_BACKENDS = ("random", "optuna")


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    data_path: str = ""  # CSV; empty: the seed-003 generator
    time_column: str = ""  # empty: the CSV's first column
    n_steps: int = 2000
    n_channels: int = 3
    coupling: float = 0.3  # channel s gets coupling * channel s-1 one hour earlier
    input_len: int = 60
    horizon: int = 10
    train_frac: float = 0.7
    val_frac: float = 0.15
    season: int = 24  # seasonal persistence period; 0 skips it
    arima_p: int = 5  # ARIMA(p, 1, 0); 0 skips it
    mape_min_frac: float = 0.1  # MAPE skips |y| < this * channel's mean |train value|
    hidden: int = 32
    heads: int = 4
    batch_size: int = 64
    learning_rate: float = 3e-3
    dropout: float = 0.0
    teacher_forcing: float = 0.0
    num_steps: int = 1500
    steps_per_call: int = 50
    checkpoint_every: int = 500
    search_hidden: tuple[int, ...] = (16, 32)
    search_candidates: int = 4  # per (family, hidden) group, trained as one population
    search_steps: int = 1000
    search_backend: str = "random"  # or "optuna": a TPE study proposes (family, hidden)
    search_trials: int = 6  # optuna: trials, each a population of search_candidates
    synthetic: str = "lstm_vae"  # source of synthetic training series, or "none"
    synthetic_steps: int = 1500
    synthetic_hidden: int = 32


def get_config(profile: str = "quick") -> Config:
    """smoke: tiny series and networks (tests, seconds); quick: the seed's data, a 2-core
    CPU in minutes; paper: the seed's sizes (hidden 64/128, longer training)."""
    if profile == "smoke":
        return Config(profile=profile, n_steps=400, input_len=24, horizon=4, hidden=8,
                      heads=2, batch_size=16, num_steps=40, steps_per_call=20,
                      checkpoint_every=20, search_hidden=(8,), search_candidates=2,
                      search_steps=20, search_trials=2, synthetic_steps=20,
                      synthetic_hidden=8, arima_p=2)
    if profile == "paper":
        return Config(profile=profile, hidden=64, num_steps=6000, search_hidden=(64, 128),
                      search_candidates=8, search_steps=4000, search_trials=12,
                      synthetic_steps=5000)
    return Config(profile=profile)


def _check(config: Config) -> None:
    if config.synthetic not in SYNTHETIC:
        raise InputError("--config.synthetic", f"unknown {config.synthetic!r}; choose from "
                                               f"{list(SYNTHETIC)}")
    if config.season > config.input_len:
        raise InputError("--config.season", f"{config.season} exceeds input_len "
                                            f"{config.input_len}")
    if config.arima_p >= config.input_len:
        raise InputError("--config.arima_p", f"must be below input_len {config.input_len}")
    for name in ("num_steps", "search_steps", "search_candidates", "search_trials",
                 "batch_size"):
        if getattr(config, name) < 1:
            raise InputError(f"--config.{name}", f"must be >= 1, got {getattr(config, name)}")
    if config.search_backend not in SEARCH_BACKENDS:
        raise InputError("--config.search_backend", f"unknown {config.search_backend!r}; "
                                                    f"choose from {list(SEARCH_BACKENDS)}")
    if config.search_backend == "optuna":
        import_optuna()
    fm.ForecastConfig(kind="attention", hidden=config.hidden, heads=config.heads)
    fm.hparams(config.dropout, config.teacher_forcing)


def load_series(config: Config) -> tuple[np.ndarray, list[str]]:
    """``(x_tc, channel names)`` from the CSV or the seed-003 generator."""
    if config.data_path:
        return load_csv(config.data_path, config.time_column)
    data = make_hourly_multichannel(config.n_steps, config.n_channels, config.seed,
                                    coupling=config.coupling)
    return data.x_tc, [f"x{i + 1}" for i in range(config.n_channels)]


def model_config(config: Config, kind: str, channels: int) -> fm.ForecastConfig:
    return fm.ForecastConfig(kind=kind, input_len=config.input_len, horizon=config.horizon,
                             channels=channels, hidden=config.hidden, heads=config.heads)


def train_forecaster(config: Config, mcfg: fm.ForecastConfig, x_bic, y_bhc, key, ckpt: Path,
                     desc: str):
    """A forecaster with the config's default hyper-parameters, through ``jtsgen.train.fit``."""
    init_key, train_key = jax.random.split(key)
    state = init_state(mcfg, init_key, config.learning_rate)
    data = fm.train_data(x_bic, y_bhc, fm.hparams(config.dropout, config.teacher_forcing))
    return fit(state, data, train_key, loss_fn=fm.make_loss_fn(mcfg),
               sampler=fm.sample_windows(config.batch_size), num_steps=config.num_steps,
               steps_per_call=config.steps_per_call, checkpoint_dir=ckpt,
               checkpoint_every=config.checkpoint_every, desc=desc)


def synthetic_windows(config: Config, data: ForecastData, key, ckpt: Path):
    """LSTM-VAE (from the generator registry) trained on the training windows (inputs and
    targets joined); returns twice as many synthetic windows, split into
    ``(x_bic, y_bhc)``."""
    whole = np.concatenate([data.train.x_bic, data.train.y_bhc], axis=1)
    vcfg = lstm_vae.LSTMVAEConfig(seq_len=whole.shape[1], channels=whole.shape[2],
                                  hidden=config.synthetic_hidden)
    init_key, train_key, gen_key = jax.random.split(key, 3)
    res = fit(create_state(lstm_vae.init_params(init_key, vcfg), adam(vcfg.learning_rate)),
              jnp.asarray(whole), train_key, loss_fn=lstm_vae.make_loss_fn(vcfg),
              sampler=sample_rows(config.batch_size), num_steps=config.synthetic_steps,
              steps_per_call=config.steps_per_call, checkpoint_dir=ckpt,
              checkpoint_every=config.checkpoint_every, desc="lstm_vae")
    trained = generators.Trained(res.state.params, vcfg)
    n_fake = 2 * whole.shape[0]
    fake = generators.generate("lstm_vae", trained, gen_key, np.zeros((n_fake, whole.shape[1])))
    return fake[:, :config.input_len], fake[:, config.input_len:], res.history


def search_spec(config: Config) -> dict:
    """What decides the search's outcome (with the data): ``search.json`` is reused only
    when it was written for the same spec. Random: the candidates themselves."""
    if config.search_backend == "random":
        return {"backend": "random", "candidates": sample_candidates(
            config.seed + 1, config.search_candidates, fm.FAMILIES, config.search_hidden)}
    return {"backend": config.search_backend, "seed": config.seed,
            "families": list(fm.FAMILIES), "hidden": [int(h) for h in config.search_hidden],
            "trials": config.search_trials, "candidates": config.search_candidates,
            "steps": config.search_steps}


def search(config: Config, data: ForecastData, channels: int, key, workdir: Path, score):
    """The population search (random, or Optuna proposing the shapes), or its saved
    outcome when ``search.json`` holds the same spec. Returns ``(records, best index,
    best test forecasts (scaled) [B, H, C])``."""
    spec = search_spec(config)
    saved = workdir / "search.json"
    if saved.exists():
        done = json.loads(saved.read_text())
        if done.get("spec") == spec:
            return done["candidates"], done["best"], np.asarray(done["test_pred"], np.float32)
    base = model_config(config, "lstm", channels)

    def evaluate(candidates):
        return run_search(candidates, base, data.train.x_bic, data.train.y_bhc, data.val.x_bic,
                          lambda pred: score(data.val.y_bhc, pred), key,
                          batch_size=config.batch_size, num_steps=config.search_steps,
                          steps_per_call=config.steps_per_call)

    if config.search_backend == "optuna":
        records, (best, bcfg, params) = optuna_search(
            evaluate, fm.FAMILIES, config.search_hidden, n_trials=config.search_trials,
            n_per_group=config.search_candidates, seed=config.seed)
    else:
        records, (best, bcfg, params) = evaluate(spec["candidates"])
    test_pred, _ = fm.predict(params, data.test.x_bic, bcfg)
    write_json(saved, {"spec": spec, "candidates": records, "best": best,
                       "test_pred": test_pred})
    return records, best, test_pred


def run(config: Config, workdir: str | Path) -> dict:
    """Every model's test metrics, the search and the synthetic-data utility; returns
    the results written to ``results.json``."""
    _check(config)
    x_tc, names = load_series(config)
    source = config.data_path or "generated series"
    data = prepare(x_tc, input_len=config.input_len, horizon=config.horizon,
                   train_frac=config.train_frac, val_frac=config.val_frac, source=source)
    workdir = prepare_workdir(config, workdir)
    ckpt = workdir / "checkpoints"
    n_ch = x_tc.shape[1]
    inv = data.scaler.inverse_transform
    min_abs = config.mape_min_frac * np.abs(x_tc[:data.bounds[0]]).mean(axis=0)
    truth = inv(data.test.y_bhc)

    def rmse(y_scaled, pred_scaled):
        return fmx.errors(inv(y_scaled), inv(pred_scaled))["rmse"]

    keys = dict(zip(("lstm", "attention", "search", "vae", "syn", "both"),
                    jax.random.split(jax.random.key(config.seed), 6), strict=True))
    preds = {"persistence": baselines.persistence(data.test.x_bic, config.horizon)}
    if config.season:
        preds["seasonal persistence"] = baselines.seasonal_persistence(
            data.test.x_bic, config.horizon, config.season)
    if config.arima_p:
        train_scaled = data.scaler.transform(x_tc[:data.bounds[0]])
        phi = baselines.fit_arima(train_scaled, config.arima_p)
        preds[f"ARIMA({config.arima_p},1,0)"] = baselines.arima_forecast(
            phi, data.test.x_bic, config.horizon)
    trained, attn = {}, {}
    for kind in fm.FAMILIES:
        mcfg = model_config(config, kind, n_ch)
        res = train_forecaster(config, mcfg, data.train.x_bic, data.train.y_bhc, keys[kind],
                               ckpt / kind, kind)
        trained[kind] = (mcfg, res)
        preds[f"{kind} seq2seq"], attn[kind] = fm.predict(res.state.params, data.test.x_bic, mcfg)
    records, best, preds["best of search"] = search(config, data, n_ch, keys["search"],
                                                     workdir, rmse)
    rows = [r for name, p in preds.items() for r in fmx.table_rows(name, truth, inv(p),
                                                                   min_abs=min_abs)]
    utility = synthetic_utility(config, data, trained["lstm"], keys, ckpt, truth, min_abs)
    attention = attention_summary(attn["attention"], config.season)
    overall = {r["model"]: {k: r[k] for k in ("rmse", "mae", "mape", "mape_coverage")}
               for r in rows if r["step"] == "all"}
    results = {
        "data": {"source": source, "channels": names, "n_time": int(x_tc.shape[0]),
                 "bounds": data.bounds, "windows": {p: int(len(getattr(data, p).x_bic))
                                                    for p in ("train", "val", "test")},
                 "mape_min_abs": min_abs},
        "overall": overall, "search": {"candidates": records, "best": best},
        "utility": utility["overall"], "attention": attention,
        "loss_last": {k: float(np.mean(r.history["loss"][-20:])) for k, (_, r) in
                      trained.items()},
    }
    write_json(workdir / "results.json", results)
    write_tables(workdir, rows, records, best, utility["rows"])
    i = len(truth) // 2
    plots.forecasts(workdir / "forecasts.png", inv(data.test.x_bic[i]), truth[i],
                    {k: inv(v[i]) for k, v in preds.items()}, names)
    plots.attention_heatmap(workdir / "attention_heatmap.png", np.asarray(attention["mean_hi"]),
                            "attention seq2seq: mean over test windows and heads")
    plots.lag_importance(workdir / "lag_importance.png",
                         np.asarray(attention["lag_importance"]), config.season)
    print((workdir / "table.md").read_text())
    print(f"results in {workdir}")
    return results


def synthetic_utility(config: Config, data: ForecastData, real, keys, ckpt: Path, truth,
                      min_abs) -> dict:
    """LSTM seq2seq trained on real, synthetic, and both training sets, tested on the real
    test windows (TRTR / TSTR / T(R+S)TR). With ``N`` real training windows: TSTR gets
    ``2N`` synthetic ones, T(R+S)TR the ``N`` real plus the first ``N`` synthetic (the
    same array shape, so one compiled program serves both); all train the same steps."""
    mcfg, real_res = real
    inv = data.scaler.inverse_transform
    fits = {"real (TRTR)": real_res}
    history = None
    if config.synthetic != "none":
        x_syn, y_syn, history = synthetic_windows(config, data, keys["vae"], ckpt / "lstm_vae")
        fits["synthetic (TSTR)"] = train_forecaster(config, mcfg, x_syn, y_syn, keys["syn"],
                                                    ckpt / "tstr", "tstr")
        n_real = len(data.train.x_bic)
        both_x = np.concatenate([data.train.x_bic, x_syn[:n_real]])
        both_y = np.concatenate([data.train.y_bhc, y_syn[:n_real]])
        fits["real + synthetic (T(R+S)TR)"] = train_forecaster(
            config, mcfg, both_x, both_y, keys["both"], ckpt / "trstr", "trstr")
    rows, overall = [], {}
    for name, res in fits.items():
        pred, _ = fm.predict(res.state.params, data.test.x_bic, mcfg)
        overall[name] = fmx.errors(truth, inv(pred), min_abs=min_abs)
        rows.append({"training data": name, **overall[name]})
    vae_loss = None if history is None else float(np.mean(history["loss"][-20:]))
    return {"rows": rows, "overall": {"by_training_data": overall,
                                      "generator": config.synthetic,
                                      "generator_loss_last": vae_loss}}


def attention_summary(attn_bnhi: np.ndarray, season: int) -> dict:
    """Mean weights ``[H, I]``, lag importance ``[I]`` (input order, oldest first), the top
    lags (hours before the origin) and the mean entropy per horizon step."""
    mean_hi = attn_bnhi.mean(axis=(0, 1))
    importance = mean_hi.mean(axis=0)
    n_in = importance.shape[0]
    top = np.argsort(importance)[::-1][:5]
    entropy = -(attn_bnhi * np.log(np.clip(attn_bnhi, 1e-12, None))).sum(-1).mean(axis=(0, 1))
    return {"mean_hi": mean_hi, "lag_importance": importance,
            "top_lags": [int(n_in - i) for i in top], "entropy_h": entropy,
            "entropy_uniform": float(np.log(n_in)),
            "mass_last_6": float(importance[-6:].sum()),
            "mass_seasonal": float(sum(importance[n_in - k] for k in range(season, n_in + 1,
                                                                            season or n_in + 1)))}


def write_tables(workdir: Path, rows, records, best, utility_rows) -> None:
    cols = ["model", "step", "rmse", "mae", "mape", "mape_coverage"]
    atomic_write_text(workdir / "metrics.csv", csv(cols, rows))
    overall = [r for r in rows if r["step"] == "all"]
    lines = ["Test windows, original units, all channels and horizon steps.", ""]
    lines += markdown(["model", "RMSE", "MAE", "MAPE %"],
                      [[r["model"], f"{r['rmse']:.3f}", f"{r['mae']:.3f}", f"{r['mape']:.1f}"]
                       for r in overall])
    atomic_write_text(workdir / "table.md", "\n".join(lines) + "\n")
    scols = ["kind", "hidden", "learning_rate", "dropout", "teacher_forcing", "val_score",
             "final_loss"]
    srows = [{**r, "best": int(i == best)} for i, r in enumerate(records)]
    atomic_write_text(workdir / "search.csv", csv(scols + ["best"], srows))
    ucols = ["training data", "rmse", "mae", "mape", "mape_coverage"]
    atomic_write_text(workdir / "utility.csv", csv(ucols, utility_rows))
    umd = markdown(["training data (tested on real)", "RMSE", "MAE", "MAPE %"],
                   [[r["training data"], f"{r['rmse']:.3f}", f"{r['mae']:.3f}",
                     f"{r['mape']:.1f}"] for r in utility_rows])
    atomic_write_text(workdir / "utility.md", "\n".join(umd) + "\n")


if __name__ == "__main__":
    main("forecasting", get_config, run)
