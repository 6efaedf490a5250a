"""Input checks shared by every loader and array helper in :mod:`jtsgen.data`.

Each check raises :class:`jtsgen.errors.InputError` whose ``source`` names the
file or argument and whose message says what is wrong, so that bad user data is
reported before it reaches numpy internals or JAX.

Conventions: ``values`` are ``[time]`` or ``[time, channels]`` arrays, labels are
``[time]`` arrays with entries in {0, 1}; checked labels are returned as float32. The
``check_*`` functions at the end validate batches of windows, label vectors and (at
trace time) the augmenters' single series.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from jtsgen.errors import InputError

DUPLICATE_POLICIES = ("raise", "first")


def read_csv(path: str | Path, *, source: str | None = None) -> pd.DataFrame:
    """Reads a CSV file, turning a missing, empty or unparsable file into InputError."""
    path = Path(path)
    source = source or str(path)
    if not path.is_file():
        raise InputError(source, "file not found")
    try:
        frame = pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(source, "file is empty (no header, no rows)") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise InputError(source, f"cannot be parsed as CSV ({err})") from None
    require_nonempty(frame, source)
    return frame


def require_nonempty(frame: pd.DataFrame, source: str) -> None:
    """Raises if ``frame`` has no data rows."""
    if len(frame) == 0:
        raise InputError(source, "file is empty (header only, no data rows)")


def require_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> None:
    """Raises if any of ``columns`` is missing from ``frame``."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(
            source,
            f"missing column(s) {missing}; expected {list(columns)}, found {list(frame.columns)}",
        )


def require_numeric(frame: pd.DataFrame, column: str, source: str) -> np.ndarray:
    """Returns ``frame[column]`` as float64, raising if it has non-numeric entries."""
    converted = pd.to_numeric(frame[column], errors="coerce")
    bad = converted.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            source, f"column '{column}' has non-numeric entries (first at row {row}: "
            f"{frame[column].iloc[row]!r})"
        )
    return converted.to_numpy(dtype=np.float64)


def require_datetimes(
    frame: pd.DataFrame, column: str, source: str, *, unit: str | None = None
) -> pd.DatetimeIndex:
    """Parses ``frame[column]`` as timestamps (``unit="s"``: unix seconds)."""
    raw = frame[column]
    if unit is not None:
        raw = pd.Series(require_numeric(frame, column, source), index=frame.index)
        parsed = pd.to_datetime(raw, unit=unit, errors="coerce")
    else:
        parsed = pd.to_datetime(raw, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            source, f"column '{column}' has a missing or unparsable timestamp at row {row} "
            f"({frame[column].iloc[row]!r})"
        )
    return pd.DatetimeIndex(parsed)


