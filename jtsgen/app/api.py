"""Your own labelled metrics: fit a generator, generate labelled windows, prove they help.

The Python side of the ``jtsgen`` command (:mod:`jtsgen.cli`); ``jtsgen.fit``,
``jtsgen.generate``, ``jtsgen.evaluate`` and ``jtsgen.report`` are these functions.
Everything lives in one work directory ``W``:

* ``W/config.json`` — the resolved :class:`AppConfig` (data, columns, model, profile);
  ``W/data.json`` — the data's fingerprint (sha256 per file), series and scalers;
* ``W/checkpoints/run0/`` — the generators' checkpoints (a rerun of ``fit`` resumes;
  :func:`evaluate`'s first run reuses them: they train from the same keys);
* ``W/fit.json`` and ``W/generators.pkl`` — written when training has finished
  (losses per stage; the trained states);
* ``W/evaluate/`` — the four-framework and augmentation tables (:mod:`jtsgen.evaluate.
  framework_runner`) with their config; ``W/report/`` — fidelity and realism of the
  generated windows with figures.

A work directory made with another config or from other data is refused, naming
what differs, so results never mix.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jax
import numpy as np
import pandas as pd

from jtsgen.app import LABELS_FROM, MODELS
from jtsgen.app.dataset import (
    Columns,
    SeriesSplit,
    fingerprint,
    read_series,
    split_windows,
    value_column,
)
from jtsgen.config import (
    apply_overrides,
    atomic_write_text,
    check_choices,
    from_dict,
    override,
    save_config,
    to_dict,
    write_json,
    write_outputs,
)
from jtsgen.data.validate import require_fraction
from jtsgen.detect.registry import DETECTORS
from jtsgen.errors import InputError
from jtsgen.evaluate.fidelity import fidelity_report
from jtsgen.evaluate.framework_runner import (
    FrameworksConfig,
    check_config,
    generate_in_chunks,
    profile_settings,
    run_all,
    samplers,
    source_keys,
    write_tables,
)
from jtsgen.evaluate.frameworks import FRAMEWORKS
from jtsgen.evaluate.privacy import privacy_report
from jtsgen.evaluate.realism import discriminative_score, summarise_runs
from jtsgen.evaluate.report_plots import (
    plot_acf,
    plot_embedding,
    plot_histograms,
    plot_sample_grid,
)
from jtsgen.models import cgats, generators
from jtsgen.models.cgats_labels import label_vector
from jtsgen.models.generators import GeneratorSettings
from jtsgen.train import local_mesh, loss_ends

STATES_FILE = "generators.pkl"


@dataclasses.dataclass(frozen=True)
class AppConfig(FrameworksConfig):
    """:class:`FrameworksConfig` plus where the user's data is and how it is cut."""

    data: str = ""
    columns: Columns = Columns()
    # the generator ``generate`` samples from: cgats, rcgan or ddpm (C-GATS always
    # trains too: its label model draws the label vectors, the frameworks use it)
    generator: str = "cgats"
    train_frac: float = 0.8
    stride: int = 0  # steps between window starts; 0 = model.seq_len // 8
    # fewer anomalous training windows than this is an error (stage 2 and the label
    # model learn from them)
    min_anomalous_windows: int = 8
    augmentations: tuple[str, ...] = ("mixup", "cutmix", "combination", "cgats")


def get_config(profile: str = "quick") -> AppConfig:
    """``smoke`` (tests: windows of 48, seconds), ``quick`` (a 2-core CPU: windows of
    240, minutes), ``paper`` (long training, 5 evaluation runs)."""
    return AppConfig(profile=profile, **profile_settings(profile))


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)


def configure(profile: str = "quick", overrides: Mapping[str, Any] | Iterable[str] = (),
              **fields: Any) -> AppConfig:
    """The profile's config with ``fields`` set and ``overrides`` applied: a mapping
    ``{"model.seq_len": 120}`` or ``--config.model.seq_len=120`` strings."""
    cfg = dataclasses.replace(get_config(profile), **fields)
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            cfg = override(cfg, key, _text(value), arg=f"--config.{key}")
    else:
        cfg = apply_overrides(cfg, list(overrides))
    _check(cfg)
    return cfg


def _check(cfg: AppConfig) -> None:
    check_config(cfg)
    if cfg.generator not in MODELS:
        raise InputError("--model", f"unknown {cfg.generator!r}; choose from {list(MODELS)}")
    require_fraction(cfg.train_frac, "--config.train_frac")
    if cfg.stride < 0:
        raise InputError("--config.stride", f"must be >= 0 (0 = automatic), got {cfg.stride}")


