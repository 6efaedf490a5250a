"""A user's labelled metrics, read from CSV/Parquet files and cut into scaled windows.

``DATA`` is one file or a folder of them (``*.csv``, ``*.parquet``, read in name
order). Each file holds one value column, a 0/1 label column and optionally a time
column and a series column (long format: one row per series and time step). A series
is one file, or one value of the series column within a file.

Each series is split in time: its first ``train_frac`` of steps are training data,
the rest test data. A standard scaler fitted on its training steps scales the whole
series (series may differ in units), and each part is cut into windows of
``length`` steps, one every ``stride`` steps. Checks name the file (and series) and
the problem in one line: a missing column, labels other than 0/1, non-numeric or
missing values, unsorted or repeated timestamps within a series, a series whose
training or test part is shorter than one window.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from jtsgen.data.labelled import Labelled, concat
from jtsgen.data.scalers import fit_standard_scaler
from jtsgen.data.series import LabelledSeries
from jtsgen.data.validate import (
    read_csv,
    require_columns,
    require_datetimes,
    require_finite,
    require_labels,
    require_nonempty,
    require_numeric,
    require_sorted_timestamps,
)
from jtsgen.data.windows import sliding_windows
from jtsgen.errors import InputError

SUFFIXES = (".csv", ".parquet")


@dataclasses.dataclass(frozen=True)
class Columns:
    """Which columns hold what; empty ``time``/``series`` = none, empty ``value`` = the
    one numeric column that is none of the others."""

    label: str = "label"
    time: str = ""
    series: str = ""
    value: str = ""


@dataclasses.dataclass(frozen=True)
class SeriesSplit:
    """Scaled windows of every series: ``train``/``test`` (``x_btc [N, T, 1]``, ``y_bt
    [N, T]``), ``train_series_b [N]`` the series index of each training window, and per
    series its name and scaler (``mean``, ``scale``: value = scaled · scale + mean)."""

    train: Labelled
    test: Labelled
    train_series_b: np.ndarray
    names: tuple[str, ...]
    mean: np.ndarray  # [S]
    scale: np.ndarray  # [S]


def data_files(path: str | Path) -> list[Path]:
    """The files ``path`` names: itself, or the CSV/Parquet files of a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
        if not files:
            raise InputError(str(path), f"folder has no {' or '.join(SUFFIXES)} files")
        return files
    if not path.exists():
        raise InputError(str(path), "file or folder not found")
    if path.suffix.lower() not in SUFFIXES:
        raise InputError(str(path), f"expected a {' or '.join(SUFFIXES)} file or a folder "
                                    f"of them, got {path.suffix or 'no suffix'}")
    return [path]


def fingerprint(path: str | Path) -> dict[str, str]:
    """``{file: sha256 of its bytes}`` of the data files, to tell later whether the data
    a work directory was made from has changed."""
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in data_files(path)}


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        return read_csv(path)
    try:
        frame = pd.read_parquet(path)
    except ImportError:
        raise InputError(str(path), "reading Parquet needs pyarrow (pip install pyarrow), "
                                    "or convert the file to CSV") from None
    except (OSError, ValueError) as err:
        raise InputError(str(path), f"cannot be read as Parquet ({err})") from None
    require_nonempty(frame, str(path))
    return frame


def _value_column(frame: pd.DataFrame, cols: Columns, source: str) -> str:
    if cols.value:
        require_columns(frame, (cols.value,), source)
        return cols.value
    taken = {cols.label, cols.time, cols.series}
    numeric = [c for c in frame.columns if c not in taken
               and pd.api.types.is_numeric_dtype(frame[c])]
    if len(numeric) != 1:
        others = [c for c in frame.columns if c not in taken]
        raise InputError(source, f"cannot tell the value column among {others}; name it "
                                 "with --value-col")
    return numeric[0]


def value_column(path: str | Path, cols: Columns) -> str:
    """The value column's name (``cols.value``, or the one found in the first file)."""
    first = data_files(path)[0]
    return cols.value or _value_column(_read_table(first), cols, str(first))


def _series_of(frame: pd.DataFrame, source: str, name: str, cols: Columns,
               value_col: str) -> LabelledSeries:
    values = require_numeric(frame, value_col, source)
    require_finite(values, source, what=f"column '{value_col}'")
    labels = require_numeric(frame, cols.label, source)
    require_finite(labels, source, what=f"column '{cols.label}'")
    labels = require_labels(values, labels, source)
    if cols.time:
        timestamps = require_datetimes(frame, cols.time, source)
        require_sorted_timestamps(timestamps, source)
    else:
        timestamps = pd.DatetimeIndex(pd.RangeIndex(len(frame)).to_numpy()
                                      .astype("datetime64[s]"))
    return LabelledSeries(name, timestamps, values.astype(np.float32), labels)


def read_series(path: str | Path, cols: Columns) -> list[LabelledSeries]:
    """Every series of the data at ``path`` (one file or a folder), checked."""
    out = []
    for f in data_files(path):
        frame = _read_table(f)
        required = [cols.label] + [c for c in (cols.time, cols.series) if c]
        require_columns(frame, required, str(f))
        value_col = _value_column(frame, cols, str(f))
        if not cols.series:
            out.append(_series_of(frame.reset_index(drop=True), str(f), f.name, cols,
                                  value_col))
            continue
        if frame[cols.series].isna().any():
            row = int(np.flatnonzero(frame[cols.series].isna().to_numpy())[0])
            raise InputError(str(f), f"column '{cols.series}' is missing at row {row}")
        for sid, rows in frame.groupby(frame[cols.series].astype(str), sort=True).indices.items():
            out.append(_series_of(frame.iloc[rows].reset_index(drop=True),
                                  f"{f} [{cols.series} {sid}]", f"{f.name}:{sid}", cols,
                                  value_col))
    return out


def split_windows(series: list[LabelledSeries], *, length: int, stride: int,
                  train_frac: float) -> SeriesSplit:
    """Each series split ``train_frac`` : rest in time, scaled by its training part and
    windowed; InputError naming a series whose part is shorter than one window."""
    train, test, owner, means, scales = [], [], [], [], []
    for i, s in enumerate(series):
        cut = int(round(train_frac * len(s)))
        if min(cut, len(s) - cut) < length:
            raise InputError(s.name, f"{len(s)} steps: its training part ({cut}) or test part "
                                     f"({len(s) - cut}) is shorter than one window of {length}"
                                     " (--config.model.seq_len)")
        scaler = fit_standard_scaler(s.values_t[:cut, None])
        x_tc = scaler.transform(s.values_t[:, None])
        for part, rows in ((train, slice(0, cut)), (test, slice(cut, None))):
            w = sliding_windows(x_tc[rows], s.labels_t[rows], length=length, stride=stride,
                                source=s.name)
            part.append(w.labelled)
        owner.append(np.full(len(train[-1].x_btc), i))
        means.append(float(scaler.loc_c[0]))
        scales.append(float(scaler.scale_c[0]))
    return SeriesSplit(concat(*train), concat(*test), np.concatenate(owner),
                 tuple(s.name for s in series), np.asarray(means), np.asarray(scales))
