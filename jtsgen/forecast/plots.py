"""Figures of the forecasting experiment (matplotlib, Agg backend, atomic writes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from jtsgen.evaluate.report_plots import save_figure  # the one atomic PNG writer

    fig.tight_layout()
    save_figure(fig, path)


def forecasts(path: Path, x_ic: np.ndarray, y_hc: np.ndarray, preds: dict[str, np.ndarray],
              channels: list[str], show_last: int = 48) -> None:
    """One test window: the last ``show_last`` inputs, the truth and each model's
    forecast ``[H, C]``, one panel per channel (original units)."""
    plt = _pyplot()
    n_in, horizon = x_ic.shape[0], y_hc.shape[0]
    show_last = min(show_last, n_in)
    t_in = np.arange(1 - show_last, 1)  # the last input is the origin, 0
    t_out = np.arange(1, horizon + 1)
    fig, axes = plt.subplots(len(channels), 1, figsize=(9, 2.4 * len(channels)), squeeze=False)
    for c, ax in enumerate(axes[:, 0]):
        ax.plot(t_in, x_ic[-show_last:, c], color="0.5", lw=1, label="input")
        ax.plot(t_out, y_hc[:, c], color="k", lw=2, label="truth")
        for name, p_hc in preds.items():
            ax.plot(t_out, p_hc[:, c], lw=1.2, label=name)
        ax.set_ylabel(channels[c])
    axes[0, 0].legend(fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("hours from the forecast origin (0 = last input)")
    _save(fig, path)


def attention_heatmap(path: Path, attn_hi: np.ndarray, title: str) -> None:
    """Mean attention ``[H, I]``: rows horizon steps, columns lags (hours before the origin)."""
    plt = _pyplot()
    n_in = attn_hi.shape[1]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    im = ax.imshow(attn_hi[:, ::-1], aspect="auto", cmap="viridis",
                   extent=(0.5, n_in + 0.5, attn_hi.shape[0] + 0.5, 0.5))
    fig.colorbar(im, ax=ax, label="attention weight")
    ax.set_xlabel("lag: hours before the forecast origin (1 = last input)")
    ax.set_ylabel("horizon step")
    ax.set_title(title)
    _save(fig, path)


def lag_importance(path: Path, importance_i: np.ndarray, season: int) -> None:
    """Attention mass per lag (mean over test windows, heads and horizon steps)."""
    plt = _pyplot()
    lags = np.arange(1, importance_i.shape[0] + 1)
    fig, ax = plt.subplots(figsize=(9, 3))
    ax.bar(lags, importance_i[::-1], color="tab:blue")
    for k in range(season, lags[-1] + 1, season) if season else ():
        ax.axvline(k, color="tab:red", ls="--", lw=1)
    ax.set_xlabel("lag (hours before the origin); dashed: multiples of the season")
    ax.set_ylabel("mean attention")
    _save(fig, path)
