"""The simple anomaly-detection baselines of the C-GATS paper (Supp. 6.6).

Five detectors, each ``fit(key, x_btc, y_bt, config) -> Fitted`` with the threshold
chosen by best point-wise F1 on the data passed to ``fit`` (training data):

* **One-liner A** (Wu & Keogh): score ``|Δx_t|`` (``Δx_0 = 0``), anomalous when
  ``|Δx_t| > b``.
* **One-liner B**: anomalous when ``|Δx_t| > movmean_k(|Δx|) + c·movstd_k(|Δx|) + b``;
  the moving statistics use the trailing window of the ``k`` previous steps
  (``t-k .. t-1``, fewer at the start; mean and std are 0 where no step precedes).
  Score for a fixed ``(k, c)``: ``|Δx_t| - movmean - c·movstd``; threshold ``b``.
  ``k`` runs over ``config.k_grid`` (static shapes, a Python loop of jitted calls);
  for each ``k`` the ``c`` grid is ``vmap``-ed and ``b`` runs over ``b_grid_size``
  quantiles of the scores (plus their maximum), all evaluated in one pass
  (:func:`grid_f1`).
* **Case 1** (Kim et al.): random scores ``U(0, 1)`` per step.
* **Case 2**: ``||x_t||_2`` over channels (``η = 0``).
* **Case 3**: ``||x_t - f(x)_t||_2`` where ``f`` is an *untrained* 2-layer LSTM plus a
  linear read-out, all weights drawn from ``N(0, 0.02²)`` and fixed.

Multichannel series: One-liners take the max over channels of the per-channel score
(anomalous if any channel fires); Case 2/3 use the Euclidean norm over channels.

Threshold search for One-liner A and Case 1–3: the "brute-force grid" is done
exactly, with :func:`jtsgen.metrics.best_f1_threshold` (one sort, every
observed score is a candidate, vectorised; ``num_thresholds`` restricts it to that
many quantiles). This is the limit of any finite grid; for Case 1 it is the paper's
δ grid on ``[0, 1]`` at full resolution. Prediction is ``score >= threshold`` (``Fitted.predict``).

Shapes: ``x_btc`` float32 ``[B, T, C]``, ``y_bt`` float32 ``[B, T]``, scores ``[B, T]``.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.data.validate import check_window_fits, check_window_labels, check_windows
from jtsgen.detect.base import Fitted, best_threshold
from jtsgen.errors import InputError
from jtsgen.metrics import best_f1_threshold
from jtsgen.nn.lstm import LSTM, Dense

KINDS = ("one_liner_a", "one_liner_b", "case1", "case2", "case3")


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration of the baselines; ``kind`` picks one of :data:`KINDS`.

    ``num_thresholds``: None = every observed score is a threshold candidate (exact),
    an int = that many evenly spaced quantiles. ``k_grid``/``c_grid``/``b_grid_size``:
    One-liner B grids (``b``: quantiles of the scores, see :func:`quantile_grid`);
    ``c_batch``: how many ``c`` values are vmapped at once (None: all; lower it to
    bound memory on large data).
    ``lstm_hidden``/``lstm_layers``/``init_std``: Case 3's random network; ``chunk``:
    series per vectorised block when scoring Case 3.
    """

    kind: str = "one_liner_a"
    num_thresholds: int | None = None
    k_grid: tuple[int, ...] = (5, 10, 20, 50)
    c_grid: tuple[float, ...] = (0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
    b_grid_size: int = 1024
    c_batch: int | None = None
    lstm_hidden: int = 32
    lstm_layers: int = 2
    init_std: float = 0.02
    chunk: int = 1024


def _threshold(scores_bt, y_bt, config: Config) -> float:
    if config.num_thresholds is None:
        return best_threshold(np.asarray(scores_bt), y_bt)
    thr, *_ = best_f1_threshold(scores_bt, y_bt, num_thresholds=config.num_thresholds)
    return float(thr)


# --- One-liner A ----------------------------------------------------------------------------


@jax.jit
def abs_diff(x_btc: jax.Array) -> jax.Array:
    """``|x_t - x_{t-1}|`` per channel ``[B, T, C]``, with 0 at ``t = 0``."""
    d = jnp.abs(jnp.diff(x_btc, axis=1))
    return jnp.pad(d, ((0, 0), (1, 0), (0, 0)))


def one_liner_a_scores(x_btc) -> jax.Array:
    """One-liner A scores ``[B, T]``: max over channels of ``|Δx_t|``."""
    return jnp.max(abs_diff(jnp.asarray(x_btc)), axis=-1)


def fit_one_liner_a(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """One-liner A: threshold ``b`` on ``|Δx|`` maximising training F1."""
    del key
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    b = _threshold(one_liner_a_scores(x), y, config)
    return Fitted("one_liner_a", one_liner_a_scores, b, {"b": b})


# --- One-liner B ----------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames="k")
def trailing_moments(a_btc: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """Mean and (population) std of the ``k`` steps before each step, ``[B, T, C]`` each.

    Step ``t`` uses ``a[max(0, t-k) : t]``; with no preceding step both are 0.
    """
    t = a_btc.shape[1]
    pad = ((0, 0), (k, 0), (0, 0))
    window, strides = (1, k, 1), (1, 1, 1)
    s1 = jax.lax.reduce_window(a_btc, 0.0, jax.lax.add, window, strides, pad)[:, :t]
    s2 = jax.lax.reduce_window(a_btc * a_btc, 0.0, jax.lax.add, window, strides, pad)[:, :t]
    n = jnp.minimum(jnp.arange(t, dtype=a_btc.dtype), k)[None, :, None]
    mean = s1 / jnp.maximum(n, 1.0)
    var = jnp.maximum(s2 / jnp.maximum(n, 1.0) - mean * mean, 0.0)
    return mean, jnp.sqrt(var)


@functools.partial(jax.jit, static_argnames="k")
def one_liner_b_scores(x_btc: jax.Array, k: int, c: jax.Array) -> jax.Array:
    """Scores ``[B, T]``: max over channels of ``|Δx| - movmean_k - c·movstd_k``."""
    d = abs_diff(x_btc)
    mean, std = trailing_moments(d, k)
    return jnp.max(d - mean - c * std, axis=-1)


def grid_f1(scores_n: jax.Array, y_n: jax.Array, grid_g: jax.Array) -> jax.Array:
    """Point-wise F1 of ``scores_n >= grid_g[j]`` for every ``j`` of an ascending grid.

    One pass: each score is binned by a binary search into the grid, then reverse
    cumulative counts give TP and FP for all thresholds, ``O(n log G)`` and vmappable.
    """
    pos = (y_n > 0.5).astype(jnp.int32)
    bins = jnp.searchsorted(grid_g, scores_n, side="right")  # grid values <= score
    g = grid_g.shape[0]
    count = jnp.zeros(g + 1, jnp.int32).at[bins].add(1)  # exact integer counts
    hits = jnp.zeros(g + 1, jnp.int32).at[bins].add(pos)
    predicted = jnp.cumsum(count[::-1])[::-1][1:]  # scores >= grid[j]
    tp = jnp.cumsum(hits[::-1])[::-1][1:]
    fp, fn = predicted - tp, jnp.sum(pos) - tp
    tp, fp, fn = (v.astype(jnp.float32) for v in (tp, fp, fn))
    return jnp.where(tp > 0, 2.0 * tp / jnp.maximum(2.0 * tp + fp + fn, 1.0), 0.0)


def quantile_grid(scores_n: jax.Array, grid_size: int, max_sample: int = 65536) -> jax.Array:
    """Ascending grid of ``grid_size`` quantiles of ``scores_n`` plus its maximum.

    Quantiles come from a strided subsample of at most ``max_sample`` scores, so the
    grid follows the score distribution (dense where scores are) at a small cost.
    """
    n = scores_n.shape[0]
    sample = jnp.sort(scores_n[:: max(1, -(-n // max_sample))])
    idx = jnp.round(jnp.linspace(0.0, sample.shape[0] - 1.0, grid_size)).astype(jnp.int32)
    return jnp.concatenate([sample[idx], jnp.max(scores_n)[None]])


@functools.partial(jax.jit, static_argnames=("k", "grid_size", "c_batch"))
def _grid_over_c(x_btc, y_bt, c_grid, k: int, grid_size: int, c_batch: int | None):
    """Best ``b`` and its F1 for every ``c``, ``b`` on a quantile grid of the scores.

    The ``c`` grid is vmapped, ``c_batch`` values at a time (None: all at once).
    """

    def best(c):
        s = one_liner_b_scores(x_btc, k, c).reshape(-1)
        grid = quantile_grid(s, grid_size)
        f1 = grid_f1(s, y_bt.reshape(-1), grid)
        j = jnp.argmax(f1)
        return grid[j], f1[j]

    return jax.lax.map(best, c_grid, batch_size=c_batch or c_grid.shape[0])


def fit_one_liner_b(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """One-liner B: brute force over ``(k, c, b)``, best training F1.

    ``info`` holds the chosen ``k``, ``c``, ``b`` and the best F1 per ``(k, c)``.
    """
    del key
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    if not config.k_grid or not config.c_grid:
        raise InputError("config.k_grid", "One-liner B needs non-empty k_grid and c_grid")
    for k in config.k_grid:
        if int(k) < 1:
            raise InputError("config.k_grid", f"window sizes must be >= 1, got {k}")
        check_window_fits(int(k), x.shape[1], "config.k_grid")
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    c_grid = jnp.asarray(config.c_grid, jnp.float32)
    thr_kc, f1_kc = [], []
    for k in config.k_grid:
        thr, f1 = _grid_over_c(xj, yj, c_grid, int(k), config.b_grid_size, config.c_batch)
        thr_kc.append(np.asarray(thr))
        f1_kc.append(np.asarray(f1))
    thr_kc, f1_kc = np.stack(thr_kc), np.stack(f1_kc)
    ik, ic = np.unravel_index(int(np.argmax(f1_kc)), f1_kc.shape)  # first max: smallest k, c
    k, c, b = int(config.k_grid[ik]), float(config.c_grid[ic]), float(thr_kc[ik, ic])

    def score(x_new):
        return one_liner_b_scores(jnp.asarray(x_new), k, jnp.float32(c))

    info = {"k": k, "c": c, "b": b, "train_f1_kc": f1_kc}
    return Fitted("one_liner_b", score, b, info)


# --- Case 1, 2, 3 ---------------------------------------------------------------------------


def fit_case1(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """Case 1: ``U(0, 1)`` scores. Scoring draws from a fixed key (same shape, same scores)."""
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    fit_key, score_key = jax.random.split(key)
    delta = _threshold(jax.random.uniform(fit_key, y.shape), y, config)

    def score(x_new):
        return jax.random.uniform(score_key, x_new.shape[:2])

    return Fitted("case1", score, delta, {"delta": delta})


@jax.jit
def norm_scores(x_btc: jax.Array) -> jax.Array:
    """Case 2 scores ``[B, T]``: Euclidean norm over channels."""
    return jnp.sqrt(jnp.sum(jnp.square(x_btc), axis=-1))


def fit_case2(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """Case 2: ``||x_t||``, threshold by best training F1."""
    del key
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    delta = _threshold(norm_scores(jnp.asarray(x)), y, config)
    return Fitted("case2", norm_scores, delta, {"delta": delta})


class RandomLSTM(nn.Module):
    """Stacked LSTMs and a linear read-out: ``x_btc [B, T, C] -> [B, T, C]``."""

    hidden: int
    layers: int

    @nn.compact
    def __call__(self, x_btc):
        h = x_btc
        for _ in range(self.layers):
            h, _ = LSTM(self.hidden)(h)
        return Dense(x_btc.shape[-1])(h)


def random_lstm_params(key, channels: int, config: Config):
    """Case 3 parameters: every weight and bias drawn i.i.d. from ``N(0, init_std²)``."""
    net = RandomLSTM(config.lstm_hidden, config.lstm_layers)
    x = jax.ShapeDtypeStruct((1, 2, channels), jnp.float32)
    shapes = jax.eval_shape(net.init, key, x)["params"]  # shapes only, nothing computed
    leaves, treedef = jax.tree.flatten(shapes)

    sizes = [int(np.prod(p.shape)) for p in leaves]
    flat = config.init_std * jax.random.normal(key, (sum(sizes),), jnp.float32)  # one draw
    parts = np.split(np.asarray(flat), np.cumsum(sizes)[:-1])
    return jax.tree.unflatten(
        treedef, [jnp.asarray(a.reshape(p.shape)) for a, p in zip(parts, leaves, strict=True)]
    )


@functools.partial(jax.jit, static_argnames=("hidden", "layers", "chunk"))
def _case3_scores(params, x_btc, hidden: int, layers: int, chunk: int):
    net = RandomLSTM(hidden, layers)
    b, t, c = x_btc.shape
    chunk = min(chunk, b)
    n_chunks = -(-b // chunk)
    x_ktc = jnp.pad(x_btc, ((0, n_chunks * chunk - b), (0, 0), (0, 0)))
    x_ktc = x_ktc.reshape(n_chunks, chunk, t, c)

    def one(x_chunk):
        pred = net.apply({"params": params}, x_chunk)
        return jnp.sqrt(jnp.sum(jnp.square(x_chunk - pred), axis=-1))

    return jax.lax.map(one, x_ktc).reshape(n_chunks * chunk, t)[:b]


def fit_case3(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """Case 3: ``||x_t - f(x)_t||`` with a fixed random LSTM ``f``; best training F1."""
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    params = random_lstm_params(key, x.shape[-1], config)

    def score(x_new):
        return _case3_scores(params, jnp.asarray(x_new), config.lstm_hidden,
                             config.lstm_layers, config.chunk)

    delta = _threshold(score(x), y, config)
    return Fitted("case3", score, delta, {"delta": delta, "params": params})


_FITS = {
    "one_liner_a": fit_one_liner_a,
    "one_liner_b": fit_one_liner_b,
    "case1": fit_case1,
    "case2": fit_case2,
    "case3": fit_case3,
}


def fit(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """Fits the baseline named by ``config.kind`` (one of :data:`KINDS`)."""
    if config.kind not in _FITS:
        raise InputError("config.kind", f"unknown baseline {config.kind!r}; choose one of {KINDS}")
    return _FITS[config.kind](key, x_btc, y_bt, config)
