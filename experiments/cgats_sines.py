"""C-GATS on Synthetic Sines: train, control anomalies by label, compare generators.

``python -m experiments.cgats_sines [--profile smoke|quick|paper] [--workdir DIR]
[--config.key=value ...]`` trains C-GATS on the 80% training split of Synthetic
Sines (point and level-shift anomalies) and writes to the work directory:

* ``config.json`` — the resolved config; ``checkpoints/`` — Orbax checkpoints
  (re-running the command resumes);
* ``fig1_label_control.png`` — one fixed z, several label vectors (paper Figure 1);
* ``fig2_samples.png`` — generated samples with their anomalies marked (Figure 2);
* ``fig3_tsne.png`` — t-SNE of real vs generated anomalous windows (Figure 3);
* ``losses.json`` — training losses of every model;
* ``faithfulness.csv`` / ``.md`` and ``results.json`` — label faithfulness
  (:mod:`jtsgen.evaluate.faithfulness`) of C-GATS, its two ablations, RCGAN and the
  conditional DDPM, on label vectors drawn from the training label model.

With ``--config.seeds=0,1,2`` it runs once per seed (the ``seed`` field replaced by
each, which changes the data, the split, every initialisation and every noise draw)
into ``DIR/seed{S}/`` with all the outputs above; a seed directory that already holds
``results.json`` of the same config is read back instead of run again, one of another
config is refused. Then it writes ``seeds.json`` (per generator: each measure for
every seed, mean and sample sd), ``seeds.md`` and ``seeds.csv``.

The sines use ``η ~ U[freq_range]``; the default ``(0, 0.05)`` gives smooth series
of up to 12 periods per window (the paper's ``U[0, 1]`` aliases at integer steps;
pass ``--config.freq_range=0,1`` for it).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import atomic_write_text, to_dict, write_json, write_outputs
from jtsgen.data.sines import make_sines
from jtsgen.data.splits import split_by_series
from jtsgen.errors import InputError
from jtsgen.evaluate import tables
from jtsgen.evaluate.faithfulness import label_faithfulness
from jtsgen.evaluate.report_plots import plot_label_control, plot_samples, plot_tsne
from jtsgen.models import cgats, generators
from jtsgen.models.cgats import CGATSConfig
from jtsgen.models.cgats_labels import label_vector
from jtsgen.runtime import Stage, untimed
from jtsgen.train import local_mesh

MEASURES = ("on_label_share", "lift", "dev_on", "dev_off")


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seed: int = 0
    n_series: int = 4000
    freq_range: tuple[float, ...] = (0.0, 0.05)
    anomaly_prob: float = 0.5
    ablations: bool = True
    baselines: bool = True
    baseline_models: tuple[str, ...] = ("rcgan", "ddpm")  # which baselines train
    baseline_steps: int = 600
    n_eval: int = 256
    tsne_points: int = 300
    # C-GATS (both stages and the ablations) and RCGAN train data parallel over this many
    # local devices, each taking batch_size / devices rows; on the command line a
    # CPU is split into one device per core
    devices: int = 1
    model: CGATSConfig = generators.GeneratorSettings.model
    # several seeds: one run per seed into seed{S}/, the faithfulness as mean ± sd
    seeds: tuple[int, ...] = ()


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests); quick: a 2-core CPU in minutes; paper: 64k series, long runs."""
    gen = generators.settings_for(profile)
    shared = dict(profile=profile, model=gen.model, baseline_steps=gen.baseline_steps)
    if profile == "smoke":
        return Config(n_series=200, n_eval=16, tsne_points=30, **shared)
    if profile == "paper":
        return Config(n_series=64000, n_eval=1024, **shared)
    return Config(**shared)


def figure_labels(seq_len: int) -> tuple[list[str], np.ndarray]:
    """The label vectors of Figure 1, scaled to ``seq_len``."""
    s = seq_len / 240
    rows = {
        "no anomaly": label_vector(seq_len),
        "points at 30, 180": label_vector(seq_len, points=[int(30 * s), int(180 * s)]),
        "level shift 100..140": label_vector(seq_len, segments=[(int(100 * s), int(141 * s))]),
        "short run 60..64": label_vector(seq_len, segments=[(int(60 * s), int(65 * s))]),
        "two shifts": label_vector(seq_len, segments=[(int(20 * s), int(60 * s)),
                                                      (int(150 * s), int(200 * s))]),
    }
    return list(rows), np.stack(list(rows.values()))


def load_data(config: Config) -> tuple[np.ndarray, ...]:
    """Synthetic Sines split 80:20 by series: ``(x_train, y_train, x_test, y_test)``."""
    data = make_sines(config.n_series, config.seed, length=config.model.seq_len,
                      anomaly_prob=config.anomaly_prob, freq_range=tuple(config.freq_range))
    split = split_by_series(config.n_series, seed=config.seed)
    return (data.x_btc[split.train], data.y_bt[split.train], data.x_btc[split.test],
            data.y_bt[split.test])