def stride_of(cfg: AppConfig) -> int:
    return cfg.stride or max(1, cfg.model.seq_len // 8)


def _windows(cfg: AppConfig) -> SeriesSplit:
    series = read_series(cfg.data, cfg.columns)
    split = split_windows(series, length=cfg.model.seq_len, stride=stride_of(cfg),
                          train_frac=cfg.train_frac)
    anomalous = split.train.y_bt.max(axis=1) > 0
    if anomalous.sum() < cfg.min_anomalous_windows:
        raise InputError(cfg.data, f"{int(anomalous.sum())} training window(s) hold a labelled "
                                   f"anomaly; training needs at least "
                                   f"{cfg.min_anomalous_windows} (--config.min_anomalous_windows)"
                                   "; label more anomalies, or use a smaller "
                                   "--config.stride or --config.model.seq_len")
    if anomalous.all():
        raise InputError(cfg.data, f"all {len(anomalous)} training windows hold a labelled "
                                   "anomaly; stage 1 needs anomaly-free windows (use a "
                                   "shorter --config.model.seq_len)")
    return split


def _json(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=lambda o: o.tolist()))


def _claim(workdir: Path, cfg: AppConfig, data_info: dict) -> None:
    """Writes ``config.json`` and ``data.json``, or checks that existing ones match."""
    saved_cfg, saved_data = workdir / "config.json", workdir / "data.json"
    if saved_cfg.exists():
        old, new = json.loads(saved_cfg.read_text()), _json(to_dict(cfg))
        differs = _differences(old, new)
        if differs:
            raise InputError(str(workdir), "was made with a different config (differs in "
                                           f"{', '.join(differs)}); use another --workdir")
    if saved_data.exists():
        _same_data(workdir, json.loads(saved_data.read_text())["files"], data_info["files"])
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(str(workdir), f"cannot create the work directory ({e.strerror})") from None
    save_config(cfg, saved_cfg)
    write_json(saved_data, data_info)


