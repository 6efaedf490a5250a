"""Every detector on real data (AIOps KPI or a NAB subset), TRTR, three protocols.

``python -m experiments.detectors_real [--profile smoke|quick|paper] [--workdir DIR]
[--config.dataset=kpi|realTraffic|realTweets|realAWSCloudwatch|...]
[--config.kpi_path=CSV] [--config.nab_root=DIR] [--config.key=value ...]``

Data: ``dataset=kpi`` reads the AIOps 2018 phase-2 training CSV (``kpi_path``, else
the cache, :func:`jtsgen.data.load_kpi`) and keeps ``kpi_count`` KPIs drawn at random
(seed ``kpi_seed``) among those with labelled steps in both parts of their split
(``kpi_ids`` names them instead); any other ``dataset`` is a NAB subset
(:func:`jtsgen.data.load_nab`, ``nab_root`` or the cache); ``extra_train`` names
further NAB subsets whose series' training parts join the training windows (the
test windows stay the dataset's own). Each series is split in
time ``train_frac : 1 - train_frac``, scaled by a standard scaler fitted on its
training steps and cut into windows of ``length`` steps, one every ``stride``
(0: 240 on KPI as in the paper, 12 on NAB as in ``frameworks_nab``). The split is
fixed; runs differ in their seeds.

TRTR: every detector of :data:`jtsgen.detect.registry.DETECTORS` is fitted on
the training windows (threshold included) and tested on the test windows; the row
"Flag all" predicts every test step anomalous. Columns per detector, mean ± std over
``n_runs``: the headline point-wise precision / recall / F1 with the threshold from
the training data; and three extras that read the test labels or flatter the
detector: ``f1_oracle`` (best point-wise F1 over thresholds on the test scores),
``f1_point_adjusted`` (training threshold, point-adjusted) and ``f1_pa_oracle``
(best point-adjusted F1 over ``pa_thresholds`` quantile thresholds of the test
scores). Writes ``config.json``, ``results.json``, ``table.csv``, ``table.md``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import main, prepare_workdir
from jtsgen.config import check_choices, write_outputs
from jtsgen.data import fit_standard_scaler, load_kpi, load_nab, sliding_windows
from jtsgen.data.labelled import Labelled, concat
from jtsgen.data.nab import NAB_SUBSETS
from jtsgen.detect import registry
from jtsgen.detect.registry import DetectorSettings
from jtsgen.errors import InputError
from jtsgen.evaluate import tables
from jtsgen.evaluate.frameworks import evaluate_framework
from jtsgen.metrics import best_f1_threshold, point_adjusted_prf

DATASETS = ("kpi",) + tuple(NAB_SUBSETS)
DETECTORS = registry.DETECTORS
LABELS = {**registry.LABELS, "flag_all": "Flag all"}
METRICS = ("precision", "recall", "f1", "f1_oracle", "f1_point_adjusted", "f1_pa_oracle")
COLUMNS = ("detector",) + tuple(f"{m}_{s}" for m in METRICS for s in ("mean", "std")) + (
    "fit_seconds",)


@dataclasses.dataclass(frozen=True)
class Config(DetectorSettings):
    profile: str = "quick"
    seed: int = 0
    n_runs: int = 1
    dataset: str = "kpi"
    kpi_path: str = ""  # the phase-2 CSV (.zip works); empty: the cache
    kpi_count: int = 6
    kpi_seed: int = 0
    kpi_ids: tuple[str, ...] = ()
    nab_root: str = ""  # a NAB checkout; empty: the cache, downloading
    length: int = 240
    stride: int = 0  # 0: 240 on KPI, 12 on NAB
    train_frac: float = 0.8
    pa_thresholds: int = 200
    detectors: tuple[str, ...] = DETECTORS
    extra_train: tuple[str, ...] = ()  # NAB subsets adding their training parts


def get_config(profile: str = "quick") -> Config:
    """smoke: windows of 96, tiny detectors (tests); quick: the registry's quick
    detector settings, one run (2-core CPU, minutes); paper: 3 runs, the paper
    profile's training lengths (accelerator)."""
    shared = registry.settings_dict(registry.settings_for(profile))
    if profile == "smoke":
        return Config(profile=profile, kpi_count=2, length=96, pa_thresholds=20, **shared)
    if profile == "paper":
        return Config(profile=profile, n_runs=3, **shared)
    return Config(profile=profile, **shared)