def generator_names(config: Config) -> tuple[str, ...]:
    """The generators ``config`` trains: C-GATS, its ablations, its baselines."""
    return (("cgats",) + (generators.ABLATIONS if config.ablations else ())
            + (tuple(config.baseline_models) if config.baselines else ()))


class RunKeys(NamedTuple):
    """The experiment's keys by purpose (``split(key(seed), 8)`` in this order)."""

    cgats: jax.Array
    labels: jax.Array  # label-model draws for the faithfulness table and Figure 2
    cvae: jax.Array
    cgats_first: jax.Array
    baselines: jax.Array
    generate: jax.Array  # the paired generation of the faithfulness table
    label_control: jax.Array  # Figure 1
    samples: jax.Array  # Figures 2 and 3


def run_keys(seed: int) -> RunKeys:
    return RunKeys(*jax.random.split(jax.random.key(seed), 8))


def train_generators(config: Config, x_tr: np.ndarray, y_tr: np.ndarray, keys: RunKeys, *,
                     checkpoint_dir: Path | None = None, progress: bool = True,
                     stage: Stage = untimed) -> tuple[dict, dict]:
    """:func:`jtsgen.models.generators.train_generators` with this experiment's settings
    and keys: ``({name: state}, {name: loss history})``."""
    return generators.train_generators(
        generator_names(config), generators.GeneratorKeys.of(keys), x_tr, y_tr,
        generators.GeneratorSettings(config.model, config.baseline_steps),
        checkpoint_dir=checkpoint_dir, progress=progress, mesh=local_mesh(config.devices),
        stage=stage)


def run(config: Config, workdir: str | Path) -> dict:
    """One run (:func:`run_one`), or one per seed of ``config.seeds`` and their summary
    (:func:`run_seeds`)."""
    return run_seeds(config, workdir) if config.seeds else run_one(config, workdir)


def run_one(config: Config, workdir: str | Path, *, stage: Stage = untimed,
            checkpoints: bool = True, progress: bool = True) -> dict:
    """Trains and evaluates; returns the numbers also written to ``results.json``.

    Each step runs as ``stage(name, fn)`` (``benchmarks.pipeline`` passes a stopwatch):
    "data", the training stages of :func:`train_generators`, "generate" (every
    generator twice on ``n_eval`` label-model vectors: with them and with none, same
    key), "evaluate" (label faithfulness) and "figures". ``checkpoints=False`` trains
    without writing checkpoints.
    """
    workdir = prepare_workdir(config, workdir)
    x_tr, y_tr, x_te, y_te = stage("data", lambda: load_data(config))
    keys = run_keys(config.seed)
    states, losses = train_generators(
        config, x_tr, y_tr, keys, checkpoint_dir=workdir / "checkpoints" if checkpoints else None,
        progress=progress, stage=stage)
    y_eval = cgats.draw_labels(states["cgats"], keys.labels, config.n_eval)
    pairs = stage("generate", lambda: {
        name: (generators.generate(name, state, keys.generate, y_eval),
               generators.generate(name, state, keys.generate, np.zeros_like(y_eval)))
        for name, state in states.items()})
    table = stage("evaluate", lambda: {
        generators.GENERATORS[name].display: label_faithfulness(a, b, y_eval)
        for name, (a, b) in pairs.items()})
    write_json(workdir / "losses.json", losses)
    _write_table(workdir, table)
    stage("figures", lambda: make_figures(states["cgats"], config, keys, y_eval, x_te, y_te,
                                          workdir))
    results = {
        "faithfulness": table,
        "final_losses": {name: {stage: h["loss"][-1] for stage, h in hist.items()}
                         for name, hist in losses.items()},
        "n_train": int(len(x_tr)), "n_test": int(len(x_te)),
    }
    write_json(workdir / "results.json", results)
    if progress:
        print((workdir / "faithfulness.md").read_text())
        print(f"results in {workdir}")
    return results


