"""Sliding windows over labelled series.

``sliding_windows`` cuts one series ``values`` (``[time]`` or ``[time, channels]``)
with labels ``[time]`` into ``x_btc`` float32 ``[n_windows, length, channels]``
and ``y_bt`` float32 ``[n_windows, length]``; window ``i`` starts at ``i * stride``
(a tail shorter than ``length`` is dropped). The paper cuts KPI series into
windows of 240 (:data:`KPI_WINDOW`). ``window_labels`` gives one label per window
(1 if any step is anomalous, as seed 001 labels its windows of 50).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from jtsgen.data.labelled import Labelled
from jtsgen.data.series import LabelledSeries
from jtsgen.data.validate import (
    require_finite,
    require_labels,
    require_positive_int,
    require_window,
)
from jtsgen.errors import InputError

KPI_WINDOW = 240


class Windows(NamedTuple):
    """Windows and where they came from.

    ``x_btc`` float32 ``[n, length, channels]``; ``y_bt`` float32 ``[n, length]``;
    ``start_b`` int64 ``[n]`` first time index of each window in its series;
    ``series_b`` int64 ``[n]`` index of the source series (0 for a single series).
    """

    x_btc: np.ndarray
    y_bt: np.ndarray
    start_b: np.ndarray
    series_b: np.ndarray

    @property
    def labelled(self) -> Labelled:
        """The windows and their labels alone."""
        return Labelled(self.x_btc, self.y_bt)


def _as_tc(values: np.ndarray, source: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2:
        raise InputError(
            source, f"values must be [time] or [time, channels], got shape {values.shape}"
        )
    require_finite(values, source)
    return values.astype(np.float32, copy=False)


def sliding_windows(
    values: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    length: int = KPI_WINDOW,
    stride: int | None = None,
    source: str = "values",
) -> Windows:
    """Cuts a series into windows of ``length`` steps, one every ``stride`` steps.

    Args:
      values: ``[time]`` or ``[time, channels]``.
      labels: ``[time]`` in {0, 1}; ``None`` means all zeros.
      length: window length (KPI default 240).
      stride: step between window starts; ``None`` = ``length`` (no overlap).
      source: name used in error messages (file or argument).
    """
    length = require_positive_int(length, "length")
    stride = length if stride is None else require_positive_int(stride, "stride")
    x_tc = _as_tc(values, source)
    n_time = x_tc.shape[0]
    y_t = np.zeros(n_time, np.float32) if labels is None else require_labels(x_tc, labels, source)
    require_window(length, n_time, source)
    starts = np.arange(0, n_time - length + 1, stride, dtype=np.int64)
    idx = starts[:, None] + np.arange(length)[None, :]
    return Windows(
        x_btc=x_tc[idx],
        y_bt=y_t[idx],
        start_b=starts,
        series_b=np.zeros(starts.shape[0], dtype=np.int64),
    )


def windows_from_series(
    series: Sequence[LabelledSeries],
    *,
    length: int = KPI_WINDOW,
    stride: int | None = None,
    skip_short: bool = True,
) -> Windows:
    """Windows of every series in ``series``, concatenated; ``series_b`` indexes the list.

    Series shorter than ``length`` are skipped when ``skip_short`` (else an error).
    """
    parts = []
    for i, s in enumerate(series):
        if skip_short and len(s) < length:
            continue
        w = sliding_windows(s.values_t, s.labels_t, length=length, stride=stride, source=s.name)
        parts.append(w._replace(series_b=np.full_like(w.series_b, i)))
    if not parts:
        raise InputError("series", f"no series has at least {length} time steps")
    return Windows(*(np.concatenate(field) for field in zip(*parts, strict=True)))


def window_labels(y_bt: np.ndarray) -> np.ndarray:
    """Per-window labels float32 ``[n]``: 1 if any step of the window is anomalous."""
    y_bt = np.asarray(y_bt)
    if y_bt.ndim != 2:
        raise InputError("y_bt", f"must be [windows, time], got shape {y_bt.shape}")
    return (y_bt > 0).any(axis=1).astype(np.float32)
