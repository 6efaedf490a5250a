"""C-GATS on the AIOps KPI data in the four frameworks (C-GATS Table 2, the KPI rows of
Tables 3 and 9).

``python -m experiments.cgats_kpi [--profile smoke|quick|paper] [--workdir DIR]
[--config.data_path=PATH] [--config.kpis=ID,ID] [--config.key=value ...]``

Data: the phase-2 training file of the 2018 AIOps KPI challenge (29 KPIs, 3M rows;
columns ``timestamp``, ``value``, ``label``, ``KPI ID``): ``data_path`` (the CSV or the
official .zip), else the cache ``$JTSGEN_DATA/kpi/phase2_train.csv``, downloaded from
:data:`KPI_URL` when missing (offline: one line saying where to put the file).

Protocol (every number is a config field):

* Each KPI's regular step is its median timestamp difference; its rows are placed on
  that grid (``t0 + k * step``), so a gap is a run of missing grid steps.
* Each KPI is split in time: its first ``train_frac`` (0.8) of grid steps are training
  data, the rest test data; no window spans both. A standard scaler fitted on the
  KPI's observed training steps scales the whole KPI (KPIs differ in units).
* Gaps, ``gaps="interpolate"`` (default): the missing steps of each part are filled by
  linear interpolation between that part's observed neighbours (the nearest value at
  a part's edge) and labelled 0; results give each KPI's filled share.
  ``gaps="drop"``: windows are cut from runs of observed steps only, so no window
  spans a gap (a run shorter than a window gives none).
* Each part is cut into windows of ``model.seq_len`` (240) steps, one every
  ``stride`` steps; a step is anomalous iff its label is 1.
* KPIs: the IDs in ``kpis`` (or unique prefixes), else ``max_kpis`` drawn with
  ``seed`` among the KPIs with labelled steps in both their training and test parts
  and a window in each (results.json names the eligible and the chosen KPIs).

Then :mod:`jtsgen.evaluate.framework_runner` trains the generators on the training
windows, builds the synthetic sets and fits and tests every detector in every
framework and source (thresholds from each framework's training data), and the
``baseline_detectors`` (one-liners, Cases 1-3) in TRTR and T(R+S)TR with C-GATS.
Writes config.json, results.json, frameworks.md (Table 2's layout),
augmentations.md (Table 3's KPI row), baselines.md (Table 9's KPI row) and cells.csv;
generator checkpoints under ``workdir/checkpoints`` make a rerun resume.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import NamedTuple

import numpy as np

from experiments.common import main, run_fixed_split
from jtsgen.data import fit_standard_scaler, load_kpi, sliding_windows
from jtsgen.data.cache import dataset_dir
from jtsgen.data.kpi import KPI_FILE
from jtsgen.data.labelled import Labelled, concat
from jtsgen.data.series import LabelledSeries
from jtsgen.errors import InputError
from jtsgen.evaluate.framework_runner import (
    FrameworksConfig,
    check_config,
    profile_settings,
)

KPI_URL = ("https://github.com/NetManAIOps/KPI-Anomaly-Detection/raw/master/"
           "Finals_dataset/phase2_train.csv.zip")
GAPS = ("interpolate", "drop")
GAP_NOTES = {"interpolate": "gaps filled by linear interpolation (labelled 0)",
             "drop": "no window across a gap"}
TABLE9 = ("one_liner_a", "one_liner_b", "case1", "case2", "case3")
SMOKE_KPIS = ("e0747cad-8dc8-38a9-a9ab-855b61f5551d",  # 5-min steps, no gap
              "a8c06b47-cc41-3738-9110-12df0ee4c721")  # 5-min steps, 11 gaps


@dataclasses.dataclass(frozen=True)
class Config(FrameworksConfig):
    data_path: str = ""  # the CSV or the official .zip; empty: the cache, downloading
    kpis: tuple[str, ...] = ()  # KPI IDs (or unique prefixes); empty: max_kpis drawn
    max_kpis: int = 4
    stride: int = 480
    train_frac: float = 0.8
    gaps: str = "interpolate"
    baseline_detectors: tuple[str, ...] = TABLE9


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests; two 5-min KPIs, windows of 48 every 96 steps); quick: 4
    KPIs, windows every 480 steps, under ~20 minutes on a 2-core CPU; paper: every
    eligible KPI, windows every 96 steps (about the paper's 30,000), 5 runs."""
    if profile == "smoke":
        settings = profile_settings("smoke")
        return Config(profile=profile, kpis=SMOKE_KPIS, stride=2 * settings["model"].seq_len,
                      **settings)
    if profile == "paper":
        return Config(profile=profile, max_kpis=29, stride=96, **profile_settings("paper"))
    return Config(profile=profile)