def _differences(old: Any, new: Any, prefix: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        return [d for k in sorted(set(old) | set(new))
                for d in _differences(old.get(k), new.get(k), f"{prefix}{k}.")]
    return [] if old == new else [prefix.rstrip(".")]


def _same_data(workdir: Path, saved: dict, now: dict) -> None:
    if saved != now:
        changed = sorted(set(saved) ^ set(now)) + sorted(
            f for f in set(saved) & set(now) if saved[f] != now[f])
        raise InputError(str(workdir), f"was made from other data (changed: {changed}); fit "
                                       "again in a new --workdir")


def _train(cfg: AppConfig, split: SeriesSplit, workdir: Path, progress: bool) -> dict:
    """The generators ``generate`` and :func:`evaluate`'s first run need, trained (or
    restored from their checkpoints); ``({name: state}, {name: history})``."""
    names = tuple(dict.fromkeys(("cgats", cfg.generator)))
    return generators.train_generators(
        names, generators.GeneratorKeys.of(source_keys(cfg.seed, 0)),
        split.train.x_btc, split.train.y_bt, GeneratorSettings(cfg.model, cfg.baseline_steps),
        checkpoint_dir=workdir / "checkpoints" / "run0", progress=progress,
        mesh=local_mesh(cfg.devices))


def _save_states(path: Path, states: dict) -> None:
    """The trained generators' states on the host, pickled (written via a temp file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as f:
        pickle.dump({"format": 1, "states": jax.device_get(states)}, f)
    tmp.replace(path)


def trained_states(workdir: str | Path) -> dict:
    """``{name: state}`` of the generators ``jtsgen fit`` trained in ``workdir`` (a file
    jtsgen wrote itself: pickled, so only open work directories you trust)."""
    with (Path(workdir) / STATES_FILE).open("rb") as f:
        return pickle.load(f)["states"]


def _loss_summary(histories: dict) -> dict:
    out = {}
    for name, h in histories.items():
        stages = h if "loss" not in h else {"train": h}
        for stage, hist in stages.items():
            loss = np.asarray(hist.get("loss", []), np.float64)
            if loss.size:
                first, last = loss_ends(loss)
                out[f"{name} {stage}"] = {"first10": first, "last10": last,
                                          "steps": int(loss.size)}
    return out


def fit(data: str | Path, workdir: str | Path, *, label_col: str = "label",
        time_col: str = "", series_col: str = "", value_col: str = "", model: str = "cgats",
        profile: str = "quick", config: Mapping[str, Any] | Iterable[str] = (),
        progress: bool = True) -> dict:
    """Trains the generator ``model`` (and C-GATS) on the training windows of ``data``
    (a CSV/Parquet file or a folder, see :mod:`jtsgen.app.dataset`); checkpoints in
    ``workdir`` (a rerun resumes). ``config``: overrides such as ``{"model.seq_len":
    120}``. Returns what ``fit.json`` holds: window counts and loss summaries."""
    cfg = configure(profile, config, data=str(data), generator=model,
                    columns=Columns(label_col, time_col or "", series_col or "",
                                    value_col or ""))
    workdir = Path(workdir)
    split = _windows(cfg)
    info = {"files": fingerprint(cfg.data), "series": list(split.names),
            "value_col": value_column(cfg.data, cfg.columns),
            "mean": split.mean, "scale": split.scale}
    _claim(workdir, cfg, info)
    states, histories = _train(cfg, split, workdir, progress)
    _save_states(workdir / STATES_FILE, states)
    result = {"series": len(split.names), "train_windows": len(split.train.x_btc),
              "anomalous_train_windows": int((split.train.y_bt.max(axis=1) > 0).sum()),
              "test_windows": len(split.test.x_btc), "window": cfg.model.seq_len,
              "stride": stride_of(cfg), "losses": _loss_summary(histories)}
    write_json(workdir / "fit.json", result)
    if progress:
        print(f"fit: {result['train_windows']} training windows "
              f"({result['anomalous_train_windows']} anomalous) from {result['series']} "
              f"series; trained {', '.join(dict.fromkeys(('cgats', cfg.generator)))} in "
              f"{workdir}")
    return result


def load(workdir: str | Path) -> tuple[AppConfig, SeriesSplit]:
    """The config and windows of a fitted work directory (the data re-read and checked
    against its fingerprint)."""
    workdir = Path(workdir)
    if not (workdir / "fit.json").exists():
        raise InputError(str(workdir), "holds no finished fit (no fit.json); run "
                                       "`jtsgen fit DATA --workdir W` first")
    cfg = from_dict(AppConfig, json.loads((workdir / "config.json").read_text()))
    saved = json.loads((workdir / "data.json").read_text())["files"]
    _same_data(workdir, saved, fingerprint(cfg.data))
    cfg = dataclasses.replace(cfg, columns=dataclasses.replace(
        cfg.columns, value=json.loads((workdir / "data.json").read_text())["value_col"]))
    return cfg, _windows(cfg)


def _labels(cfg: AppConfig, split: SeriesSplit, state: cgats.CGATSState, key: jax.Array, n: int,
            labels_from: str, points: Sequence[int],
            segments: Sequence[tuple[int, int]]) -> np.ndarray:
    if points or segments:
        y_t = label_vector(cfg.model.seq_len, segments=segments, points=points)
        return np.tile(y_t, (n, 1))
    if labels_from == "label-model":
        return np.asarray(cgats.draw_labels(state, key, n), np.float32)
    if labels_from == "train":
        rows = np.asarray(jax.random.randint(key, (n,), 0, len(split.train.y_bt)))
        return split.train.y_bt[rows]
    raise InputError("--labels-from", f"unknown {labels_from!r}; choose from {list(LABELS_FROM)}")


def generate(workdir: str | Path, n: int = 1000, *, labels_from: str = "label-model",
             points: Sequence[int] = (), segments: Sequence[tuple[int, int]] = (),
             seed: int = 0, out: str | Path | None = None) -> pd.DataFrame:
    """``n`` synthetic windows from the fitted generator, in long format: ``window``,
    ``step``, ``series`` (whose scale the values are in), the value and label columns.

    Labels: every window gets ``points`` (steps) and ``segments`` (``(start, end)``, end
    exclusive) when given; else vectors drawn from C-GATS's label model (``labels_from=
    "label-model"``: anomalous windows shaped like the training anomalies) or the
    training windows' own vectors (``"train"``: their anomaly rate). Values are
    unscaled with the scaler of a training series drawn in proportion to its windows.
    With ``out``, writes the CSV there and a preview PNG beside it.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InputError("--n", f"must be a positive integer, got {n!r}")
    cfg, split = load(workdir)
    states = trained_states(workdir)
    k_labels, k_gen, k_series = jax.random.split(jax.random.key(seed), 3)
    y_bt = _labels(cfg, split, states["cgats"], k_labels, n, labels_from, points, segments)
    x_bt = generate_in_chunks(samplers(cfg, states)[cfg.generator], k_gen, y_bt)[..., 0]
    owner = split.train_series_b[np.asarray(
        jax.random.randint(k_series, (n,), 0, len(split.train_series_b)))]
    values = x_bt * split.scale[owner, None] + split.mean[owner, None]
    frame = _long_format(cfg, split, values, y_bt, owner)
    if out is not None:
        out = Path(out)
        atomic_write_text(out, frame.to_csv(index=False))
        _preview(values, y_bt, out.with_suffix(".png"))
        print(f"{n} windows of {cfg.model.seq_len} steps "
              f"({float(y_bt.mean()):.3f} of steps labelled) in {out}")
    return frame


