"""RobustTAD (Gao et al., 2020): robust decomposition + 1-D U-Net segmentation.

Every series is decomposed robustly into trend, seasonal and residual parts
(:mod:`jtsgen.detect.decompose`); the network input per time step is
``[residual, trend, seasonal, raw]`` for each channel. A 1-D U-Net with skip
connections (:class:`jtsgen.nn.unet.UNet1D`) outputs one logit per step; it is
trained with a label-weighted binary cross-entropy in which anomalous steps
weigh ``pos_weight`` (default: ``n_normal / n_anomalous`` of the training labels,
i.e. the inverse positive rate, capped at ``max_pos_weight``). The anomaly
score of a step is its logit. With ``replicas = K > 1``, K U-Nets from K keys train
side by side as one vmapped program (:func:`jtsgen.train.fit_ensemble`) and the score
is their mean logit (a seed ensemble: less variance from the initialisation and
the batch order).

The decomposition is preprocessing in NumPy; training runs as jitted, fused
steps on the precomputed channels. (RobustTAD's own time/frequency-domain
augmentations are not part of this implementation.)

Shapes: ``x_btc [B, T, C]``, ``y_bt [B, T]``, scores ``[B, T]``.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jtsgen.data.validate import check_window_fits, check_window_labels, check_windows
from jtsgen.detect import decompose
from jtsgen.detect.base import Fitted, best_threshold
from jtsgen.errors import InputError
from jtsgen.nn.unet import UNet1D
from jtsgen.train import adam, create_state, fit_ensemble, init_replicas, sample_rows
from jtsgen.train import fit as fit_state


@dataclasses.dataclass(frozen=True)
class Config:
    """RobustTAD hyper-parameters (static).

    Defaults were chosen by validation F1 on 20% of the training series of a
    Synthetic Sines set (``freq_range=(0, 0.1)``), never on test data: U-Net width
    8/16, kernel 3/5, 400/600/800 steps. ``pos_weight=None``: inverse positive rate.
    """

    trend_window: int = 21
    min_period: int = 4
    min_acf: float = 0.3
    # "median": moving-median trend, per-phase median seasonal; "stl": statsmodels'
    # robust STL where a period is found (jtsgen.detect.decompose)
    decomposition: str = "median"
    base: int = 8
    depth: int = 3
    kernel_size: int = 5
    batch_size: int = 32
    num_steps: int = 600
    steps_per_call: int = 50
    learning_rate: float = 2e-3
    pos_weight: float | None = None
    max_pos_weight: float = 50.0
    score_batch: int = 256
    replicas: int = 1  # > 1: a vmapped seed ensemble, scores averaged

    def __post_init__(self):
        for name in ("trend_window", "min_period", "base", "depth", "kernel_size",
                     "batch_size", "num_steps", "steps_per_call", "score_batch", "replicas"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"config.{name}", f"must be >= 1, got {getattr(self, name)}")
        if self.decomposition not in decompose.METHODS:
            raise InputError("config.decomposition", f"must be one of {decompose.METHODS}, "
                                                     f"got {self.decomposition!r}")
        if self.learning_rate <= 0 or self.max_pos_weight <= 0:
            raise InputError("config", "learning_rate and max_pos_weight must be > 0")
        if self.pos_weight is not None and self.pos_weight <= 0:
            raise InputError("config.pos_weight", f"must be > 0 or None, got {self.pos_weight}")


def features(x_btc: np.ndarray, config: Config) -> np.ndarray:
    """Network inputs ``[B, T, 4C]``: residual, trend, seasonal, raw per channel."""
    return decompose.channels(x_btc, trend_window=config.trend_window,
                              min_period=config.min_period, min_acf=config.min_acf,
                              method=config.decomposition)


def positive_weight(y_bt: np.ndarray, config: Config) -> float:
    """``config.pos_weight``, or ``n_normal / n_anomalous`` capped at ``max_pos_weight``."""
    if config.pos_weight is not None:
        return float(config.pos_weight)
    n_pos = float(np.sum(y_bt))
    ratio = (y_bt.size - n_pos) / max(n_pos, 1.0)
    return float(np.clip(ratio, 1.0, config.max_pos_weight))


def _net(config: Config) -> UNet1D:
    return UNet1D(config.base, config.depth, config.kernel_size)


def step_weights(y_bt: np.ndarray, pos_weight: float) -> np.ndarray:
    """Per-step loss weights ``[B, T]``: ``pos_weight`` on anomalous steps, 1 elsewhere."""
    return (1.0 + (pos_weight - 1.0) * np.asarray(y_bt, np.float32)).astype(np.float32)


def weighted_bce(logits_bt: jax.Array, y_bt: jax.Array, w_bt: jax.Array) -> jax.Array:
    """Weighted mean of the per-step sigmoid BCE (weights ``w_bt``, normalised by their sum)."""
    return jnp.sum(w_bt * optax.sigmoid_binary_cross_entropy(logits_bt, y_bt)) / jnp.sum(w_bt)


@functools.cache
def make_loss_fn(config: Config):
    """``(params, (f_btk, y_bt, w_bt), key) -> (loss, metrics)`` on precomputed features.

    Cached per config; the class weights travel in the data, so every ``fit`` with
    the same config and shapes reuses one compiled training program.
    """
    net = _net(config)

    def loss_fn(params, batch, key):
        del key
        f_btk, y_bt, w_bt = batch
        return weighted_bce(net.apply(params, f_btk), y_bt, w_bt), {}

    return loss_fn


@functools.partial(jax.jit, static_argnames="config")
def _score_chunk(params, f_btk: jax.Array, config: Config) -> jax.Array:
    return _net(config).apply(params, f_btk)


@functools.partial(jax.jit, static_argnames="config")
def _ensemble_score_chunk(params_k, f_btk: jax.Array, config: Config) -> jax.Array:
    """The mean logit ``[B, T]`` of K stacked parameter sets (leading axis K)."""
    return jax.vmap(lambda p: _net(config).apply(p, f_btk))(params_k).mean(axis=0)


def make_score_fn(params, config: Config):
    """``x_btc -> logits_bt`` (numpy): decomposition, then the jitted U-Net in chunks
    (with ``replicas > 1``: ``params`` stacked over K, their mean logit)."""
    chunk_fn = _ensemble_score_chunk if config.replicas > 1 else _score_chunk

    def score(x_btc: np.ndarray) -> np.ndarray:
        check_window_fits(config.trend_window, x_btc.shape[1], "config.trend_window")
        f = features(x_btc, config)
        chunks = [chunk_fn(params, jnp.asarray(f[i:i + config.score_batch]), config)
                  for i in range(0, f.shape[0], config.score_batch)]
        return np.concatenate([np.asarray(c) for c in chunks], axis=0)

    return score


def fit(key: jax.Array, x_btc, y_bt, config: Config = Config(), *, progress: bool = False
        ) -> Fitted:
    """Trains RobustTAD on ``(x_btc, y_bt)``; the threshold is the best-F1 one on that data.

    ``info``: ``history`` (per-step ``loss``, ``grad_norm``), ``pos_weight``, ``params``.
    """
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    check_window_fits(config.trend_window, x.shape[1], "config.trend_window")
    f = features(x, config)
    pos_weight = positive_weight(y, config)
    data = (jnp.asarray(f), jnp.asarray(y), jnp.asarray(step_weights(y, pos_weight)))
    x0 = jnp.zeros((1,) + f.shape[1:], jnp.float32)
    if config.replicas > 1:
        params, history = _fit_replicas(key, data, x0, config)
    else:
        state = create_state(jax.jit(_net(config).init)(key, x0), adam(config.learning_rate))
        result = fit_state(
            state, data, jax.random.fold_in(key, 1),
            loss_fn=make_loss_fn(config), sampler=sample_rows(config.batch_size),
            num_steps=config.num_steps, steps_per_call=config.steps_per_call,
            progress=progress, desc="robusttad",
        )
        params, history = result.state.params, result.history
    score_fn = make_score_fn(params, config)
    threshold = best_threshold(score_fn(x), y)
    info = {"history": history, "pos_weight": pos_weight, "params": params}
    return Fitted("RobustTAD", score_fn, threshold, info)


def _fit_replicas(key: jax.Array, data, x0: jax.Array, config: Config):
    """``config.replicas`` U-Nets, replica ``k`` from ``split(key, K)[k]``, trained as one
    vmapped program; returns the stacked parameters and the ``[K, steps]`` history."""
    keys = jax.random.split(key, config.replicas)
    tx = adam(config.learning_rate)
    states = init_replicas(lambda k: create_state(_net(config).init(k, x0), tx), keys)
    states, history = fit_ensemble(
        states, data, jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys),
        loss_fn=make_loss_fn(config), sampler=sample_rows(config.batch_size),
        num_steps=config.num_steps, steps_per_call=config.steps_per_call)
    return states.params, history