class Grid(NamedTuple):
    """A KPI on its regular grid: ``values_t`` float32 (NaN where missing), ``labels_t``
    float32 (0 where missing), ``observed_t`` bool, ``step_s`` the step in seconds."""

    values_t: np.ndarray
    labels_t: np.ndarray
    observed_t: np.ndarray
    step_s: int


def regular_grid(series: LabelledSeries) -> Grid:
    """Places a KPI's rows on the grid of its median step (a row off the grid goes to
    the nearest grid step; of two on one step the first is kept)."""
    t_s = np.asarray(series.timestamps.values.astype("datetime64[s]"), np.int64)
    step = int(np.median(np.diff(t_s))) if len(t_s) > 1 else 1
    k, first = np.unique(np.rint((t_s - t_s[0]) / step).astype(np.int64), return_index=True)
    values = np.full(k[-1] + 1, np.nan, np.float32)
    labels = np.zeros(k[-1] + 1, np.float32)
    values[k], labels[k] = series.values_t[first], series.labels_t[first]
    return Grid(values, labels, ~np.isnan(values), step)


def _runs(mask_t: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of every run of True in ``mask_t``."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask_t.astype(np.int8), 0]))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def part_windows(values_t: np.ndarray, labels_t: np.ndarray, observed_t: np.ndarray,
                 config: Config, name: str) -> Labelled | None:
    """Windows of one part (training or test) of a KPI, its gaps handled as
    ``config.gaps`` says; None when the part holds no window."""
    length = config.model.seq_len
    if not observed_t.any():
        return None
    if config.gaps == "interpolate":
        t = np.arange(len(values_t))
        filled = np.interp(t, t[observed_t], values_t[observed_t]).astype(np.float32)
        pieces = [(filled, np.where(observed_t, labels_t, 0).astype(np.float32))]
    else:
        pieces = [(values_t[a:b], labels_t[a:b]) for a, b in _runs(observed_t)]
    parts = [sliding_windows(v, y, length=length, stride=config.stride, source=name)
             for v, y in pieces if len(v) >= length]
    if not parts:
        return None
    return concat(*(w.labelled for w in parts))


@functools.lru_cache(maxsize=2)
def _read(path: str, mtime: float) -> tuple[LabelledSeries, ...]:
    return tuple(load_kpi(path).train)


def load_series(config: Config) -> list[LabelledSeries]:
    """Every KPI of ``data_path`` (or the cache); the parsed file is kept per path and
    modification time, so a second run in one process does not read it again."""
    if not config.data_path:
        dest = dataset_dir("kpi") / KPI_FILE
        try:
            return load_kpi(url=KPI_URL).train
        except InputError as err:
            if dest.is_file() or err.source != str(dest):
                raise
            raise InputError(str(dest), f"KPI data not in the cache and its download failed; "
                             f"put phase2_train.csv (unzipped from {KPI_URL}) there, or pass "
                             "--config.data_path=<the CSV or .zip>") from None
    path = Path(config.data_path).expanduser()
    if not path.is_file():
        raise InputError(str(path), "file not found (--config.data_path: the KPI phase-2 CSV "
                                    "or phase2_train.csv.zip)")
    return list(_read(str(path.resolve()), path.stat().st_mtime))


def kpi_split(series: LabelledSeries, config: Config) -> dict:
    """One KPI's scaled training and test windows (``train``/``test``, None when a part has
    no window) and its numbers for results.json."""
    grid = regular_grid(series)
    cut = int(round(config.train_frac * len(grid.values_t)))
    train_obs = grid.observed_t[:cut]
    scaler = fit_standard_scaler(grid.values_t[:cut][train_obs][:, None]) if train_obs.any() \
        else None
    x_t = grid.values_t if scaler is None else scaler.transform(grid.values_t[:, None])[:, 0]
    out = {"kpi": series.name, "step_s": grid.step_s, "grid_steps": len(grid.values_t),
           "missing_share": float(1 - grid.observed_t.mean())}
    for part, rows in (("train", slice(0, cut)), ("test", slice(cut, None))):
        w = part_windows(x_t[rows], grid.labels_t[rows], grid.observed_t[rows], config,
                         f"KPI {series.name} ({part})")
        out[part] = w
        out[f"{part}_labelled_steps"] = int(grid.labels_t[rows].sum())
        out[f"{part}_windows"] = 0 if w is None else len(w.x_btc)
    if config.gaps == "interpolate":
        out["filled_share"] = out["missing_share"]
    return out


