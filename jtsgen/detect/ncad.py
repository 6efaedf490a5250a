"""NCAD: Neural Contextual Anomaly Detection (Carmona et al., IJCAI 2022).

A window of ``L = context + suspect`` steps is embedded twice by the same
encoder: the whole window (``z_full``) and its first ``context`` steps
(``z_ctx``). The anomaly score of the window is ``d = ||z_full - z_ctx||_2``;
``exp(-d)`` is read as the probability that the suspect part is normal, and the
contextual hypersphere loss is the binary cross-entropy of that probability,
``(1 - y) * d - y * log(1 - exp(-d))``, with ``y`` = 1 when the suspect part
holds an anomalous step (soft after mixup). Training batches are augmented on
device (:mod:`jtsgen.detect.ncad_augment`): point-outlier injection, contextual
outlier exposure and window mixup.

Encoder: causal dilated TCN (:class:`jtsgen.nn.tcn.TCN`) -> max-pooling over
the window's steps -> linear embedding. Because the TCN is causal, its per-step
features are computed once per series and every window is a slice of them
("rolling context"): the window ending at step ``e`` pools steps
``e-L+1 .. e`` (full) and ``e-L+1 .. e-suspect`` (context). The series is
mirrored on the left by ``L - 1`` steps so every step has a full window. Training
uses the same computation, so all ``T`` windows of a series enter the loss.

Labelled anomalies longer than the suspect part break NCAD's premise that the
context is normal: a window deep inside a long labelled segment has an anomalous
context that looks like its suspect part, yet is labelled 1. ``clean_context``
leaves such windows out of the loss and their steps out of the threshold search
(:func:`context_weights`): ``"any"`` every window whose context holds a labelled
step (weight ``1 - max y`` over the context), ``"full"`` only those whose whole
context is labelled (weight ``1 - min y``: no normal step left to contrast with;
the default); ``"none"`` keeps every window. Measured in docs/detectors.md (mean of
2 runs, F1 none -> full): AIOps KPI, whose training labels are mostly segments
longer than 48 steps, 0.109 -> 0.158; Synthetic Sines 0.693 -> 0.706; NAB
realTraffic 0.417 -> 0.401 (spread 0.06). ``"any"`` lifts KPI to 0.19 but drops
Sines (level shifts of 20-60 steps) to 0.40.

Scores: the window ending at ``e`` scores its suspect steps ``e-suspect+1 .. e``;
the score of step ``t`` is the mean score of the (up to ``suspect``) windows
whose suspect part covers ``t``. With ``suspect = 1`` the score of step ``t`` is
the distance of the window ending at ``t``.

With ``replicas = K > 1``, K encoders from K keys (replica ``k`` from
``split(key, K)[k]``, as a single fit from that key) train as one vmapped program and
a step's score is the mean of their scores (a seed ensemble).

Shapes: ``x_btc [B, T, C]``, ``y_bt [B, T]``, scores ``[B, T]``.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.data.validate import check_window_fits, check_window_labels, check_windows
from jtsgen.detect import ncad_augment
from jtsgen.detect.base import Fitted, best_threshold
from jtsgen.errors import InputError
from jtsgen.nn.lstm import Dense
from jtsgen.nn.tcn import TCN
from jtsgen.train import adam, create_state, fit_seed_ensemble, sample_rows
from jtsgen.train import fit as fit_state

CLEAN_CONTEXT = ("none", "any", "full")


@dataclasses.dataclass(frozen=True)
class Config:
    """NCAD hyper-parameters (static).

    Defaults were chosen by validation F1 on 20% of the training series of a
    500-series Synthetic Sines set (``freq_range=(0, 0.1)``), never on test data:
    suspect 1/8/16/32, context 48/96, 400/800 steps, learning rate 2e-3/5e-3,
    batch 32/64, mixup on/off, COE 0.2/0.5 with pois 0.5/0.8.
    """

    context: int = 48
    suspect: int = 8
    features: int = 32
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    embedding: int = 16
    batch_size: int = 32
    num_steps: int = 800
    steps_per_call: int = 50
    learning_rate: float = 2e-3
    pois_prob: float = 0.5
    pois_points: int = 2
    pois_magnitude: tuple[float, float] = (1.0, 3.0)
    coe_prob: float = 0.2
    coe_length: tuple[int, int] = (1, 20)
    mixup_prob: float = 0.2
    mixup_alpha: float = 0.2
    score_batch: int = 256
    clean_context: str = "full"  # "none", "any" or "full" (see the module docstring)
    replicas: int = 1  # > 1: a vmapped seed ensemble, scores averaged

    def __post_init__(self):
        for name in ("context", "suspect", "features", "kernel_size", "embedding",
                     "batch_size", "num_steps", "steps_per_call", "pois_points", "score_batch",
                     "replicas"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"config.{name}", f"must be >= 1, got {getattr(self, name)}")
        for name in ("pois_prob", "coe_prob", "mixup_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"config.{name}", f"must lie in [0, 1], got {getattr(self, name)}")
        if self.clean_context not in CLEAN_CONTEXT:
            raise InputError("config.clean_context", f"must be one of {CLEAN_CONTEXT}, got "
                             f"{self.clean_context!r}")
        if not 0.0 < self.pois_magnitude[0] <= self.pois_magnitude[1]:
            raise InputError("config.pois_magnitude", f"need 0 < low <= high, got "
                             f"{self.pois_magnitude}")
        if not 1 <= self.coe_length[0] <= self.coe_length[1]:
            raise InputError("config.coe_length", f"need 1 <= low <= high, got {self.coe_length}")
        if self.mixup_alpha <= 0 or self.learning_rate <= 0:
            raise InputError("config", "mixup_alpha and learning_rate must be > 0")

    @property
    def window(self) -> int:
        """Window length ``context + suspect``."""
        return self.context + self.suspect


def _sliding_max(h_btd: jax.Array, width: int, count: int) -> jax.Array:
    """``out[:, j] = max(h[:, j : j + width])`` for ``j < count``: ``[B, count, D]``.

    Sparse-table doubling (``log2(width)`` elementwise maxima of shifted slices):
    unlike ``lax.reduce_window``, whose gradient is a slow select-and-scatter on
    CPU, this differentiates as cheaply as it runs.
    """
    span, m = 1, h_btd
    while 2 * span <= width:
        m = jnp.maximum(m[:, :-span], m[:, span:])
        span *= 2
    return jnp.maximum(m[:, :count], m[:, width - span:width - span + count])


class NCADNet(nn.Module):
    """Mirrored series ``[B, L-1+T, C]`` -> ``(z_full, z_ctx)``, each ``[B, T, E]``."""

    config: Config

    @nn.compact
    def __call__(self, xpad_btc: jax.Array):
        cfg = self.config
        length = xpad_btc.shape[1] - (cfg.window - 1)
        h_btd = TCN(cfg.features, cfg.kernel_size, cfg.dilations, name="tcn")(xpad_btc)
        full_btd = _sliding_max(h_btd, cfg.window, length)
        ctx_btd = _sliding_max(h_btd, cfg.context, length)
        embed = Dense(cfg.embedding, name="embed")
        return embed(full_btd), embed(ctx_btd)


def _pad_left(x_btc: jax.Array, config: Config) -> jax.Array:
    return jnp.pad(x_btc, ((0, 0), (config.window - 1, 0), (0, 0)), mode="reflect")


def window_distances(params, x_btc: jax.Array, config: Config) -> jax.Array:
    """Distance ``d[b, e]`` of the window ending at step ``e``: ``[B, T]``."""
    z_full, z_ctx = NCADNet(config).apply(params, _pad_left(x_btc, config))
    return jnp.sqrt(jnp.sum(jnp.square(z_full - z_ctx), axis=-1) + 1e-8)


def window_labels(y_bt: jax.Array, suspect: int) -> jax.Array:
    """Label of the window ending at ``e``: max of ``y`` over its suspect steps, ``[B, T]``."""
    return jax.lax.reduce_window(y_bt, 0.0, jax.lax.max, (1, suspect), (1, 1),
                                 ((0, 0), (suspect - 1, 0)))


def context_weights(y_bt: jax.Array, config: Config) -> jax.Array:
    """Weight ``[B, T]`` of the window ending at ``e`` under ``config.clean_context``
    (labels mirrored on the left as the series is): ``"any"``: ``1 - max y`` over its
    context steps (1 when the context is normal); ``"full"``: ``1 - min y`` (0 only
    when every context step is labelled); ``"none"``: 1."""
    if config.clean_context == "none":
        return jnp.ones_like(y_bt)
    sign = 1.0 if config.clean_context == "any" else -1.0  # min y = -max(-y)
    ypad = jnp.pad(y_bt, ((0, 0), (config.window - 1, 0)), mode="reflect")[:, :, None]
    return 1.0 - sign * _sliding_max(sign * ypad, config.context, y_bt.shape[1])[:, :, 0]


def step_scores(d_bt: jax.Array, suspect: int) -> jax.Array:
    """Per-step score: mean distance of the windows whose suspect part covers the step."""
    length = d_bt.shape[1]
    total = jax.lax.reduce_window(d_bt, 0.0, jax.lax.add, (1, suspect), (1, 1),
                                  ((0, 0), (0, suspect - 1)))
    count_t = jnp.minimum(suspect, length - jnp.arange(length)).astype(d_bt.dtype)
    return total / count_t


def hypersphere_loss(d_bt: jax.Array, y_bt: jax.Array, w_bt: jax.Array | None = None
                     ) -> jax.Array:
    """BCE with ``P(normal) = exp(-d)``: ``(1-y) d - y log(1 - exp(-d))``, averaged
    (weighted by ``w_bt`` when given)."""
    log_anomalous = jnp.log(jnp.maximum(-jnp.expm1(-d_bt), 1e-7))
    per_bt = (1.0 - y_bt) * d_bt - y_bt * log_anomalous
    if w_bt is None:
        return jnp.mean(per_bt)
    return jnp.sum(w_bt * per_bt) / jnp.maximum(jnp.sum(w_bt), 1.0)


def init_params(key: jax.Array, config: Config, length: int, channels: int):
    """Parameters of :class:`NCADNet` for series of ``length`` steps and ``channels``."""
    dummy = jnp.zeros((1, length + config.window - 1, channels), jnp.float32)
    return jax.jit(NCADNet(config).init)(key, dummy)


@functools.cache
def make_sampler(config: Config):
    """``(key, (x_ntc, y_nt)) -> (x_btc, y_bt)``: rows, then pois, COE and mixup.

    Cached per config, so every ``fit`` with the same config and data shapes reuses
    one compiled training program (``jtsgen.train`` keys its cache on the functions).
    """
    rows = sample_rows(config.batch_size)

    def sample(key, data):
        k_rows, k_pois, k_coe, k_mix = jax.random.split(key, 4)
        x, y = rows(k_rows, data)
        x, y = ncad_augment.inject_point_outliers(
            k_pois, x, y, prob=config.pois_prob, n_points=config.pois_points,
            magnitude=config.pois_magnitude)
        x, y = ncad_augment.contextual_outlier_exposure(
            k_coe, x, y, prob=config.coe_prob, length=config.coe_length)
        return ncad_augment.window_mixup(k_mix, x, y, prob=config.mixup_prob,
                                         alpha=config.mixup_alpha)

    return sample


@functools.cache
def make_loss_fn(config: Config):
    """``(params, (x_btc, y_bt), key) -> (loss, metrics)``: the contextual hypersphere loss."""

    def loss_fn(params, batch, key):
        del key
        x_btc, y_bt = batch
        d_bt = window_distances(params, x_btc, config)
        y_win = window_labels(y_bt, config.suspect)
        w_bt = None if config.clean_context == "none" else context_weights(y_bt, config)
        return hypersphere_loss(d_bt, y_win, w_bt), {"anomalous_share": jnp.mean(y_win)}

    return loss_fn


@functools.partial(jax.jit, static_argnames="config")
def _score_chunk(params, x_btc: jax.Array, config: Config) -> jax.Array:
    def one_net(p):
        return step_scores(window_distances(p, x_btc, config), config.suspect)

    return jax.vmap(one_net)(params).mean(axis=0) if config.replicas > 1 else one_net(params)


def make_score_fn(params, config: Config):
    """``x_btc -> scores_bt`` (numpy), jitted, in chunks of ``config.score_batch`` series
    (with ``replicas > 1``: ``params`` stacked over K, the mean of their scores)."""

    def score(x_btc: np.ndarray) -> np.ndarray:
        check_window_fits(config.window, x_btc.shape[1], "config.context + config.suspect")
        chunks = [_score_chunk(params, jnp.asarray(x_btc[i:i + config.score_batch]), config)
                  for i in range(0, x_btc.shape[0], config.score_batch)]
        return np.concatenate([np.asarray(c) for c in chunks], axis=0)

    return score


def fit(key: jax.Array, x_btc, y_bt, config: Config = Config(), *, progress: bool = False
        ) -> Fitted:
    """Trains NCAD on ``(x_btc, y_bt)``; the threshold is the best-F1 one on that data.

    Returns a :class:`Fitted`; ``info``: ``history`` (per-step ``loss``, ``grad_norm``,
    ``anomalous_share`` of the augmented batches; ``[K, steps]`` for an ensemble) and
    ``params``.
    """
    x = check_windows(x_btc)
    y = check_window_labels(y_bt, x)
    check_window_fits(config.window, x.shape[1], "config.context + config.suspect")
    params, history = _train(key, x, y, config, progress)
    score_fn = make_score_fn(params, config)
    scores = score_fn(x)
    if config.clean_context != "none":  # steps whose context NCAD can contrast with
        keep = np.asarray(context_weights(jnp.asarray(y), config)) > 0.5
        if y[keep].any():
            scores, y = scores[keep], y[keep]
    threshold = best_threshold(scores, y)
    info = {"history": history, "params": params}
    return Fitted("NCAD", score_fn, threshold, info)


def _train(key, x, y, config: Config, progress: bool):
    """Trained parameters (stacked over K with ``replicas > 1``) and the history."""
    tx = adam(config.learning_rate)
    data, kw = (jnp.asarray(x), jnp.asarray(y)), dict(
        loss_fn=make_loss_fn(config), sampler=make_sampler(config),
        num_steps=config.num_steps, steps_per_call=config.steps_per_call)
    if config.replicas > 1:
        return fit_seed_ensemble(key, config.replicas,
                                 lambda k: init_params(k, config, x.shape[1], x.shape[2]),
                                 tx, data, **kw)
    init_key, train_key = jax.random.split(key)
    state = create_state(init_params(init_key, config, x.shape[1], x.shape[2]), tx)
    result = fit_state(state, data, train_key, progress=progress, desc="ncad", **kw)
    return result.state.params, result.history
