"""One labelled series as returned by the NAB and KPI loaders.

Conventions: ``values_t`` is float32 ``[time]`` (univariate), ``labels_t`` is
float32 ``[time]`` with entries in {0, 1} (1 = anomalous time step), and
``timestamps`` is a ``pandas.DatetimeIndex`` of the same length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LabelledSeries:
    """A named univariate series with per-step anomaly labels.

    Attributes:
      name: identifier, e.g. ``"realTweets/Twitter_volume_AAPL.csv"`` or a KPI ID.
      timestamps: ``[time]`` ``pandas.DatetimeIndex``, strictly increasing.
      values_t: float32 ``[time]``.
      labels_t: float32 ``[time]`` in {0, 1}.
    """

    name: str
    timestamps: pd.DatetimeIndex
    values_t: np.ndarray
    labels_t: np.ndarray

    def __len__(self) -> int:
        return int(self.values_t.shape[0])

    @property
    def anomaly_fraction(self) -> float:
        """Fraction of time steps labelled anomalous."""
        return float(self.labels_t.mean()) if len(self) else 0.0
