"""Detectors in the four evaluation frameworks on NAB subsets (C-GATS Table 3's NAB rows).

``python -m experiments.frameworks_nab [--profile smoke|quick|paper] [--workdir DIR]
[--config.nab_root=PATH] [--config.subsets=realTraffic] [--config.key=value ...]``

Data: the NAB files of ``subsets`` (:func:`jtsgen.data.load_nab`: a local checkout
at ``nab_root``, else the cache ``$JTSGEN_DATA/nab``, downloading what is missing).
Each series is split in time: its first ``train_frac`` of steps is training data,
the rest test data, so no window spans both. A standard scaler fitted on the
series' training steps scales the whole series (series differ in units), and
each part is cut into windows of ``model.seq_len`` (240) steps, one every
``stride`` steps (the default 12 gives about the paper's 1,200 windows for
realTraffic). A step is anomalous iff it lies in one of NAB's labelled windows.
``extra_train`` names further NAB subsets whose series' training parts join the
training windows (generators, label model, detectors and thresholds see them; the
test windows stay those of ``subsets``). The split is fixed; with ``n_runs > 1``
runs differ in their seeds (generators' and detectors' initialisation and noise,
augmentation draws).

Then :mod:`jtsgen.evaluate.framework_runner` trains the generators on the training
windows, builds the synthetic sets and fits and tests every detector in every
framework and source. Writes the same files as
:mod:`experiments.frameworks_sines`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from experiments.common import main, run_fixed_split
from jtsgen.config import check_choices
from jtsgen.data import fit_standard_scaler, load_nab, sliding_windows
from jtsgen.data.labelled import Labelled, concat
from jtsgen.data.nab import NAB_SUBSETS
from jtsgen.errors import InputError
from jtsgen.evaluate.framework_runner import (
    FrameworksConfig,
    check_config,
    profile_settings,
)


@dataclasses.dataclass(frozen=True)
class Config(FrameworksConfig):
    subsets: tuple[str, ...] = ("realTraffic",)
    nab_root: str = ""  # a NAB checkout (data/, labels/); empty: the cache, downloading
    stride: int = 12
    train_frac: float = 0.8
    extra_train: tuple[str, ...] = ()  # NAB subsets adding their training parts


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests; windows of 48, one every 48 steps); quick: realTraffic,
    minutes on a 2-core CPU; paper: 5 runs with the longer training."""
    if profile == "smoke":
        settings = profile_settings("smoke")
        return Config(profile=profile, stride=settings["model"].seq_len, **settings)
    if profile == "paper":
        return Config(profile=profile, **profile_settings("paper"))
    return Config(profile=profile)


def _windows(values_t: np.ndarray, labels_t: np.ndarray, config: Config, name: str):
    return sliding_windows(values_t, labels_t, length=config.model.seq_len,
                           stride=config.stride, source=name)


def load_split(config: Config) -> tuple[Labelled, Labelled, dict]:
    """Scaled windows of every series' training and test steps: ``(train, test, info)``,
    ``info`` naming the series used and those too short for a window in both parts."""
    series = load_nab(config.subsets, root=config.nab_root or None)
    extra = (load_nab(config.extra_train, root=config.nab_root or None)
             if config.extra_train else [])
    length = config.model.seq_len
    train, test, used, skipped, extra_used = [], [], [], [], []
    for i, s in enumerate(series + extra):
        cut = int(round(config.train_frac * len(s)))
        if min(cut, len(s) - cut) < length:
            skipped.append(s.name)
            continue
        scaler = fit_standard_scaler(s.values_t[:cut, None])
        x_tc = scaler.transform(s.values_t[:, None])
        train.append(_windows(x_tc[:cut], s.labels_t[:cut], config, s.name).labelled)
        if i >= len(series):  # an extra_train series: its test part is never read
            extra_used.append(s.name)
            continue
        test.append(_windows(x_tc[cut:], s.labels_t[cut:], config, s.name).labelled)
        used.append(s.name)
    if not used:
        raise InputError("--config.subsets", f"no series of {list(config.subsets)} has "
                         f"{length} steps in both its training and test parts")
    train_set, test_set = concat(*train), concat(*test)
    anomalous = train_set.y_bt.max(axis=1) > 0
    if anomalous.all() or not anomalous.any():
        raise InputError("--config.subsets", "the training windows need both normal and "
                         f"anomalous windows; got {int(anomalous.sum())} anomalous of "
                         f"{len(anomalous)} (try another stride or subset)")
    if not test_set.y_bt.any():
        raise InputError("--config.subsets", f"no labelled anomaly in the last "
                         f"{1 - config.train_frac:g} of any series of {list(config.subsets)}: "
                         "every test metric would be 0 (NAB's artificialWithAnomaly has its "
                         "anomalies earlier; try another subset or --config.train_frac)")
    return train_set, test_set, {"series": used, "skipped_short": skipped,
                                 "extra_train_series": extra_used}


def _check(config: Config) -> None:
    check_config(config)
    check_choices("--config.subsets", config.subsets, NAB_SUBSETS)
    if config.extra_train:
        check_choices("--config.extra_train", config.extra_train, NAB_SUBSETS)
    if set(config.extra_train) & set(config.subsets):
        raise InputError("--config.extra_train", "names NAB subsets other than "
                         f"--config.subsets {list(config.subsets)}")
    if config.stride < 1:
        raise InputError("--config.stride", f"must be >= 1, got {config.stride}")


def run(config: Config, workdir: str | Path) -> dict:
    """Loads and splits the NAB series, runs every seed and writes both tables."""
    _check(config)

    def note(info, train, test):
        return (f"NAB {', '.join(config.subsets)}: {len(info['series'])} series split "
                f"{config.train_frac:g}:{1 - config.train_frac:g} in time, windows of "
                f"{config.model.seq_len} every {config.stride} steps; too short: "
                f"{info['skipped_short'] or 'none'}"
                + (f"; training windows also from the training parts of "
                   f"{', '.join(config.extra_train)} ({len(info['extra_train_series'])} "
                   "series)" if config.extra_train else ""))

    return run_fixed_split(config, workdir, load_split, note)


if __name__ == "__main__":
    main("frameworks_nab", get_config, run)
