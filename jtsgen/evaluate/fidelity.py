"""Fidelity of synthetic series: how far is the synthetic distribution from the real one?

Every function compares two sets (distributions, not pairs): ``real [N, T]`` or
``[N, T, C]`` against ``fake [M, T]`` or ``[M, T, C]`` (any generator's output).
Closed-form distances (seed 000 and the usual time-series GAN metrics):

* ``acf_distance`` — mean |ACF_real(k) - ACF_fake(k)| over lags 1..``nlags`` of the
  batch-averaged autocorrelation functions; 0 = identical temporal structure;
* ``trend_distance`` — |mean slope_real - mean slope_fake| of per-series least-squares lines;
* ``std_ratio`` — std(fake) / std(real) over all values (1 = matched variability);
* ``spectral_distance`` — total-variation distance between the batch-mean normalised
  power spectra, in [0, 1];
  (these four are per channel, averaged over channels for ``[N, T, C]``)
* ``dcr_ratio`` — median distance to closest real record of synthetic series divided
  by the same for real series against the other real series (leave-one-out); values
  well below 1 mean the generator copies records (a proper hold-out comparison is in
  :mod:`jtsgen.evaluate.privacy`);
* ``mmd2`` — unbiased squared maximum mean discrepancy of flattened windows with an
  RBF kernel (median-heuristic bandwidth); 0 in expectation for one distribution;
* ``correlation_distance`` — mean |corr_real - corr_fake| over channel pairs of the
  cross-channel correlation matrices (multivariate only), in [0, 2].

Variable-length series (seed 000, Exercise 1): ``acf_distance``, ``trend_distance``,
``std_ratio`` and ``mmd2`` take optional masks ``real_mask [N, T]`` and
``fake_mask [M, T]`` (1 = real step, 0 = padding; either may be omitted = all real).
They are computed over real steps only: per-series ACF means, variances and lag
products over real steps (a lag pair counts only if both steps are real), slopes
over real steps, the std of the pooled real values, and MMD² of windows whose
padded steps are set to 0 (so within one length group it is the MMD² of the
truncated windows; across groups a length mismatch adds distance). The padding
values and the number of padded steps never change these numbers. The spectral
distance (its frequencies depend on the length) and the trained scores take no
mask: use them per length group on truncated series.

The scores that train a small network (TimeGAN's discriminative and predictive
scores, context-FID) are in :mod:`jtsgen.evaluate.trained_scores`;
:func:`fidelity_report` adds them when given a key.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.errors import InputError
from jtsgen.evaluate.privacy import closest_distances


def as_btc(x) -> np.ndarray:
    """``[N, T]`` -> ``[N, T, 1]``; ``[N, T, C]`` unchanged (float64)."""
    x = np.asarray(x, np.float64)
    if x.ndim not in (2, 3):
        raise InputError("series", f"expected [N, T] or [N, T, C], got shape {x.shape}")
    return x[..., None] if x.ndim == 2 else x


def as_mask(mask, x_btc: np.ndarray, name: str) -> np.ndarray:
    """A ``[N, T]`` 0/1 mask for ``x_btc [N, T, C]`` as bool (``None``: every step real);
    raises :class:`InputError` naming ``name`` on a wrong shape, values other than 0 and
    1, or a series with fewer than 2 real steps."""
    if mask is None:
        return np.ones(x_btc.shape[:2], bool)
    m = np.asarray(mask)
    if m.shape != x_btc.shape[:2]:
        raise InputError(name, f"expected a mask of shape {x_btc.shape[:2]}, got {m.shape}")
    if not np.all((m == 0) | (m == 1)):
        raise InputError(name, "mask values must be 0 (padding) or 1 (real step)")
    if m.sum(axis=1).min() < 2:
        raise InputError(name, "every series needs at least 2 real steps")
    return m.astype(bool)


def per_channel(fn):
    """Lifts a univariate ``fn(real_bt, fake_bt, ...)`` to ``[N, T, C]`` inputs: the
    mean of ``fn`` over channels (``[N, T]`` inputs go straight through). Masks
    ``real_mask [N, T]`` / ``fake_mask [M, T]``, when either is given, are checked and
    passed to ``fn`` as bool ``real_m`` / ``fake_m`` (the same for every channel)."""

    @functools.wraps(fn)
    def lifted(real, fake, *args, real_mask=None, fake_mask=None, **kwargs):
        real, fake = as_btc(real), as_btc(fake)
        if real_mask is not None or fake_mask is not None:
            kwargs = dict(kwargs, real_m=as_mask(real_mask, real, "real_mask"),
                          fake_m=as_mask(fake_mask, fake, "fake_mask"))
        return float(np.mean([fn(real[..., c], fake[..., c], *args, **kwargs)
                              for c in range(real.shape[-1])]))

    return lifted


def _centred(x_bt: np.ndarray, m_bt: np.ndarray | None) -> np.ndarray:
    """``x_bt`` minus each series' mean over its real steps, padded steps set to 0."""
    if m_bt is None:
        return x_bt - x_bt.mean(axis=1, keepdims=True)
    x = np.where(m_bt, x_bt, 0.0)
    mean = x.sum(axis=1, keepdims=True) / m_bt.sum(axis=1, keepdims=True)
    return np.where(m_bt, x - mean, 0.0)


