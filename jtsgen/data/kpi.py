"""AIOps challenge KPI (phase-2) loader.

Source: the 2018 AIOps challenge KPI anomaly detection data (NetManAIOps,
``KPI-Anomaly-Detection``; the phase-2 training CSV is ``phase2_train.csv``, the
ground truth of the test part ``phase2_ground_truth.hdf``). Both hold the columns
``timestamp`` (unix seconds), ``value``, ``label`` (0/1) and ``KPI ID``, with
one-minute steps; rows of several KPIs are stacked.

The CSV comes from ``path``, or from the cache ``$JTSGEN_DATA/kpi/phase2_train.csv``
(default ``~/.cache/jtsgen/kpi/``), which is filled from ``url`` when given (a
``.zip`` holding the one CSV is unpacked). There is no default URL: without a
local file and without ``url``, an InputError names the exact path to put it at.
The HDF is read only when ``ground_truth_hdf`` is passed; that needs the optional
package ``tables`` (PyTables), which jtsgen does not depend on.

Each KPI becomes a :class:`~jtsgen.data.series.LabelledSeries` named by its KPI ID:
float32 ``values_t`` ``[time]``, float32 ``labels_t`` ``[time]`` in {0, 1}, naive
UTC timestamps. Windows of 240 (:data:`jtsgen.data.windows.KPI_WINDOW`) follow the
paper.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from jtsgen.data.cache import dataset_dir, fetch, unzip_single
from jtsgen.data.series import LabelledSeries
from jtsgen.data.validate import (
    read_csv,
    require_columns,
    require_datetimes,
    require_finite,
    require_labels,
    require_numeric,
    require_sorted_timestamps,
)
from jtsgen.errors import InputError

KPI_COLUMNS = ("timestamp", "value", "label", "KPI ID")
KPI_FILE = "phase2_train.csv"


class KpiData(NamedTuple):
    """``train`` from the CSV; ``test`` from the ground-truth HDF (empty if not given)."""

    train: list[LabelledSeries]
    test: list[LabelledSeries]


def kpi_series(
    frame: pd.DataFrame, source: str, *, duplicates: str = "raise"
) -> list[LabelledSeries]:
    """Splits a KPI frame (columns :data:`KPI_COLUMNS`) into per-KPI series, sorted by ID."""
    if len(frame) == 0:
        raise InputError(source, "file is empty (no data rows)")
    require_columns(frame, KPI_COLUMNS, source)
    if frame["KPI ID"].isna().any():
        row = int(np.flatnonzero(frame["KPI ID"].isna().to_numpy())[0])
        raise InputError(source, f"column 'KPI ID' is missing at row {row}")
    timestamps = require_datetimes(frame, "timestamp", source, unit="s")
    values = require_numeric(frame, "value", source)
    require_finite(values, source, what="column 'value'")
    labels = require_numeric(frame, "label", source)
    require_finite(labels, source, what="column 'label'")
    labels = require_labels(values, labels, source)
    out = []
    groups = frame.groupby(frame["KPI ID"].astype(str), sort=True).indices
    for kpi_id, rows in groups.items():
        name = f"{source} [KPI {kpi_id}]"
        ts = timestamps[rows]
        keep = require_sorted_timestamps(ts, name, duplicates=duplicates)
        out.append(LabelledSeries(
            name=str(kpi_id),
            timestamps=ts[keep],
            values_t=values[rows][keep].astype(np.float32),
            labels_t=labels[rows][keep],
        ))
    return out


def read_kpi_csv(path: str | Path, *, duplicates: str = "raise") -> list[LabelledSeries]:
    """Reads a phase-2 style CSV into per-KPI series."""
    return kpi_series(read_csv(path), str(path), duplicates=duplicates)


def read_kpi_hdf(
    path: str | Path, *, key: str | None = None, duplicates: str = "raise"
) -> list[LabelledSeries]:
    """Reads a phase-2 ground-truth HDF (needs the optional package ``tables``)."""
    source = str(path)
    if not Path(path).is_file():
        raise InputError(source, "file not found")
    try:
        import tables  # noqa: F401
    except ImportError:
        raise InputError(
            source, "reading HDF files needs the optional package 'tables' (pip install tables),"
            " or convert the file to CSV and pass it as path="
        ) from None
    try:
        frame = pd.read_hdf(path, key=key)
    except (ValueError, KeyError, OSError, TypeError) as err:
        raise InputError(source, f"cannot be read as HDF ({err})") from None
    return kpi_series(pd.DataFrame(frame), source, duplicates=duplicates)


def _cached_csv(url: str | None, cache_dir: str | Path | None, filename: str) -> Path:
    dest = dataset_dir("kpi", cache_dir) / filename
    if dest.is_file():
        return dest
    hint = (
        f"Put the AIOps KPI phase-2 CSV (columns {','.join(KPI_COLUMNS)}) at {dest}, "
        "or pass path=<your csv> or url=<a download URL of the CSV or a .zip holding it>."
    )
    if url is None:
        raise InputError(str(dest), f"KPI data not found. {hint}")
    try:
        if url.lower().split("?", 1)[0].endswith(".zip"):
            archive = fetch(url, dest.with_name(dest.name + ".zip"))
            unzip_single(archive, dest)
            archive.unlink()
        else:
            fetch(url, dest)
    except OSError as err:
        raise InputError(str(dest), f"download from {url} failed ({err}). {hint}") from None
    return dest


def load_kpi(
    path: str | Path | None = None,
    *,
    ground_truth_hdf: str | Path | None = None,
    hdf_key: str | None = None,
    url: str | None = None,
    cache_dir: str | Path | None = None,
    filename: str = KPI_FILE,
    duplicates: str = "raise",
) -> KpiData:
    """Loads the KPI training CSV (and optionally the ground-truth HDF) as per-KPI series.

    Args:
      path: a local CSV; when None the cache (``cache_dir`` or ``$JTSGEN_DATA/kpi``)
        is used, filled from ``url`` if the file is missing.
      ground_truth_hdf: optional HDF of the test part (same columns).
      hdf_key: key inside the HDF, if it holds more than one table.
      url: download URL of the CSV (or of a .zip holding only the CSV).
      cache_dir: cache folder; default ``$JTSGEN_DATA/kpi``.
      filename: the cached file's name.
      duplicates: ``"raise"`` or ``"first"`` for repeated timestamps within a KPI.
    """
    csv_path = Path(path).expanduser() if path is not None else _cached_csv(
        url, cache_dir, filename
    )
    train = read_kpi_csv(csv_path, duplicates=duplicates)
    test = [] if ground_truth_hdf is None else read_kpi_hdf(
        ground_truth_hdf, key=hdf_key, duplicates=duplicates
    )
    return KpiData(train, test)
