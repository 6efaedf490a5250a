"""SR-CNN (Ren et al., KDD 2019): a 1-D CNN over Spectral Residual saliency maps.

Features per step: the saliency of every channel, divided by its mean over the
series (scale-free, as the paper's SR score relates a point to the average
saliency), and optionally the raw values. A fully convolutional net (``SAME``
padding, dilations growing by ``dilation_growth``) maps features ``[B, T, F]`` to
one logit per step; the score is its sigmoid.

Training (through :func:`jtsgen.train.fit`, scan-fused jitted steps): sigmoid
binary cross-entropy against the per-step labels of the training series, with
``pos_weight`` on anomalous steps. As in the paper, anomalies can also be injected
on the fly (inside the compiled step, so the saliency is recomputed for the
changed series): with probability ``inject_prob`` a series gets ``inject_points``
points moved by ``±U[inject_scale]`` times its standard deviation, and those steps
are labelled 1. (The paper's injection ``x + (x̄ + mean)(1 + var)·r`` vanishes on
zero-mean series such as Synthetic Sines, hence the std-relative magnitude.)

Context and training length follow the training data (:func:`resolve`, jtsgen's
addition): layers (the last width repeated, dilations still growing) are added until
the receptive field covers the median length of the training labels' runs (at most
the window), so a level shift of 100+ steps is seen with its edges rather than as a
plateau; and the steps are raised to at least ``min_epochs`` passes over the training
windows. Short anomalies and small sets leave the configured network and steps as
they are. ``fit_context=False`` and ``min_epochs=0`` turn the two off.

With ``replicas = K > 1``, K nets from K keys (replica ``k`` from
``split(key, K)[k]``, as a single fit from that key) train as one vmapped program and
the score is the mean of their scores: a seed ensemble that removes most of a single
net's run-to-run spread at K times the compute (on a CPU) of one fit.

The threshold is the best-F1 threshold of the scores on the training series
(without injection). Shapes: ``x_btc`` ``[B, T, C]``, ``y_bt`` ``[B, T]``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jtsgen.data.labelled import run_lengths
from jtsgen.data.validate import check_window_fits, check_window_labels, check_windows
from jtsgen.detect.base import Fitted, best_threshold
from jtsgen.detect.spectral_residual import EPS, saliency_btc
from jtsgen.errors import InputError
from jtsgen.nn.conv import Conv1D
from jtsgen.train import adam, create_state, fit_seed_ensemble, sample_rows
from jtsgen.train import fit as train_fit


@dataclasses.dataclass(frozen=True)
class Config:
    """Static SR-CNN configuration (saliency, network, training, injection)."""

    q: int = 3
    extend: int = 5
    lookback: int = 5
    use_values: bool = True
    features: tuple[int, ...] = (32, 32, 32)
    kernel: int = 7
    dilation_growth: int = 2
    learning_rate: float = 1e-3
    batch_size: int = 64
    num_steps: int = 1000
    steps_per_call: int = 50
    pos_weight: float = 1.0
    inject_prob: float = 0.5
    inject_points: int = 2
    inject_scale: tuple[float, float] = (2.0, 5.0)
    score_chunk: int = 1024
    progress: bool = False
    fit_context: bool = True  # add layers until the field covers the median labelled run
    min_epochs: float = 5.0  # at least this many passes over the training windows
    replicas: int = 1  # > 1: a vmapped seed ensemble, scores averaged

    def __post_init__(self):
        if int(self.replicas) < 1:
            raise InputError("config.replicas", f"must be >= 1, got {self.replicas}")


class SRCNNNet(nn.Module):
    """Fully convolutional per-step classifier ``[B, T, F] -> logits [B, T]``."""

    features: tuple[int, ...]
    kernel: int
    dilation_growth: int

    @nn.compact
    def __call__(self, f_btf: jax.Array) -> jax.Array:
        h = f_btf
        for i, width in enumerate(self.features):
            h = nn.relu(Conv1D(width, self.kernel, self.dilation_growth**i, padding="same")(h))
        return nn.Dense(1)(h)[..., 0]


def _net(config: Config) -> SRCNNNet:
    return SRCNNNet(config.features, config.kernel, config.dilation_growth)


@functools.partial(jax.jit, static_argnames=("config", "n_features"))
def _init(key: jax.Array, config: Config, n_features: int):
    """Flax's default init of :class:`SRCNNNet` (length-independent parameters)."""
    return _net(config).init(key, jnp.zeros((1, 8, n_features), jnp.float32))["params"]


def receptive_field(config: Config, layers: int | None = None) -> int:
    """Steps one output sees: ``1 + (kernel - 1) * sum of the layers' dilations``
    (``layers``: that many layers instead of ``len(config.features)``)."""
    n = len(config.features) if layers is None else layers
    return 1 + (config.kernel - 1) * sum(config.dilation_growth**i for i in range(n))


def resolve(config: Config, y_bt: np.ndarray) -> Config:
    """``config`` with the depth and steps that the training labels ``[B, T]`` ask for.

    Layers (copies of the last) are added while the receptive field is shorter than
    the median labelled run (capped at ``T``); ``num_steps`` is raised to
    ``min_epochs * B / batch_size``, rounded up to whole fused calls.
    """
    y_bt = np.asarray(y_bt)
    b, t = y_bt.shape
    layers = len(config.features)
    lengths = run_lengths(y_bt)
    if config.fit_context and config.kernel > 1 and len(lengths):
        need = min(float(np.median(lengths)), t)
        while receptive_field(config, layers) < need:
            layers += 1
    features = config.features + config.features[-1:] * (layers - len(config.features))
    steps = config.num_steps
    if config.min_epochs > 0:
        calls = math.ceil(config.min_epochs * b / config.batch_size / config.steps_per_call)
        steps = max(steps, calls * config.steps_per_call)
    return dataclasses.replace(config, features=features, num_steps=steps)


