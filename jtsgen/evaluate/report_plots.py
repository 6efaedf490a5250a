"""Visual checks for any real-vs-synthetic pair, saved as PNG (matplotlib Agg).

Inputs are ``real [N, T]`` or ``[N, T, C]`` and ``fake [M, T(, C)]``; every figure
overlays real (red) and synthetic (blue):

* :func:`plot_histograms` — value histograms, one panel per channel;
* :func:`plot_acf` — batch-mean autocorrelation of each channel with a ±1 std band;
* :func:`plot_embedding` — PCA (fitted on the real windows) and t-SNE (on both) of the
  flattened windows;
* :func:`plot_sample_grid` — a grid of real (top rows) and synthetic (bottom rows)
  windows, first channel;
* :func:`save_report` — all four into a directory; returns the paths.

Labelled series (C-GATS's Figures 1–3; ``x_btc [B, T, C]``, ``y_bt [B, T]``, labelled
steps in red): :func:`plot_label_control`, :func:`plot_samples`, :func:`plot_tsne`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jtsgen.evaluate.fidelity import acf_bt, as_btc  # noqa: E402

REAL, FAKE = "tab:red", "tab:blue"


def save_figure(fig, path: Path, dpi: int = 100) -> Path:
    """Saves ``fig`` as PNG at ``path`` atomically (a temp file, then rename), closes it."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp.png")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    tmp.replace(path)
    return path


def plot_histograms(real, fake, path: Path, bins: int = 50) -> Path:
    real, fake = as_btc(real), as_btc(fake)
    c = real.shape[-1]
    fig, axes = plt.subplots(1, c, figsize=(4 * c, 3), squeeze=False)
    for i, ax in enumerate(axes[0]):
        lo = min(real[..., i].min(), fake[..., i].min())
        hi = max(real[..., i].max(), fake[..., i].max())
        edges = np.linspace(lo, hi, bins + 1)
        ax.hist(real[..., i].ravel(), edges, density=True, alpha=0.5, color=REAL, label="real")
        ax.hist(fake[..., i].ravel(), edges, density=True, alpha=0.5, color=FAKE,
                label="synthetic")
        ax.set_title(f"values, channel {i}", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_acf(real, fake, path: Path, nlags: int = 30) -> Path:
    real, fake = as_btc(real), as_btc(fake)
    c = real.shape[-1]
    nlags = min(nlags, real.shape[1] - 1)
    lags = np.arange(nlags + 1)
    fig, axes = plt.subplots(1, c, figsize=(4 * c, 3), squeeze=False)
    for i, ax in enumerate(axes[0]):
        for x, color, name in ((real, REAL, "real"), (fake, FAKE, "synthetic")):
            acf = acf_bt(x[..., i], nlags)
            mean, std = acf.mean(0), acf.std(0)
            ax.plot(lags, mean, color=color, label=name)
            ax.fill_between(lags, mean - std, mean + std, color=color, alpha=0.15, lw=0)
        ax.axhline(0.0, color="grey", lw=0.5)
        ax.set_title(f"autocorrelation, channel {i}", fontsize=9)
        ax.set_xlabel("lag")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_embedding(real, fake, path: Path, seed: int = 0, max_points: int = 500) -> Path:
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(seed)
    real, fake = as_btc(real), as_btc(fake)
    real = real[rng.permutation(len(real))[:max_points]].reshape(min(len(real), max_points), -1)
    fake = fake[rng.permutation(len(fake))[:max_points]].reshape(min(len(fake), max_points), -1)
    both = np.concatenate([real, fake])
    pca = PCA(n_components=2, random_state=seed).fit(real)
    perplexity = max(2.0, min(30.0, (len(both) - 1) / 3))
    # one OpenMP thread: beside JAX's threads (or pytest workers) more threads spin and
    # make t-SNE several times slower (400 points: 45 s with all threads under load, 8 s)
    with threadpool_limits(limits=1, user_api="openmp"):
        tsne = TSNE(2, perplexity=perplexity, init="pca",
                    random_state=seed).fit_transform(both)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4))
    for ax, pts, title in ((axes[0], pca.transform(both), "PCA (fitted on real)"),
                           (axes[1], tsne, "t-SNE")):
        ax.scatter(*pts[: len(real)].T, s=6, alpha=0.5, color=REAL, label="real")
        ax.scatter(*pts[len(real):].T, s=6, alpha=0.5, color=FAKE, label="synthetic")
        ax.set_title(title, fontsize=9)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_sample_grid(real, fake, path: Path, rows: int = 2, cols: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    real, fake = as_btc(real), as_btc(fake)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(2.6 * cols, 1.5 * 2 * rows),
                             sharex=True, sharey=True, squeeze=False)
    for x, color, offset, name in ((real, REAL, 0, "real"), (fake, FAKE, rows, "synthetic")):
        pick = rng.permutation(len(x))[: rows * cols]
        for j, ax in enumerate(axes[offset:offset + rows].ravel()):
            if j < len(pick):
                ax.plot(x[pick[j], :, 0], color=color, lw=1)
        axes[offset, 0].set_title(name, fontsize=9, loc="left")
    fig.tight_layout()
    return save_figure(fig, path)


def save_report(real, fake, outdir: Path, seed: int = 0) -> dict[str, Path]:
    """Writes ``histograms.png``, ``acf.png``, ``embedding.png`` and ``samples.png``."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    return {
        "histograms": plot_histograms(real, fake, outdir / "histograms.png"),
        "acf": plot_acf(real, fake, outdir / "acf.png"),
        "embedding": plot_embedding(real, fake, outdir / "embedding.png", seed=seed),
        "samples": plot_sample_grid(real, fake, outdir / "samples.png", seed=seed),
    }


# ---- labelled series (C-GATS's figures) ----------------------------------------

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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    save_figure(fig, path)