def make_figures(state: cgats.CGATSState, config: Config, keys: RunKeys, y_eval: np.ndarray,
                 x_te: np.ndarray, y_te: np.ndarray, workdir: Path) -> None:
    """Figures 1-3 into ``workdir``: label control (``keys.label_control``), samples for
    the first 8 of ``y_eval`` and t-SNE of real vs generated anomalous test windows
    (``keys.samples``)."""
    names, y_fig = figure_labels(config.model.seq_len)
    z = np.asarray(cgats.sample_latent(state, keys.label_control, 1))
    # One z, anomaly latent and noise draw for every row: rows differ only through their
    # labels. Of 16 draws of the anomaly latent, the one whose anomalies are of median
    # size is shown (a typical draw, not the largest).
    candidates = [jax.random.fold_in(keys.label_control, i) for i in range(16)]

    def rows(k, labels):
        return np.concatenate([cgats.generate(state, k, y[None], z_bd=z) for y in labels])

    sizes = [np.abs(rows(k, y_fig) - rows(k, 0 * y_fig))[..., 0][y_fig > 0].mean()
             for k in candidates]
    x_fig = rows(candidates[int(np.argsort(sizes)[len(sizes) // 2])], y_fig)
    plot_label_control(x_fig, y_fig, names, workdir / "fig1_label_control.png")
    plot_samples(cgats.generate(state, keys.samples, y_eval[:8]), y_eval[:8],
                 workdir / "fig2_samples.png")
    anom = y_te.max(axis=1) > 0
    n = min(config.tsne_points, int(anom.sum()))
    x_gen = cgats.generate(state, keys.samples, y_te[anom][:n])
    plot_tsne(x_te[anom][:n], x_gen, workdir / "fig3_tsne.png", seed=config.seed)


def _write_table(workdir: Path, table: dict[str, dict[str, float]]) -> None:
    cols = ["on_label_share", "label_rate", "lift", "dev_on", "dev_off"]
    csv = tables.csv(["generator", *cols], [
        {"generator": name, **{c: float(row[c]) for c in cols}} for name, row in table.items()])
    md = tables.markdown(["generator", *cols], [
        [name] + [f"{row[c]:.3f}" for c in cols] for name, row in table.items()])
    atomic_write_text(workdir / "faithfulness.csv", csv)
    atomic_write_text(workdir / "faithfulness.md", "\n".join(md) + "\n")


def summarise(per_seed: dict[int, dict]) -> list[dict]:
    """One row per generator from ``{seed: results}`` (``results.json`` of each run):
    every measure's per-seed values (in seed order), mean and sample sd (0 for one seed)."""
    seeds = sorted(per_seed)
    generators = list(per_seed[seeds[0]]["faithfulness"])
    rows = []
    for name in generators:
        row: dict = {"generator": name, "seeds": seeds}
        for m in MEASURES:
            values = np.asarray([per_seed[s]["faithfulness"][name][m] for s in seeds])
            row[m] = values.tolist()
            row[f"{m}_mean"] = float(values.mean())
            row[f"{m}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    seeds = " / ".join(str(s) for s in rows[0]["seeds"])
    head = ["generator", f"on_label_share, seeds {seeds}", "mean ± sd", "lift (mean)",
            "dev_on (mean)", "dev_off (mean)"]
    body = [[r["generator"], " / ".join(f"{v:.3f}" for v in r["on_label_share"]),
             f"{r['on_label_share_mean']:.3f} ± {r['on_label_share_sd']:.3f}",
             f"{r['lift_mean']:.2f}", f"{r['dev_on_mean']:.3f}", f"{r['dev_off_mean']:.3f}"]
            for r in rows]
    return "\n".join(tables.markdown(head, body)) + "\n"


def csv(rows: list[dict]) -> str:
    cols = [f"{m}_{s}" for m in MEASURES for s in ("mean", "sd")]
    lines = ["generator,seeds," + ",".join(cols)]
    for r in rows:
        seeds = " ".join(str(s) for s in r["seeds"])
        lines.append(f'"{r["generator"]}","{seeds}",' + ",".join(f"{r[c]:.6g}" for c in cols))
    return "\n".join(lines) + "\n"


def _seed_results(base: Config, seed_dir: Path) -> dict:
    """The seed's results: read back when ``seed_dir`` already holds a finished run of
    ``base``, else run (resuming from any checkpoints there)."""
    config_file, results_file = seed_dir / "config.json", seed_dir / "results.json"
    if config_file.exists():
        try:
            stored = json.loads(config_file.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(str(config_file), f"cannot be read ({e})") from None
        if stored != json.loads(json.dumps(to_dict(base))):
            raise InputError(str(config_file), "holds a run with a different config; delete "
                             "that directory or choose another --workdir")
        if results_file.exists():
            print(f"seed {base.seed}: reusing {results_file}")
            return json.loads(results_file.read_text())
    return run_one(base, seed_dir)


def run_seeds(config: Config, workdir: str | Path) -> dict:
    """Runs (or reads back) every seed and writes the summary; returns ``seeds.json``."""
    if len(set(config.seeds)) != len(config.seeds):
        raise InputError("--config.seeds", f"needs distinct seeds, got {config.seeds}")
    workdir = prepare_workdir(config, workdir)
    per_seed = {s: _seed_results(dataclasses.replace(config, seed=s, seeds=()),
                                 workdir / f"seed{s}") for s in config.seeds}
    rows = summarise(per_seed)
    summary = {"rows": rows, "seeds": list(config.seeds),
               "sd": "sample standard deviation over seeds (ddof = 1)",
               "runs": {str(s): str(workdir / f"seed{s}") for s in config.seeds}}
    table = markdown(rows)
    write_outputs(workdir, {"seeds.json": summary},
                  {"seeds.csv": csv(rows), "seeds.md": table}, show=table)
    return summary


if __name__ == "__main__":
    main("cgats_sines", get_config, run)
