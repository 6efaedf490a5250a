"""Numenta Anomaly Benchmark (NAB) loader.

Source: https://github.com/numenta/NAB (MIT). A checkout holds
``data/<subset>/<file>.csv`` (columns ``timestamp,value``) and
``labels/combined_windows.json``, which maps ``"<subset>/<file>.csv"`` to a list
of ``[start, end]`` timestamp strings. A point is anomalous iff its timestamp
lies in some window, ends included.

The files come from a local checkout (``root=``) or from the cache
``$JTSGEN_DATA/nab`` (default ``~/.cache/jtsgen/nab``), where missing files are
downloaded from ``base_url`` (default: raw GitHub, NAB master). Offline with
nothing local: one InputError that says where to put the files.

Each file becomes a :class:`~jtsgen.data.series.LabelledSeries` with float32
``values_t`` ``[time]`` and float32 ``labels_t`` ``[time]`` in {0, 1}. A few NAB
files repeat timestamps (e.g. ``realAWSCloudwatch/ec2_disk_write_bytes_1ef3de``);
by default (``duplicates="first"``) the first row of each timestamp is kept.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from jtsgen.data.cache import dataset_dir, fetch
from jtsgen.data.series import LabelledSeries
from jtsgen.data.validate import (
    read_csv,
    require_columns,
    require_datetimes,
    require_finite,
    require_numeric,
    require_sorted_timestamps,
)
from jtsgen.errors import InputError

NAB_SUBSETS = ("realTweets", "realTraffic", "realAWSCloudwatch", "realAdExchange",
               "artificialWithAnomaly")
NAB_URL = "https://raw.githubusercontent.com/numenta/NAB/master"
WINDOWS_FILE = "labels/combined_windows.json"

Windows = dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]


def nab_labels(timestamps: pd.DatetimeIndex, windows: Sequence[tuple]) -> np.ndarray:
    """float32 ``[time]``: 1 where a timestamp lies inside any ``(start, end)`` window."""
    ts = pd.DatetimeIndex(timestamps)
    y = np.zeros(len(ts), dtype=bool)
    for start, end in windows:
        y |= (ts >= pd.Timestamp(start)) & (ts <= pd.Timestamp(end))
    return y.astype(np.float32)


def read_windows(path: str | Path) -> Windows:
    """Parses ``combined_windows.json`` into ``{"subset/file.csv": [(start, end), ...]}``."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found (NAB labels/combined_windows.json)")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise InputError(str(path), f"is not valid JSON ({err})") from None
    if not isinstance(raw, dict):
        raise InputError(str(path), "must map 'subset/file.csv' to lists of [start, end]")
    windows: Windows = {}
    for key, spans in raw.items():
        try:
            parsed = [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in spans]
        except (TypeError, ValueError) as err:
            raise InputError(str(path), f"bad window list for {key!r} ({err})") from None
        if any(a > b for a, b in parsed):
            raise InputError(str(path), f"a window of {key!r} ends before it starts")
        windows[key] = parsed
    return windows


def read_nab_file(
    path: str | Path, windows: Sequence[tuple], *, name: str | None = None,
    duplicates: str = "first",
) -> LabelledSeries:
    """Reads one NAB CSV (``timestamp,value``) and labels it with ``windows``."""
    source = str(path)
    frame = read_csv(path)
    require_columns(frame, ("timestamp", "value"), source)
    timestamps = require_datetimes(frame, "timestamp", source)
    values = require_numeric(frame, "value", source)
    require_finite(values, source, what="column 'value'")
    keep = require_sorted_timestamps(timestamps, source, duplicates=duplicates)
    timestamps, values = timestamps[keep], values[keep]
    return LabelledSeries(
        name=name or Path(path).name,
        timestamps=timestamps,
        values_t=values.astype(np.float32),
        labels_t=nab_labels(timestamps, windows),
    )


def _obtain(rel: str, folder: Path, base_url: str | None, hint: str) -> Path:
    """``folder/rel``, downloading it from ``base_url/rel`` when missing."""
    dest = folder / rel
    if dest.is_file():
        return dest
    if base_url is None:
        raise InputError(str(dest), f"file not found and downloads are off. {hint}")
    url = f"{base_url.rstrip('/')}/{rel}"
    try:
        return fetch(url, dest)
    except OSError as err:
        raise InputError(
            str(dest), f"not available locally and the download from {url} failed ({err}). {hint}"
        ) from None


def _select(windows: Windows, subsets: Sequence[str], files: Sequence[str] | None) -> list[str]:
    if files is not None:
        unknown = [f for f in files if f not in windows]
        if unknown:
            raise InputError("files", f"not in NAB's combined_windows.json: {unknown}")
        return list(files)
    if isinstance(subsets, str):
        subsets = (subsets,)
    bad = [s for s in subsets if s not in NAB_SUBSETS]
    if bad or not subsets:
        raise InputError("subsets", f"unknown NAB subset(s) {bad}; choose from {list(NAB_SUBSETS)}")
    return sorted(k for k in windows if k.split("/", 1)[0] in subsets)


def load_nab(
    subsets: Sequence[str] = NAB_SUBSETS,
    *,
    files: Sequence[str] | None = None,
    root: str | Path | None = None,
    cache_dir: str | Path | None = None,
    base_url: str | None = NAB_URL,
    duplicates: str = "first",
) -> list[LabelledSeries]:
    """Loads labelled NAB series, one per file, sorted by name.

    Args:
      subsets: subset names from :data:`NAB_SUBSETS`.
      files: instead of whole subsets, keys like ``"realTweets/Twitter_volume_FB.csv"``.
      root: a local NAB checkout (``data/`` and ``labels/``); nothing is downloaded.
      cache_dir: cache folder (default ``$JTSGEN_DATA/nab``), used when ``root`` is None.
      base_url: where missing cache files are downloaded from; ``None`` = no downloads.
      duplicates: ``"first"`` (keep the first row of a repeated timestamp) or ``"raise"``.

    Returns:
      list of :class:`LabelledSeries` named ``"subset/file.csv"``.
    """
    if root is not None:
        folder = Path(root).expanduser()
        base_url = None
        hint = f"Pass root= a NAB checkout holding data/<subset>/*.csv and {WINDOWS_FILE}."
    else:
        folder = dataset_dir("nab", cache_dir)
        hint = (
            f"Put a NAB checkout's data/ and labels/ folders in {folder} "
            f"(from https://github.com/numenta/NAB), or pass root=<your NAB checkout>."
        )
    windows = read_windows(_obtain(WINDOWS_FILE, folder, base_url, hint))
    names = _select(windows, subsets, files)
    return [
        read_nab_file(
            _obtain(f"data/{key}", folder, base_url, hint), windows[key],
            name=key, duplicates=duplicates,
        )
        for key in names
    ]