def acf_bt(x_bt: np.ndarray, nlags: int, m_bt: np.ndarray | None = None) -> np.ndarray:
    """Per-series autocorrelation at lags 0..nlags: ``[B, nlags + 1]`` (with a bool mask
    ``m_bt [B, T]``: over real steps; a lag pair with a padded step adds 0)."""
    x = _centred(x_bt, m_bt)
    denom = np.maximum((x**2).sum(axis=1), 1e-12)
    return np.stack(
        [(x[:, : x.shape[1] - k] * x[:, k:]).sum(axis=1) / denom for k in range(nlags + 1)],
        axis=1,
    )


@per_channel
def acf_distance(real_bt: np.ndarray, fake_bt: np.ndarray, nlags: int = 20, *,
                 real_m=None, fake_m=None) -> float:
    if real_m is None:
        nlags = min(nlags, real_bt.shape[1] - 1)  # lags up to T - 1 exist
    else:  # lags up to the shortest series' length - 1
        nlags = min(nlags, int(real_m.sum(1).min()) - 1, int(fake_m.sum(1).min()) - 1)
    a, b = acf_bt(real_bt, nlags, real_m).mean(0), acf_bt(fake_bt, nlags, fake_m).mean(0)
    return float(np.mean(np.abs(a[1:] - b[1:])))


def slopes_b(x_bt: np.ndarray, m_bt: np.ndarray | None = None) -> np.ndarray:
    """Least-squares slope of every series ``[B]`` (over real steps with a bool mask)."""
    if m_bt is None:
        t = np.arange(x_bt.shape[1], dtype=np.float64)
        t = t - t.mean()
        return (x_bt - x_bt.mean(axis=1, keepdims=True)) @ t / (t @ t)
    t_bt = _centred(np.broadcast_to(np.arange(x_bt.shape[1], dtype=np.float64), x_bt.shape),
                    m_bt)
    return (_centred(x_bt, m_bt) * t_bt).sum(axis=1) / (t_bt**2).sum(axis=1)


@per_channel
def trend_distance(real_bt: np.ndarray, fake_bt: np.ndarray, *, real_m=None,
                   fake_m=None) -> float:
    return float(abs(slopes_b(real_bt, real_m).mean() - slopes_b(fake_bt, fake_m).mean()))


@per_channel
def std_ratio(real_bt: np.ndarray, fake_bt: np.ndarray, *, real_m=None, fake_m=None) -> float:
    if real_m is not None:  # std of the pooled real values
        real_bt, fake_bt = real_bt[real_m], fake_bt[fake_m]
    return float(np.std(fake_bt) / max(np.std(real_bt), 1e-12))


@per_channel
def spectral_distance(real_bt: np.ndarray, fake_bt: np.ndarray) -> float:
    def spectrum(x):
        p = np.abs(np.fft.rfft(x - x.mean(axis=1, keepdims=True), axis=1)) ** 2
        p = p.mean(axis=0)
        return p / max(p.sum(), 1e-12)

    return float(0.5 * np.abs(spectrum(real_bt) - spectrum(fake_bt)).sum())


def dcr_ratio(real, fake) -> float:
    fake_to_real = np.median(closest_distances(fake, real)[:, 0])
    real_to_real = np.median(closest_distances(real, real, exclude_self=True)[:, 0])
    return float(fake_to_real / max(real_to_real, 1e-12))


