"""Forecast errors per horizon step and overall: RMSE, MAE, MAPE.

Inputs are ``y_true_bhc`` and ``y_pred_bhc`` ``[B, H, C]`` (windows, horizon steps,
channels) in the series' original units. Per-step numbers reduce over windows and
channels; ``overall`` reduces over everything.

MAPE near zero: a target whose magnitude is below ``min_abs`` (per channel, or one
number for all) is skipped, not floored, because a floored denominator turns a few
near-zero targets into arbitrarily large percentages. ``mape`` is
``100 * mean(|y - ŷ| / |y|)`` over the kept points and ``mape_coverage`` is the
fraction kept (NaN MAPE when nothing is kept). The experiment sets ``min_abs`` to a
fraction of each channel's mean absolute training value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jtsgen.errors import InputError

METRICS = ("rmse", "mae", "mape")


def _check(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 3:
        raise InputError("y_pred", f"shape {y_pred.shape} must equal y_true's {y_true.shape} "
                                   "and be [windows, horizon, channels]")
    return y_true, y_pred


def _reduce(values: np.ndarray, keep: np.ndarray, per_step: bool) -> np.ndarray:
    axes = (0, 2) if per_step else (0, 1, 2)
    count = keep.sum(axis=axes)
    total = np.where(keep, values, 0.0).sum(axis=axes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def errors(y_true_bhc: np.ndarray, y_pred_bhc: np.ndarray, *,
           min_abs: float | np.ndarray = 1e-6, per_step: bool = False) -> dict[str, Any]:
    """``{"rmse", "mae", "mape", "mape_coverage"}``: floats, or ``[H]`` arrays when
    ``per_step``. ``min_abs``: MAPE skips targets with ``|y| < min_abs`` (scalar or ``[C]``)."""
    y_true, y_pred = _check(y_true_bhc, y_pred_bhc)
    err = y_pred - y_true
    everything = np.ones(err.shape, bool)
    kept = np.abs(y_true) >= np.asarray(min_abs, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ape = np.abs(err) / np.abs(y_true)
    out = {
        "rmse": np.sqrt(_reduce(err**2, everything, per_step)),
        "mae": _reduce(np.abs(err), everything, per_step),
        "mape": 100.0 * _reduce(ape, kept, per_step),
        "mape_coverage": _reduce(kept.astype(np.float64), everything, per_step),
    }
    return {k: (v if per_step else float(v)) for k, v in out.items()}


def table_rows(name: str, y_true_bhc: np.ndarray, y_pred_bhc: np.ndarray, *,
               min_abs: float | np.ndarray = 1e-6) -> list[dict[str, Any]]:
    """CSV rows for one model: ``step`` = 1..H, then ``"all"``; columns ``model, step,
    rmse, mae, mape, mape_coverage``."""
    steps = errors(y_true_bhc, y_pred_bhc, min_abs=min_abs, per_step=True)
    overall = errors(y_true_bhc, y_pred_bhc, min_abs=min_abs)
    rows = [{"model": name, "step": str(h + 1), **{k: float(v[h]) for k, v in steps.items()}}
            for h in range(len(steps["rmse"]))]
    return rows + [{"model": name, "step": "all", **overall}]
