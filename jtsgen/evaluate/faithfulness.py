"""Label faithfulness of a conditional generator: do anomalies land where the labels say?

For a label vector ``y`` and the same latent/noise, a conditional generator
produces ``x_y`` (conditioned on ``y``) and ``x_0`` (conditioned on the all-zero
label vector, i.e. its normal reconstruction). The per-step deviation
``d_t = ||x_y(t) - x_0(t)||_2`` (over channels) is what the labels changed.

* ``on_label_share`` = Σ_t y_t d_t / Σ_t d_t, pooled over the batch: the share of the
  whole deviation that falls on labelled steps (1 = all of it, perfectly faithful);
* ``label_rate`` = mean(y): the share a label-blind generator would score;
* ``lift`` = on_label_share / label_rate (1 = no better than chance);
* ``dev_on`` / ``dev_off``: mean deviation on labelled / unlabelled steps.

Shapes: ``x_y_btc``, ``x_0_btc`` ``[B, T, C]``; ``y_bt`` ``[B, T]``.
"""

from __future__ import annotations

import numpy as np


def label_faithfulness(x_y_btc, x_0_btc, y_bt) -> dict[str, float]:
    """The measures above for one generator (see module docstring)."""
    d = np.linalg.norm(np.asarray(x_y_btc, np.float64) - np.asarray(x_0_btc, np.float64), axis=-1)
    y = np.asarray(y_bt, np.float64)
    total = max(d.sum(), 1e-12)
    share = float((d * y).sum() / total)
    rate = float(y.mean())
    return {
        "on_label_share": share,
        "label_rate": rate,
        "lift": share / max(rate, 1e-12),
        "dev_on": float((d * y).sum() / max(y.sum(), 1.0)),
        "dev_off": float((d * (1 - y)).sum() / max((1 - y).sum(), 1.0)),
    }
