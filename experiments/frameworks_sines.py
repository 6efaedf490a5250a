"""Detectors in the four evaluation frameworks on Synthetic Sines (C-GATS Tables 1 and 3).

``python -m experiments.frameworks_sines [--profile smoke|quick|paper] [--workdir DIR]
[--config.key=value ...]``

Each run splits Synthetic Sines (``T = 240``, point and level-shift anomalies,
``η ~ U[freq_range]``) 80:20 by series, seeded by ``seed + run``, and fits a
standard scaler on the training series; then :mod:`jtsgen.evaluate.framework_runner`
trains the generators, builds the synthetic sets and fits and tests every detector
in every framework and source.

Writes ``config.json``, ``results.json`` (every number, per run), ``frameworks.md``
(Table 1's layout), ``augmentations.md`` (Table 3's), ``cells.csv`` (every
(detector, framework, source) cell of both) and the generators' checkpoints under
``checkpoints/run{R}/`` (re-running resumes them).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from experiments.common import main, prepare_workdir
from jtsgen.data import make_sines, scaled_split
from jtsgen.data.labelled import Labelled
from jtsgen.evaluate.framework_runner import (
    FrameworksConfig,
    check_config,
    profile_settings,
    run_all,
    write_tables,
)


@dataclasses.dataclass(frozen=True)
class Config(FrameworksConfig):
    n_series: int = 2000
    freq_range: tuple[float, ...] = (0.0, 0.05)
    anomaly_prob: float = 0.5
    kinds: tuple[str, ...] = ("point", "level_shift")
    train_frac: float = 0.8


def get_config(profile: str = "quick") -> Config:
    """smoke: seconds (tests); quick: 2,000 series, minutes on a 2-core CPU; paper: 5
    runs on 10,000 series with the generators' and detectors' longer training."""
    if profile == "smoke":
        return Config(profile=profile, n_series=60, **profile_settings("smoke"))
    if profile == "paper":
        return Config(profile=profile, n_series=10_000, **profile_settings("paper"))
    return Config(profile=profile)


def make_data(config: Config):
    """The Synthetic Sines series of the experiment (every run splits these)."""
    return make_sines(config.n_series, config.seed, length=config.model.seq_len,
                      anomaly_prob=config.anomaly_prob, kinds=config.kinds,
                      freq_range=tuple(config.freq_range))


def split(config: Config, data, run: int) -> tuple[Labelled, Labelled]:
    """Run ``run``'s scaled 80:20 split by series: ``(train, test)``."""
    s = scaled_split(data.x_btc, data.y_bt, train_frac=config.train_frac,
                     seed=config.seed + run)
    return s.train, s.test


def run(config: Config, workdir: str | Path) -> dict:
    """Runs every split and writes both tables; returns ``results.json``'s content."""
    check_config(config)
    workdir = prepare_workdir(config, workdir)
    data = make_data(config)
    runs = run_all(config, workdir, lambda r: split(config, data, r))
    return write_tables(config, workdir, runs, f"Synthetic Sines, {config.n_series} series, "
                                               f"{config.train_frac:g} of them for training")


if __name__ == "__main__":
    main("frameworks_sines", get_config, run)