def _pick(series: list[LabelledSeries], config: Config) -> list[dict]:
    """The KPIs of ``kpis`` (each must hold a window in both parts), else ``max_kpis``
    eligible ones drawn with ``seed``; eligible: labelled steps and a window in both."""
    names = [s.name for s in series]
    if config.kpis:
        chosen = []
        for want in config.kpis:
            hits = [n for n in names if n == want] or [n for n in names if n.startswith(want)]
            if len(hits) != 1:
                raise InputError("--config.kpis", f"{want!r} matches {len(hits)} KPI IDs of "
                                 f"the file; choose from {names}")
            chosen.append(kpi_split(series[names.index(hits[0])], config))
        for c in chosen:
            if c["train"] is None or c["test"] is None:
                raise InputError("--config.kpis", f"KPI {c['kpi']} ({c['grid_steps']} steps) "
                                 f"has no window of {config.model.seq_len} steps in its "
                                 f"{'training' if c['train'] is None else 'test'} part")
        return chosen
    splits = [kpi_split(s, config) for s in series]
    eligible = [c for c in splits if c["train"] is not None and c["test"] is not None
                and c["train_labelled_steps"] and c["test_labelled_steps"]]
    if not eligible:
        raise InputError("--config.max_kpis", "no KPI has labelled steps and a window of "
                         f"{config.model.seq_len} steps in both its training and test parts")
    rows = np.random.default_rng(config.seed).choice(
        len(eligible), size=min(config.max_kpis, len(eligible)), replace=False)
    return [eligible[i] | {"eligible": [c["kpi"] for c in eligible]} for i in sorted(rows)]


def load_split(config: Config) -> tuple[Labelled, Labelled, dict]:
    """Scaled windows of the chosen KPIs' training and test parts: ``(train, test, info)``,
    ``info`` giving every chosen KPI's numbers (step, missing share, windows, labels)."""
    chosen = _pick(load_series(config), config)
    train_set = concat(*(c["train"] for c in chosen))
    test_set = concat(*(c["test"] for c in chosen))
    anomalous = train_set.y_bt.max(axis=1) > 0
    if anomalous.all() or not anomalous.any():
        raise InputError("--config.kpis", "the training windows need both normal and "
                         f"anomalous windows; got {int(anomalous.sum())} anomalous of "
                         f"{len(anomalous)} (try other KPIs or another stride)")
    if not test_set.y_bt.any():
        raise InputError("--config.kpis", "no labelled anomaly in the test windows of "
                         f"{[c['kpi'] for c in chosen]}: every test metric would be 0")
    info = {"kpis": [{k: v for k, v in c.items() if k not in ("train", "test", "eligible")}
                     for c in chosen],
            "selection": ("explicit --config.kpis" if config.kpis else
                          f"{config.max_kpis} drawn with seed {config.seed} among the eligible"),
            "eligible": chosen[0].get("eligible", [])}
    return train_set, test_set, info


def _check(config: Config) -> None:
    check_config(config)
    if config.gaps not in GAPS:
        raise InputError("--config.gaps", f"must be one of {GAPS}, got {config.gaps!r}")
    if config.stride < 1:
        raise InputError("--config.stride", f"must be >= 1, got {config.stride}")
    if config.max_kpis < 1:
        raise InputError("--config.max_kpis", f"must be >= 1, got {config.max_kpis}")
    if not 0 < config.train_frac < 1:
        raise InputError("--config.train_frac", f"must be in (0, 1), got {config.train_frac}")


def run(config: Config, workdir: str | Path) -> dict:
    """Loads and splits the KPIs, runs every seed and writes the three tables."""
    _check(config)

    def note(info, train, test):
        return (f"AIOps KPI phase 2: {len(info['kpis'])} KPIs ({info['selection']}) split "
                f"{config.train_frac:g}:{1 - config.train_frac:g} in time on their regular "
                f"grids, {GAP_NOTES[config.gaps]}, windows of {config.model.seq_len} every "
                f"{config.stride} steps: {len(train.x_btc)} training, {len(test.x_btc)} test")

    return run_fixed_split(config, workdir, load_split, note, dataset="KPI", info_key="kpi")


if __name__ == "__main__":
    main("cgats_kpi", get_config, run)