def require_finite(values: np.ndarray, source: str, *, what: str = "values") -> None:
    """Raises if ``values`` holds NaN or infinite entries (counted along axis 0)."""
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.number):
        raise InputError(source, f"{what} must be numeric, got dtype {values.dtype}")
    bad = ~np.isfinite(values)
    if bad.ndim > 1:
        bad = bad.reshape(bad.shape[0], -1).any(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        kind = "NaN" if np.isnan(np.asarray(values, np.float64)).any() else "infinite"
        raise InputError(
            source, f"{what} contain {kind} entries in {rows.size} row(s) (first at row {rows[0]})"
        )


def require_sorted_timestamps(
    timestamps: pd.DatetimeIndex | np.ndarray, source: str, *, duplicates: str = "raise"
) -> np.ndarray:
    """Checks that timestamps increase; returns a boolean ``[time]`` mask of rows to keep.

    Args:
      timestamps: ``[time]`` timestamps (datetime-like or numeric).
      source: file or argument name used in the error.
      duplicates: ``"raise"`` rejects repeated timestamps; ``"first"`` keeps the
        first row of each repeated timestamp (the mask drops the others).
    """
    if duplicates not in DUPLICATE_POLICIES:
        raise InputError("duplicates", f"must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    ts = pd.Index(timestamps)
    if ts.hasnans:
        row = int(np.flatnonzero(ts.isna())[0])
        raise InputError(source, f"missing (NaN) timestamp at row {row}")
    keep = np.ones(len(ts), dtype=bool)
    if len(ts) < 2:
        return keep
    arr = ts.to_numpy()
    step_back = np.flatnonzero(arr[1:] < arr[:-1])
    if step_back.size:
        row = int(step_back[0]) + 1
        raise InputError(
            source, f"timestamps are not sorted: row {row} ({arr[row]}) comes before "
            f"row {row - 1} ({arr[row - 1]})"
        )
    repeated = np.flatnonzero(arr[1:] == arr[:-1]) + 1
    if repeated.size:
        if duplicates == "raise":
            raise InputError(
                source, f"duplicate timestamps: {repeated.size} repeated row(s), first at row "
                f"{repeated[0]} ({arr[repeated[0]]})"
            )
        keep[repeated] = False
    return keep


def require_labels(values: np.ndarray, labels: np.ndarray, source: str) -> np.ndarray:
    """Checks ``labels`` against ``values`` (one label per time step, each 0 or 1).

    Args:
      values: ``[time]`` or ``[time, channels]`` series.
      labels: ``[time]`` labels.
    Returns:
      the labels as float32 ``[time]``.
    """
    labels = np.asarray(labels)
    n_time = np.shape(values)[0] if np.ndim(values) else 0
    if labels.ndim != 1:
        raise InputError(source, f"labels must be 1-D [time], got shape {labels.shape}")
    if labels.shape[0] != n_time:
        raise InputError(
            source, f"labels do not match values: {labels.shape[0]} labels for {n_time} time steps"
        )
    if not np.issubdtype(labels.dtype, np.number) and labels.dtype != bool:
        raise InputError(source, f"labels must be numeric 0/1, got dtype {labels.dtype}")
    bad = ~np.isin(labels, (0, 1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            source, f"labels must be 0 or 1; found {labels[row].item()!r} at row {row} "
            f"({int(bad.sum())} bad label(s))"
        )
    return labels.astype(np.float32)


def require_positive_int(value: object, name: str) -> int:
    """Returns ``value`` as int, raising unless it is an integer >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(name, f"must be a positive integer, got {value!r}")
    return int(value)


def require_fraction(value: float, name: str) -> float:
    """Returns ``value`` as float, raising unless 0 < value < 1."""
    if not isinstance(value, (int, float, np.floating)) or not 0.0 < float(value) < 1.0:
        raise InputError(name, f"must be a number strictly between 0 and 1, got {value!r}")
    return float(value)


def require_window(length: int, n_time: int, source: str) -> None:
    """Raises if a window of ``length`` steps does not fit in a series of ``n_time`` steps."""
    if length > n_time:
        raise InputError(
            source, f"window length {length} is longer than the series ({n_time} time steps)"
        )


def require_choice(value: str, choices: Sequence[str], name: str) -> str:
    """Raises unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise InputError(name, f"unknown value {value!r}; choose from {list(choices)}")
    return value


# --- windows and label vectors (detectors, generators) and traced series (augmenters) --
# Batches of windows are ``x_btc [B, T, C]`` with labels ``y_bt [B, T]``; the augmenters'
# checks run at trace time (shapes and dtypes are static under jit/vmap) on one series
# ``x_tc [T, C]`` with labels ``y_t [T]``.


def check_windows(x_btc: Any, name: str = "x_btc") -> np.ndarray:
    """``x_btc`` as float32 ``[B, T, C]``; InputError on a wrong rank or NaN/inf."""
    x = np.asarray(x_btc, dtype=np.float32)
    if x.ndim != 3:
        raise InputError(name, f"expected shape [batch, time, channels], got {x.shape}")
    if x.size == 0:
        raise InputError(name, "is empty")
    if not np.all(np.isfinite(x)):
        b, t, _ = np.argwhere(~np.isfinite(x))[0]
        raise InputError(name, f"contains NaN or inf (first at series {b}, step {t})")
    return x


def check_window_labels(y_bt: Any, x_btc: np.ndarray, name: str = "y_bt") -> np.ndarray:
    """``y_bt`` as float32 ``[B, T]`` matching ``x_btc``; InputError otherwise."""
    y = np.asarray(y_bt, dtype=np.float32)
    if y.shape != x_btc.shape[:2]:
        raise InputError(name, f"shape {y.shape} does not match the series {x_btc.shape[:2]}")
    if not np.all((y == 0) | (y == 1)):
        raise InputError(name, "labels must be 0 or 1")
    return y


def check_window_fits(window: int, length: int, name: str = "window") -> None:
    """InputError when a detector window is longer than the series."""
    if window > length:
        raise InputError(name, f"window {window} is longer than the series ({length} steps)")


def check_label_vectors(y: object, seq_len: int | None = None,
                        source: str = "labels") -> np.ndarray:
    """Label vectors as float32 ``[B, T]``; InputError on a wrong length or values not in {0,1}."""
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[None]
    if y.ndim != 2:
        raise InputError(source, f"expected label vectors [batch, time], got shape {y.shape}")
    if seq_len is not None and y.shape[1] != seq_len:
        raise InputError(source, f"label vectors have length {y.shape[1]}, expected {seq_len}")
    if not np.all((y == 0) | (y == 1)):
        raise InputError(source, "label values must be 0 or 1")
    return y


def check_series_tc(x_tc: jax.Array, y_t: jax.Array, x_name: str = "x_tc", y_name: str = "y_t"):
    """Validates one series ``[time, channels]`` (floating) and its labels ``[time]``."""
    x_tc = jnp.asarray(x_tc)
    y_t = jnp.asarray(y_t)
    if x_tc.ndim != 2:
        raise InputError(x_name, f"must be [time, channels], got shape {x_tc.shape}")
    if not jnp.issubdtype(x_tc.dtype, jnp.floating):
        raise InputError(x_name, f"must have a floating dtype, got {x_tc.dtype}")
    if x_tc.shape[0] < 1:
        raise InputError(x_name, "has no timesteps")
    if y_t.shape != x_tc.shape[:1]:
        raise InputError(y_name, f"must be [time] = {x_tc.shape[:1]}, got shape {y_t.shape}")
    return x_tc, y_t


def check_pair_tc(x_tc, y_t, x2_tc, y2_t):
    """Validates two series that are mixed together: same shapes and dtypes."""
    x_tc, y_t = check_series_tc(x_tc, y_t)
    x2_tc, y2_t = check_series_tc(x2_tc, y2_t, "x2_tc", "y2_t")
    if x2_tc.shape != x_tc.shape:
        raise InputError("x2_tc", f"has shape {x2_tc.shape} but x_tc has shape {x_tc.shape}")
    x2_tc = x2_tc.astype(x_tc.dtype)
    y2_t = y2_t.astype(y_t.dtype)
    return x_tc, y_t, x2_tc, y2_t


def check_positive(name: str, value) -> None:
    """Rejects a concrete parameter that is not > 0 (traced values are not checked)."""
    if not isinstance(value, jax.core.Tracer) and not value > 0:
        raise InputError(name, f"must be > 0, got {value}")


def check_nonnegative(name: str, value) -> None:
    """Rejects a concrete parameter that is not >= 0 (traced values are not checked)."""
    if not isinstance(value, jax.core.Tracer) and not value >= 0:
        raise InputError(name, f"must be >= 0, got {value}")