def features(x_btc: jax.Array, config: Config) -> jax.Array:
    """Network input ``[B, T, F]``: mean-normalised saliency (+ raw values)."""
    sal = saliency_btc(x_btc, config.q, config.extend, config.lookback)
    sal = sal / (jnp.mean(sal, axis=1, keepdims=True) + EPS)
    return jnp.concatenate([sal, x_btc], axis=-1) if config.use_values else sal


def inject(key: jax.Array, x_btc: jax.Array, y_bt: jax.Array, config: Config):
    """Adds point anomalies to a random subset of series; returns ``(x_btc, y_bt)``."""
    b, t, c = x_btc.shape
    p = config.inject_points
    u = jax.random.uniform(key, (b, 1 + p + 2 * p * c))  # one draw: cheap to compile
    has_b = u[:, 0] < config.inject_prob
    pos_bp = jnp.minimum(jnp.floor(u[:, 1:1 + p] * t).astype(jnp.int32), t - 1)
    lo, hi = config.inject_scale
    mag_bpc = lo + (hi - lo) * u[:, 1 + p:1 + p + p * c].reshape(b, p, c)
    sign_bpc = jnp.where(u[:, 1 + p + p * c:].reshape(b, p, c) < 0.5, -1.0, 1.0)
    onehot_bpt = jax.nn.one_hot(pos_bp, t, dtype=x_btc.dtype) * has_b[:, None, None]
    std_bc = jnp.std(x_btc, axis=1) + EPS
    delta_btc = jnp.einsum("bpt,bpc->btc", onehot_bpt, sign_bpc * mag_bpc * std_bc[:, None])
    y_new = jnp.maximum(y_bt, jnp.max(onehot_bpt, axis=1))
    return x_btc + delta_btc, y_new


@functools.lru_cache(maxsize=16)
def make_loss_fn(config: Config):
    """``loss_fn(params, batch, key)`` with ``batch = (x_btc, y_bt)``: weighted sigmoid BCE.

    Cached per config, so repeated fits share one compiled program (see
    :func:`jtsgen.train.loop.compiled_fused`).
    """
    net = _net(config)

    def loss_fn(params, batch, key):
        x, y = batch
        if config.inject_prob > 0 and config.inject_points > 0:
            x, y = inject(key, x, y, config)
        logits = net.apply({"params": params}, features(x, config))
        weight = 1.0 + (config.pos_weight - 1.0) * y
        loss = jnp.mean(weight * optax.sigmoid_binary_cross_entropy(logits, y))
        return loss, {"pos_frac": jnp.mean(y)}

    return loss_fn


@functools.partial(jax.jit, static_argnames="config")
def _score(params, x_btc, config: Config) -> jax.Array:
    """Scores ``[B, T]``; with ``config.replicas > 1``, ``params`` are stacked over K and
    the score is the mean of the K nets' scores."""
    net = _net(config)

    def one_net(p):
        def one(x_tc):
            return jax.nn.sigmoid(net.apply({"params": p}, features(x_tc[None], config)))[0]

        return jax.lax.map(one, x_btc, batch_size=min(config.score_chunk, x_btc.shape[0]))

    return jax.vmap(one_net)(params).mean(axis=0) if config.replicas > 1 else one_net(params)


def _train(key, x, y, config: Config):
    """Trained parameters (stacked over K with ``replicas > 1``) and the loss history."""
    n_features = x.shape[2] * (2 if config.use_values else 1)
    tx = adam(config.learning_rate)
    data, kw = (jnp.asarray(x), jnp.asarray(y)), dict(
        loss_fn=make_loss_fn(config), sampler=sample_rows(config.batch_size),
        num_steps=config.num_steps, steps_per_call=config.steps_per_call)
    if config.replicas > 1:
        return fit_seed_ensemble(key, config.replicas,
                                 lambda k: _init(k, config, n_features), tx, data, **kw)
    init_key, train_key = jax.random.split(key)
    state = create_state(_init(init_key, config, n_features), tx)
    result = train_fit(state, data, train_key, progress=config.progress, desc="sr_cnn", **kw)
    return result.state.params, result.history


def fit(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """Trains SR-CNN on ``(x_btc, y_bt)`` and picks the best-F1 threshold on them.

    ``info``: ``params``, ``history`` (per-step loss; ``[K, steps]`` leaves for an
    ensemble), ``config`` (as :func:`resolve` sets it for these labels).
    """
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    config = resolve(config, y)
    check_window_fits(config.lookback + 1, x.shape[1], "config.lookback")
    params, history = _train(key, x, y, config)

    def score(x_new):
        if x_new.shape[2] != x.shape[2]:
            raise InputError("x_btc", f"has {x_new.shape[2]} channels; fitted on {x.shape[2]}")
        check_window_fits(config.lookback + 1, x_new.shape[1], "config.lookback")
        return _score(params, jnp.asarray(x_new), config)

    threshold = best_threshold(score(x), y)
    info = {"params": params, "history": history, "config": config}
    return Fitted("sr_cnn", score, threshold, info)
