"""An example of the data ``jtsgen fit`` reads: hosts' CPU load with labelled anomalies.

:func:`example_frame` makes a long-format table (``time``, ``host``, ``cpu``,
``label``): per host a daily cycle (period 288 steps of 5 minutes) with AR(1) noise,
and every ~600 steps a labelled anomaly, alternately a spike (1-3 steps) and a level
shift (20-60 steps) of random sign and size. It makes the README's "Use your own data"
commands run as written (``jtsgen example metrics.csv``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter


def example_frame(n_time: int = 4000, hosts: int = 2, seed: int = 0) -> pd.DataFrame:
    """``hosts`` series of ``n_time`` steps each, one row per host and step."""
    rng = np.random.default_rng(seed)
    frames = []
    for h in range(hosts):
        t = np.arange(n_time)
        noise = lfilter([1.0], [1.0, -0.6], rng.normal(0.0, 1.0, n_time))
        x = 40 + 10 * h + 12 * np.sin(2 * np.pi * t / 288 + h) + noise
        y = np.zeros(n_time, np.int8)
        for i, start in enumerate(range(150 + 97 * h, n_time - 80, 600)):
            length = int(rng.integers(1, 4) if i % 2 == 0 else rng.integers(20, 61))
            x[start:start + length] += rng.choice([-1, 1]) * rng.uniform(8, 20)
            y[start:start + length] = 1
        frames.append(pd.DataFrame({
            "time": pd.date_range("2026-01-01", periods=n_time, freq="5min"),
            "host": f"host{h}", "cpu": x.astype(np.float32), "label": y}))
    return pd.concat(frames, ignore_index=True)
