"""Figures of the experiments, saved atomically (temp file, then rename)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save(fig, path: Path) -> None:
    tmp = Path(path).with_name(f".{Path(path).stem}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def _series_with_anomalies(ax, x_t, y_t, color="C0"):
    t = np.arange(len(x_t))
    ax.plot(t, x_t, color=color, lw=1)
    on = y_t > 0
    ax.scatter(t[on], x_t[on], color="red", s=8, zorder=3)
    ax.fill_between(t, 0, 1, where=on, color="red", alpha=0.12, lw=0,
                    transform=ax.get_xaxis_transform())


def plot_label_control(x_btc, y_bt, names, path: Path) -> None:
    """Figure 1: one fixed z, one row per label vector (labelled steps in red)."""
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.6 * len(names)), sharex=True)
    for ax, x, y, name in zip(np.atleast_1d(axes), x_btc, y_bt, names, strict=True):
        _series_with_anomalies(ax, x[:, 0], y)
        ax.set_title(f"Y^A: {name}", fontsize=9, loc="left")
    fig.suptitle("C-GATS: fixed z, varying label vector")
    fig.tight_layout()
    save(fig, path)


def plot_samples(x_btc, y_bt, path: Path) -> None:
    """Figure 2: generated anomalous samples, anomalies marked in red."""
    n = len(x_btc)
    cols = 2
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(11, 1.7 * rows), sharex=True)
    for ax, x, y in zip(np.ravel(axes), x_btc, y_bt, strict=False):
        _series_with_anomalies(ax, x[:, 0], y)
    fig.suptitle("C-GATS samples (labels from the fitted label model)")
    fig.tight_layout()
    save(fig, path)


def plot_tsne(real_btc, fake_btc, path: Path, seed: int = 0) -> None:
    """Figure 3: t-SNE of flattened real (red) vs generated (blue) anomalous windows."""
    from sklearn.manifold import TSNE

    both = np.concatenate([real_btc.reshape(len(real_btc), -1),
                           fake_btc.reshape(len(fake_btc), -1)])
    perplexity = max(2.0, min(30.0, (len(both) - 1) / 3))
    emb = TSNE(2, perplexity=perplexity, random_state=seed, init="pca").fit_transform(both)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(*emb[: len(real_btc)].T, s=6, color="red", alpha=0.6, label="real anomalous")
    ax.scatter(*emb[len(real_btc):].T, s=6, color="blue", alpha=0.6, label="C-GATS")
    ax.legend(fontsize=8)
    ax.set_title("t-SNE: real vs generated anomalous windows")
    fig.tight_layout()
    save(fig, path)