@jax.jit
def _mmd2(x_nd: jax.Array, y_md: jax.Array) -> jax.Array:
    n, m = x_nd.shape[0], y_md.shape[0]
    z = jnp.concatenate([x_nd, y_md])
    sq = jnp.sum(z**2, axis=1)
    d2 = jnp.maximum(sq[:, None] + sq[None, :] - 2.0 * z @ z.T, 0.0)
    iu = jnp.triu_indices(n + m, 1)
    bandwidth2 = jnp.maximum(jnp.median(d2[iu]), 1e-12)  # median heuristic: sigma = median
    k = jnp.exp(-d2 / (2.0 * bandwidth2))
    kxx, kyy, kxy = k[:n, :n], k[n:, n:], k[:n, n:]
    xx = (kxx.sum() - jnp.trace(kxx)) / (n * (n - 1))
    yy = (kyy.sum() - jnp.trace(kyy)) / (m * (m - 1))
    return xx + yy - 2.0 * kxy.mean()


def mmd2(real, fake, *, real_mask=None, fake_mask=None) -> float:
    """Unbiased MMD² of the flattened windows ``[N, T*C]`` vs ``[M, T*C]`` with the RBF
    kernel ``exp(-|x-y|² / 2σ²)``, σ = median pairwise distance of the pooled sample.
    Expectation 0 iff the distributions match; the estimate can be slightly negative.
    Masks ``[N, T]`` / ``[M, T]``: padded steps are set to 0 before flattening."""
    x, y = as_btc(real), as_btc(fake)
    if real_mask is not None or fake_mask is not None:
        x = np.where(as_mask(real_mask, x, "real_mask")[..., None], x, 0.0)
        y = np.where(as_mask(fake_mask, y, "fake_mask")[..., None], y, 0.0)
    return float(_mmd2(jnp.asarray(x.reshape(len(x), -1), jnp.float32),
                       jnp.asarray(y.reshape(len(y), -1), jnp.float32)))


def correlation_matrix(x_btc) -> np.ndarray:
    """Pearson correlation between channels over all series and steps: ``[C, C]``."""
    x = as_btc(x_btc)
    return np.corrcoef(x.reshape(-1, x.shape[-1]), rowvar=False)


def correlation_distance(real_btc, fake_btc) -> float:
    """Mean |corr_real - corr_fake| over the ``C(C-1)/2`` channel pairs, in [0, 2]."""
    real, fake = as_btc(real_btc), as_btc(fake_btc)
    c = real.shape[-1]
    if c < 2:
        raise InputError("real_btc", "cross-channel correlation needs at least 2 channels")
    iu = np.triu_indices(c, 1)
    return float(np.mean(np.abs(correlation_matrix(real)[iu] - correlation_matrix(fake)[iu])))


def frechet_distance(a_nd: np.ndarray, b_nd: np.ndarray) -> float:
    """Fréchet distance of Gaussians fitted to two sets of embeddings ``[N, D]``, ``[M, D]``:
    ``|mu_a - mu_b|² + tr(S_a + S_b - 2 (S_a S_b)^{1/2})``."""
    a, b = np.asarray(a_nd, np.float64), np.asarray(b_nd, np.float64)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    w, v = np.linalg.eigh(sa)
    root_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ sb @ root_a), 0.0, None)).sum()
    diff = a.mean(0) - b.mean(0)
    # >= 0 in exact arithmetic; clamp the rounding error of near-singular covariances
    return float(max(diff @ diff + np.trace(sa) + np.trace(sb) - 2.0 * cross, 0.0))


def fidelity_report(real, fake, *, key: jax.Array | None = None) -> dict[str, float]:
    """The closed-form measures above as a flat dict (``correlation_distance`` only for
    ``C > 1``); with a ``key`` also the three trained scores
    (default step counts)."""
    real, fake = as_btc(real), as_btc(fake)
    report = {
        "acf_distance": acf_distance(real, fake),
        "trend_distance": trend_distance(real, fake),
        "std_ratio": std_ratio(real, fake),
        "spectral_distance": spectral_distance(real, fake),
        "dcr_ratio": dcr_ratio(real, fake),
        "mmd2": mmd2(real, fake),
    }
    if real.shape[-1] > 1:
        report["correlation_distance"] = correlation_distance(real, fake)
    if key is not None:
        from jtsgen.evaluate import trained_scores as trained  # it builds on this module

        k1, k2, k3 = jax.random.split(key, 3)
        report["discriminative_score"] = trained.discriminative_score(real, fake, k1)
        report["predictive_score"] = trained.predictive_score(real, fake, k2)
        report["context_fid"] = trained.context_fid(real, fake, k3)
    return report


def markdown_table(metrics: dict[str, float]) -> str:
    """A two-column Markdown table of a flat metrics dict."""
    rows = "\n".join(f"| {k} | {v:.4f} |" for k, v in metrics.items())
    return f"| metric | value |\n|---|---|\n{rows}\n"