def _split_series(values_t, labels_t, name: str, config: Config, stride: int):
    """``(train, test)`` windows of one series, scaled by its training part, or None
    when a part is shorter than a window."""
    cut = int(round(config.train_frac * len(values_t)))
    if min(cut, len(values_t) - cut) < config.length:
        return None
    x_tc = fit_standard_scaler(values_t[:cut, None]).transform(values_t[:, None])
    parts = []
    for rows in (slice(0, cut), slice(cut, None)):
        w = sliding_windows(x_tc[rows], labels_t[rows], length=config.length, stride=stride,
                            source=name)
        parts.append(w.labelled)
    return parts


def _kpi_series(config: Config):
    series = load_kpi(config.kpi_path or None).train
    if config.kpi_ids:
        check_choices("--config.kpi_ids", config.kpi_ids, tuple(s.name for s in series))
        return [s for s in series if s.name in config.kpi_ids]
    cut = [int(round(config.train_frac * len(s))) for s in series]
    eligible = [s for s, c in zip(series, cut, strict=True)
                if s.labels_t[:c].any() and s.labels_t[c:].any()
                and min(c, len(s) - c) >= config.length]
    if len(eligible) < config.kpi_count:
        raise InputError("--config.kpi_count", f"only {len(eligible)} KPIs have labelled "
                         f"steps in both parts; asked for {config.kpi_count}")
    pick = np.random.default_rng(config.kpi_seed).choice(len(eligible), config.kpi_count,
                                                          replace=False)
    return [eligible[i] for i in sorted(pick)]


def load_split(config: Config) -> tuple[Labelled, Labelled, dict]:
    """Scaled windows of every series' training and test parts: ``(train, test, info)``."""
    if config.dataset == "kpi":
        series, stride = _kpi_series(config), config.stride or 240
    else:
        series, stride = load_nab((config.dataset,), root=config.nab_root or None), \
            config.stride or 12
    train, test, used = [], [], []
    for s in series:
        parts = _split_series(s.values_t, s.labels_t, s.name, config, stride)
        if parts is not None:
            train.append(parts[0])
            test.append(parts[1])
            used.append(s.name)
    extra = []
    for s in (load_nab(config.extra_train, root=config.nab_root or None)
              if config.extra_train else ()):
        parts = _split_series(s.values_t, s.labels_t, s.name, config, stride)
        if parts is not None:
            train.append(parts[0])  # its test part is never read
            extra.append(s.name)
    if not used:
        raise InputError("--config.dataset", f"no series of {config.dataset} has "
                         f"{config.length} steps in both parts")
    train_set, test_set = concat(*train), concat(*test)
    if not train_set.y_bt.any() or not test_set.y_bt.any():
        raise InputError("--config.dataset", f"{config.dataset}: both parts need labelled "
                         "anomalies (try another train_frac)")
    return train_set, test_set, {
        "series": used, "extra_train_series": extra, "stride": stride,
        "n_train": int(train_set.x_btc.shape[0]),
        "n_test": int(test_set.x_btc.shape[0]),
        "train_anomaly_rate": float(train_set.y_bt.mean()),
        "test_anomaly_rate": float(test_set.y_bt.mean())}


def pa_oracle_f1(scores_bt: np.ndarray, y_bt: np.ndarray, n_thresholds: int) -> float:
    """Best point-adjusted F1 over ``n_thresholds`` quantiles of the scores."""
    grid = np.unique(np.quantile(scores_bt, np.linspace(0.0, 1.0, n_thresholds)))
    pa = jax.jit(lambda t: point_adjusted_prf(y_bt, scores_bt >= t)[2])
    return float(max(pa(jnp.float32(t)) for t in grid))


def oracle_scores(fitted, test: Labelled, config: Config) -> dict[str, float]:
    """The extras that read the test labels to choose the threshold."""
    scores = fitted.score(test.x_btc)
    return {"f1_oracle": float(best_f1_threshold(scores, test.y_bt)[1]),
            "f1_pa_oracle": pa_oracle_f1(scores, test.y_bt, config.pa_thresholds)}