def _long_format(cfg: AppConfig, split: SeriesSplit, values_bt: np.ndarray, y_bt: np.ndarray,
                 owner_b: np.ndarray) -> pd.DataFrame:
    n, t = values_bt.shape
    return pd.DataFrame({
        "window": np.repeat(np.arange(n), t), "step": np.tile(np.arange(t), n),
        cfg.columns.series or "series": np.repeat(np.asarray(split.names)[owner_b], t),
        cfg.columns.value: values_bt.reshape(-1).astype(np.float32),
        cfg.columns.label: y_bt.reshape(-1).astype(np.int8)})


def _preview(values_bt: np.ndarray, y_bt: np.ndarray, path: Path, rows: int = 6) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = min(rows, len(values_bt))
    fig, axes = plt.subplots(k, 1, figsize=(9, 1.4 * k), sharex=True, squeeze=False)
    for ax, v, y in zip(axes[:, 0], values_bt[:k], y_bt[:k], strict=True):
        ax.plot(v, lw=1)
        ax.fill_between(np.arange(len(y)), v.min(), v.max(), where=y > 0, color="tab:red",
                        alpha=0.25, lw=0)
    axes[0, 0].set_title("generated windows (labelled steps shaded)")
    _save(fig, path)


def _save(fig, path: Path) -> None:
    from jtsgen.evaluate.report_plots import save_figure  # the one atomic PNG writer

    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def evaluate(workdir: str | Path, *, detectors: Sequence[str] | None = None,
             frameworks: Sequence[str] | None = None, runs: int | None = None,
             progress: bool = True) -> dict:
    """The four frameworks (TRTR, T(R+S)TR, TRTS, TSTR with C-GATS's set) and the
    augmentation comparison (w/o augmentation, Mixup, CutMix, Combination, C-GATS and
    the fitted model) on the user's test windows, ``runs`` times; writes the tables
    (Markdown and ``cells.csv``), ``results.json`` and the config to ``workdir/evaluate``
    and returns the results. Default detectors: those of the profile's config
    (RobustTAD, SR-CNN, NCAD)."""
    workdir = Path(workdir)
    cfg, split = load(workdir)
    fields = {"augmentations": tuple(dict.fromkeys(cfg.augmentations + (cfg.generator,)))}
    if detectors:
        check_choices("--detector", tuple(detectors), DETECTORS)
        fields["detectors"] = tuple(detectors)
    if frameworks:
        check_choices("--framework", tuple(frameworks), FRAMEWORKS)
        fields["frameworks"] = tuple(f for f in FRAMEWORKS if f in frameworks)
    if runs is not None:
        if runs < 1:
            raise InputError("--runs", f"must be >= 1, got {runs}")
        fields["n_runs"] = runs
    cfg = dataclasses.replace(cfg, **fields)
    _check(cfg)
    if not split.test.y_bt.any():
        raise InputError(cfg.data, f"no labelled anomaly in the test part (the last "
                                   f"{1 - cfg.train_frac:g} of each series): every test metric "
                                   "would be 0; use a smaller --config.train_frac at fit")
    out = workdir / "evaluate"
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.json")
    results = run_all(cfg, out, lambda r: (split.train, split.test),
                      checkpoints=workdir / "checkpoints", progress=progress)
    note = (f"{cfg.data}: {len(split.names)} series split {cfg.train_frac:g}:"
            f"{1 - cfg.train_frac:g} in time, windows of {cfg.model.seq_len} every "
            f"{stride_of(cfg)} steps")
    return write_tables(cfg, out, results, note)


