"""Forecasting data: chronological split, train-only scaler, input/horizon windows.

A series ``x_tc [T, C]`` is cut at ``train_frac`` and ``train_frac + val_frac`` of
its length into train / validation / test parts. The scaler is fitted on the
training part only, and each part is windowed on its own, so no validation or
test time step is ever inside a training window or the scaler's statistics.
A window starting at ``s`` of a part has inputs ``x_bic = part[s : s + I]`` and
targets ``y_bhc = part[s + I : s + I + H]`` (``I`` input steps, ``H`` horizon).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from jtsgen.data.scalers import Scaler, fit_standard_scaler
from jtsgen.data.validate import (
    read_csv,
    require_finite,
    require_numeric,
    require_sorted_timestamps,
)
from jtsgen.errors import InputError


class ForecastWindows(NamedTuple):
    """``x_bic [B, I, C]`` inputs, ``y_bhc [B, H, C]`` targets (both scaled, float32),
    ``start_b [B]`` time index of each window's first input step in the whole series."""

    x_bic: np.ndarray
    y_bhc: np.ndarray
    start_b: np.ndarray


class ForecastData(NamedTuple):
    """The three parts' windows, the scaler (fitted on train) and the part boundaries
    ``bounds = (train_end, val_end)`` as time indices into the series."""

    train: ForecastWindows
    val: ForecastWindows
    test: ForecastWindows
    scaler: Scaler
    bounds: tuple[int, int]


def split_bounds(n_time: int, train_frac: float, val_frac: float) -> tuple[int, int]:
    """``(train_end, val_end)``: train is ``[0, train_end)``, validation
    ``[train_end, val_end)``, test ``[val_end, n_time)``."""
    if not (0 < train_frac < 1 and 0 < val_frac < 1 and train_frac + val_frac < 1):
        raise InputError("train_frac/val_frac", f"need 0 < train, val and train + val < 1, "
                                                f"got {train_frac}, {val_frac}")
    return int(n_time * train_frac), int(n_time * (train_frac + val_frac))


def window_part(part_tc: np.ndarray, offset: int, input_len: int, horizon: int,
                stride: int = 1) -> ForecastWindows:
    """Every (input, horizon) window inside ``part_tc [T, C]``; ``offset`` is the part's
    first time index in the whole series (for ``start_b``)."""
    n = part_tc.shape[0] - input_len - horizon + 1
    starts = np.arange(0, max(n, 0), stride, dtype=np.int64)
    idx_in = starts[:, None] + np.arange(input_len)[None]
    idx_out = starts[:, None] + input_len + np.arange(horizon)[None]
    part = part_tc.astype(np.float32)
    return ForecastWindows(part[idx_in], part[idx_out], starts + offset)


def prepare(x_tc: np.ndarray, *, input_len: int, horizon: int, train_frac: float = 0.7,
            val_frac: float = 0.15, source: str = "series") -> ForecastData:
    """Splits ``x_tc [T, C]`` by time, fits a standard scaler on the training part,
    scales all three parts with it and windows each part separately."""
    x_tc = np.asarray(x_tc, np.float64)
    if x_tc.ndim == 1:
        x_tc = x_tc[:, None]
    require_finite(x_tc, source)
    n_time = x_tc.shape[0]
    train_end, val_end = split_bounds(n_time, train_frac, val_frac)
    need = input_len + horizon
    shortest = min(train_end, val_end - train_end, n_time - val_end)
    if shortest < need:
        minimum = int(np.ceil(need / min(train_frac, val_frac, 1 - train_frac - val_frac)))
        raise InputError(source, f"too short: {n_time} time steps leave {shortest} in the "
                                 f"smallest split part, which needs input_len + horizon = "
                                 f"{need}; use at least ~{minimum} rows")
    scaler = fit_standard_scaler(x_tc[:train_end])
    scaled = scaler.transform(x_tc)
    parts = [(0, train_end), (train_end, val_end), (val_end, n_time)]
    train, val, test = (window_part(scaled[a:b], a, input_len, horizon) for a, b in parts)
    return ForecastData(train, val, test, scaler, (train_end, val_end))


def load_csv(path: str | Path, time_column: str = "") -> tuple[np.ndarray, list[str]]:
    """Reads a CSV with one time column (``time_column``, or the first column when
    empty) and one numeric column per channel; returns ``(x_tc [T, C], channel names)``.

    Time values must increase (numbers or parseable dates); every other column must be
    numeric without gaps.
    """
    source = str(path)
    frame = read_csv(path, source=source)
    time_column = time_column or str(frame.columns[0])
    if time_column not in frame.columns:
        raise InputError(source, f"no time column {time_column!r}; found {list(frame.columns)}")
    channels = [str(c) for c in frame.columns if c != time_column]
    if not channels:
        raise InputError(source, "needs at least one value column besides the time column")
    times = frame[time_column]
    try:
        times = _times(times)
    except ValueError:
        raise InputError(source, f"time column {time_column!r} is neither numeric nor "
                                 "parseable as dates") from None
    require_sorted_timestamps(times, source)
    x_tc = np.stack([require_numeric(frame, c, source) for c in channels], axis=1)
    require_finite(x_tc, source)
    return x_tc, channels


def _times(column: pd.Series):
    """The time column as numbers if it is numeric, else as parsed dates (ValueError if
    neither)."""
    numeric = pd.to_numeric(column, errors="coerce")
    if not numeric.isna().any():
        return numeric.to_numpy()
    parsed = pd.to_datetime(column, errors="coerce")
    if parsed.isna().any():
        raise ValueError("unparsable time")
    return pd.DatetimeIndex(parsed)