def run_once(config: Config, train: Labelled, test: Labelled, run: int) -> dict[str, dict]:
    """One seed: TRTR for every detector, plus the flag-all row."""
    run_key = jax.random.fold_in(jax.random.key(config.seed), run)
    rate = float(test.y_bt.mean())
    f1_all = 2 * rate / (1 + rate)
    out = {"flag_all": {"precision": rate, "recall": 1.0, "f1": f1_all, "f1_oracle": f1_all,
                        "f1_point_adjusted": f1_all, "f1_pa_oracle": f1_all,
                        "fit_seconds": 0.0}}
    for i, name in enumerate(config.detectors):
        start = time.perf_counter()
        fitted = {}

        def fit(key, x, y, name=name, fitted=fitted):
            fitted["d"] = registry.fit_detector(name, key, x, y, config)
            return fitted["d"]

        row = evaluate_framework("TRTR", fit, jax.random.fold_in(run_key, i), train, test, None)
        row.update(oracle_scores(fitted["d"], test, config),
                   threshold=fitted["d"].threshold, fit_seconds=time.perf_counter() - start)
        out[name] = row
        print(f"run {run} {LABELS[name]:>15}: P {row['precision']:.3f} R {row['recall']:.3f} "
              f"F1 {row['f1']:.3f} | oracle {row['f1_oracle']:.3f} "
              f"PA {row['f1_point_adjusted']:.3f} PA-oracle {row['f1_pa_oracle']:.3f} "
              f"[{row['fit_seconds']:.1f}s]", flush=True)
    return out


def summarise(runs: list[dict], names: tuple[str, ...]) -> list[dict]:
    rows = []
    for name in names:
        row = {"detector": LABELS[name], "key": name}
        for m in METRICS:
            values = np.asarray([r[name][m] for r in runs])
            row[f"{m}_mean"], row[f"{m}_std"] = float(values.mean()), float(values.std())
        row["fit_seconds"] = float(np.mean([r[name]["fit_seconds"] for r in runs]))
        rows.append(row)
    return rows


def markdown(rows: list[dict], n_runs: int, note: str) -> str:
    head = ["Detector", "Precision", "Recall", "F1", "extra: test-oracle F1",
            "extra: point-adjusted F1", "extra: PA test-oracle F1", "fit s"]
    body = [[r["detector"]] + [tables.cell(r[m + "_mean"], r[m + "_std"], n_runs)
                               for m in METRICS] + [f"{r['fit_seconds']:.1f}"] for r in rows]
    return "\n".join(tables.markdown(head, body)) + f"\n\n{note}\n"


def csv(rows: list[dict]) -> str:
    return tables.csv(COLUMNS, rows)


def _check(config: Config) -> None:
    check_choices("--config.dataset", (config.dataset,), DATASETS)
    check_choices("--config.detectors", config.detectors, DETECTORS)
    if config.extra_train:
        check_choices("--config.extra_train", config.extra_train, NAB_SUBSETS)
    if config.dataset in config.extra_train or (config.extra_train and config.dataset == "kpi"):
        raise InputError("--config.extra_train", "names NAB subsets other than "
                         f"--config.dataset ({config.dataset!r}), and only for a NAB dataset")
    if config.n_runs < 1 or config.stride < 0 or config.kpi_count < 1:
        raise InputError("--config", "need n_runs >= 1, stride >= 0 and kpi_count >= 1")


def run(config: Config, workdir: str | Path) -> dict:
    """Loads and splits the data, runs every seed and writes the table."""
    _check(config)
    train, test, info = load_split(config)
    workdir = prepare_workdir(config, workdir)
    runs = [run_once(config, train, test, r) for r in range(config.n_runs)]
    rows = summarise(runs, ("flag_all",) + tuple(config.detectors))
    extra = (f"; training windows also from the training parts of "
             f"{', '.join(config.extra_train)} ({len(info['extra_train_series'])} series)"
             if config.extra_train else "")
    note = (f"{config.dataset}: {len(info['series'])} series split {config.train_frac:g}:"
            f"{1 - config.train_frac:g} in time{extra}, windows of {config.length} every "
            f"{info['stride']} steps ({info['n_train']} train / {info['n_test']} test; "
            f"anomalous steps {info['train_anomaly_rate']:.1%} / "
            f"{info['test_anomaly_rate']:.1%}); TRTR, {config.n_runs} run(s). Precision, "
            "recall, F1: point-wise, threshold from the training windows (headline). "
            "Extras: test-oracle F1 (best threshold on the test scores), point-adjusted F1 "
            "(training threshold), PA test-oracle F1 (best point-adjusted F1 on test).")
    results = {"rows": rows, "runs": runs, "n_runs": config.n_runs, "data": info,
               "metric": "point-wise P/R/F1 on the test windows, training thresholds",
               "extra_columns": list(METRICS[3:])}
    table = markdown(rows, config.n_runs, note)
    write_outputs(workdir, {"results.json": results},
                  {"table.csv": csv(rows), "table.md": table}, show=table)
    return results


if __name__ == "__main__":
    main("detectors_real", get_config, run)