def report(workdir: str | Path, *, seed: int = 0) -> dict:
    """Real vs generated training windows (generated for the training windows' own
    label vectors): the fidelity distances of :mod:`jtsgen.evaluate.fidelity`, the
    privacy measures of :mod:`jtsgen.evaluate.privacy` (the test part's windows are the
    hold-out the generator never saw), the anomaly-realism statistics of both sets and
    the real-vs-generated classifier's held-out accuracy (0.5 best); written to
    ``workdir/report``: ``report.json``, ``report.md``, the figures of
    :mod:`jtsgen.evaluate.report_plots` (value histograms, ACF, PCA/t-SNE of at most 200
    windows each, a sample grid) and ``anomalies.png`` (labelled windows side by side)."""
    workdir = Path(workdir)
    cfg, split = load(workdir)
    states = trained_states(workdir)
    real = split.train
    fake = generate_in_chunks(samplers(cfg, states)[cfg.generator], jax.random.key(seed),
                              real.y_bt)
    realism = {"real": summarise_runs(real.x_btc, real.y_bt),
               "generated": summarise_runs(fake, real.y_bt)}
    results = {"generator": cfg.generator, "windows": len(real.x_btc),
               "fidelity": fidelity_report(real.x_btc[..., 0], fake[..., 0]),
               "privacy": privacy_report(real.x_btc, split.test.x_btc, fake, seed=seed),
               "realism": realism,
               "discriminative_accuracy": discriminative_score(real.x_btc, real.y_bt, fake,
                                                               real.y_bt, seed=seed)}
    out = workdir / "report"
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.json")
    plot_histograms(real.x_btc, fake, out / "histograms.png")
    plot_acf(real.x_btc, fake, out / "acf.png")
    plot_embedding(real.x_btc, fake, out / "embedding.png", seed=seed, max_points=200)
    plot_sample_grid(real.x_btc, fake, out / "samples.png", seed=seed)
    _report_figure(real.x_btc[..., 0], fake[..., 0], real.y_bt, out / "anomalies.png")
    write_outputs(out, {"report.json": results}, {"report.md": _report_md(results)},
                  _report_md(results))
    return results


def _report_md(results: dict) -> str:
    lines = [f"Generator {results['generator']}, {results['windows']} training windows "
             "(generated for the same label vectors).", "", "| fidelity | value |",
             "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in results["fidelity"].items()]
    lines += ["", "| privacy (hold-out: the test part's windows) | value |", "|---|---|"]
    lines += [f"| {k} | {v:.4f} |" for k, v in results["privacy"].items()]
    lines += ["", "| anomaly realism | real | generated |", "|---|---|---|"]
    real, gen = results["realism"]["real"], results["realism"]["generated"]
    lines += [f"| {k} | {real[k]:.4f} | {gen[k]:.4f} |" for k in real]
    lines += ["", "Real-vs-generated classifier, held-out accuracy on anomalous windows "
              f"(0.5 = indistinguishable): {results['discriminative_accuracy']:.3f}", ""]
    return "\n".join(lines)


def _report_figure(real_bt: np.ndarray, fake_bt: np.ndarray, y_bt: np.ndarray,
                   path: Path, rows: int = 4) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    anomalous = np.flatnonzero(y_bt.max(axis=1) > 0)[:rows]
    k = max(len(anomalous), 1)
    fig, axes = plt.subplots(k + 1, 2, figsize=(11, 1.6 * (k + 1)), squeeze=False)
    for r, i in enumerate(anomalous):
        for c, (x, title) in enumerate(((real_bt[i], "real"), (fake_bt[i], "generated"))):
            ax = axes[r, c]
            ax.plot(x, lw=1)
            ax.fill_between(np.arange(len(x)), x.min(), x.max(), where=y_bt[i] > 0,
                            color="tab:red", alpha=0.25, lw=0)
            ax.set_title(f"{title} (same labels)", fontsize=8)
    bins = np.histogram_bin_edges(np.concatenate([real_bt.ravel(), fake_bt.ravel()]), 50)
    for c, (x, title) in enumerate(((real_bt, "real"), (fake_bt, "generated"))):
        axes[k, c].hist(x.ravel(), bins=bins, color="tab:blue" if c == 0 else "tab:orange")
        axes[k, c].set_title(f"{title} values (scaled)", fontsize=8)
    _save(fig, path)
