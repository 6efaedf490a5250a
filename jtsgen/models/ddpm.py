"""DDPM for time series (seed 000, Part 2), with optional per-step label conditioning.

Schedule: ``betas = linspace(beta_start, beta_end, T)`` (seed: 1e-4 .. 0.02, T = 50),
``alphas = 1 - betas``, ``alpha_bars = cumprod(alphas)``; every array the forward
and reverse processes need is precomputed once per config (:func:`make_schedule`).

* forward: ``q_sample(x0, t, noise) = sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise``;
* training: ``t ~ U{0..T-1}``, loss ``mean((eps_θ(x_t, t) - noise)^2)`` (seed);
* reverse (seed's update): ``x <- (x - (1-α_t)/sqrt(1-ᾱ_t) eps_θ) / sqrt(α_t)``,
  plus ``sqrt(β_t) z_t`` for ``t > 0``; all ``T`` steps are one ``lax.scan`` in one
  jit. The noise is counter-based (:mod:`jtsgen.nn.noise`): with ``seed =
  seed_from_key(key)``, ``x_T = counter_normal(seed, T, shape)`` and step ``t`` adds
  ``z_t = counter_normal(seed, t, shape)``, drawn for all steps before the loop when
  they are at most :data:`PREDRAW_MAX_ELEMENTS` numbers, else inside the scan body.

Denoisers (:mod:`jtsgen.nn.denoisers`): ``"mlp"`` (the seed's network, time
embedding ``sin(t/T·2π)``) or ``"temporal"`` (dilated conv residual blocks,
sinusoidal embedding); time embeddings are precomputed tables ``[T, ...]``.

Conditioning (``conditional=True``): labels ``y_bt`` in {0, 1} are an extra input;
in training each series' labels are replaced by :data:`NULL_LABEL` with
probability ``p_uncond``; sampling with guidance ``w`` uses
``eps = (1 + w) eps(x, y) - w eps(x, ∅)`` (classifier-free guidance).

Shapes: ``x_btc [B, L, C]``, ``y_bt [B, L]``, ``t_b [B]`` int.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.errors import InputError
from jtsgen.nn.denoisers import (
    MLPDenoiser,
    TemporalDenoiser,
    seed_time_embedding,
    sinusoidal_embedding,
)
from jtsgen.nn.noise import counter_normal, counter_normal_steps, element_hash, seed_from_key

NULL_LABEL = -1.0  # label value meaning "unconditional" (labels are 0 or 1)


# Chains whose noise has at most this many numbers (16 MB of float32) draw it before
# the loop in one call; longer or wider ones draw each step's inside the loop body.
PREDRAW_MAX_ELEMENTS = 1 << 22


@dataclasses.dataclass(frozen=True)
class DDPMConfig:
    """Static configuration (defaults: seed 000's MLP diffusion)."""

    seq_len: int = 100
    channels: int = 1
    num_timesteps: int = 50
    beta_start: float = 1e-4
    beta_end: float = 0.02
    denoiser: Literal["mlp", "temporal"] = "mlp"
    hidden: int = 32  # MLP
    width: int = 64  # temporal: conv channels
    blocks: int = 4  # temporal: residual blocks
    kernel: int = 3  # temporal: conv kernel size
    emb_dim: int = 32  # temporal: sinusoidal time features
    conditional: bool = False
    p_uncond: float = 0.1
    guidance: float = 0.0
    learning_rate: float = 1e-3

    def __post_init__(self):
        for name in ("seq_len", "channels", "num_timesteps", "hidden", "width", "blocks",
                     "kernel", "emb_dim"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(name, f"must be a positive integer, got {value!r}")
        if self.denoiser not in ("mlp", "temporal"):
            raise InputError("denoiser", f"must be 'mlp' or 'temporal', got {self.denoiser!r}")
        if not 0.0 < self.beta_start <= self.beta_end < 1.0:
            raise InputError("beta_start/beta_end", "need 0 < beta_start <= beta_end < 1")
        if not 0.0 <= self.p_uncond <= 1.0:
            raise InputError("p_uncond", f"must lie in [0, 1], got {self.p_uncond}")
        if self.emb_dim % 2:
            raise InputError("emb_dim", f"must be even, got {self.emb_dim}")


class Schedule(NamedTuple):
    """Precomputed float32 arrays ``[T]``; ``sigmas[0] = 0`` (no noise at the last step)."""

    betas: np.ndarray
    alphas: np.ndarray
    alpha_bars: np.ndarray
    sqrt_alpha_bars: np.ndarray
    sqrt_one_minus_alpha_bars: np.ndarray
    sqrt_alphas: np.ndarray
    eps_coefs: np.ndarray  # (1 - α_t) / sqrt(1 - ᾱ_t)
    sigmas: np.ndarray  # sqrt(β_t) for t > 0, 0 for t = 0


@functools.lru_cache(maxsize=32)
def make_schedule(num_timesteps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """The linear schedule and everything derived from it, computed once per setting."""
    f32 = np.float32
    betas = np.linspace(beta_start, beta_end, num_timesteps, dtype=f32)
    alphas = f32(1) - betas
    alpha_bars = np.cumprod(alphas, dtype=f32)
    sigmas = np.sqrt(betas)
    sigmas[0] = 0.0
    arrays = (betas, alphas, alpha_bars, np.sqrt(alpha_bars), np.sqrt(f32(1) - alpha_bars),
              np.sqrt(alphas), (f32(1) - alphas) / np.sqrt(f32(1) - alpha_bars), sigmas)
    for a in arrays:
        a.setflags(write=False)
    return Schedule(*arrays)


def schedule(config: DDPMConfig) -> Schedule:
    """:func:`make_schedule` for ``config``."""
    return make_schedule(config.num_timesteps, config.beta_start, config.beta_end)


@functools.lru_cache(maxsize=32)
def _time_table(denoiser: str, num_timesteps: int, emb_dim: int) -> np.ndarray:
    t = np.arange(num_timesteps)
    if denoiser == "mlp":
        table = seed_time_embedding(t, num_timesteps)
    else:
        table = sinusoidal_embedding(t, emb_dim)
    table.setflags(write=False)
    return table


def time_table(config: DDPMConfig) -> np.ndarray:
    """Time embeddings of every step: ``[T]`` (MLP) or ``[T, emb_dim]`` (temporal)."""
    return _time_table(config.denoiser, config.num_timesteps, config.emb_dim)


def build_denoiser(config: DDPMConfig):
    """The Linen denoiser ``(x_btc, temb, y_bt | None) -> eps_btc`` named by ``config``."""
    if config.denoiser == "mlp":
        return MLPDenoiser(config.hidden)
    return TemporalDenoiser(config.channels, config.width, config.blocks, config.kernel)


def init_params(key: jax.Array, config: DDPMConfig) -> Any:
    """Denoiser parameters for series ``[*, seq_len, channels]``."""
    return _init_params(key, config)


@functools.partial(jax.jit, static_argnames=("config",))
def _init_params(key: jax.Array, config: DDPMConfig) -> Any:
    # Jitted: one compiled program instead of one per initialiser op.
    x = jnp.zeros((1, config.seq_len, config.channels), jnp.float32)
    y = jnp.zeros((1, config.seq_len), jnp.float32) if config.conditional else None
    temb = jnp.asarray(time_table(config)[:1])
    return build_denoiser(config).init(key, x, temb, y)["params"]


def q_sample(x0: jax.Array, t_b: jax.Array, noise: jax.Array, sched: Schedule) -> jax.Array:
    """Forward process ``sqrt(ᾱ_t) x0 + sqrt(1 - ᾱ_t) noise``; ``x0 [B, ...]``, ``t_b [B]``."""
    shape = (-1,) + (1,) * (x0.ndim - 1)
    a = jnp.asarray(sched.sqrt_alpha_bars)[t_b].reshape(shape)
    b = jnp.asarray(sched.sqrt_one_minus_alpha_bars)[t_b].reshape(shape)
    return a * x0 + b * noise


def drop_labels(y_bt: jax.Array, key: jax.Array, p_uncond: float) -> jax.Array:
    """Replaces each series' labels by :data:`NULL_LABEL` with probability ``p_uncond``."""
    drop_b = jax.random.bernoulli(key, p_uncond, (y_bt.shape[0],))
    return jnp.where(drop_b[:, None], jnp.float32(NULL_LABEL), y_bt.astype(jnp.float32))


def _split_batch(config: DDPMConfig, batch) -> tuple[jax.Array, jax.Array | None]:
    x, y = (batch if isinstance(batch, (tuple, list)) else (batch, None))
    if x.ndim != 3 or x.shape[1:] != (config.seq_len, config.channels):
        raise InputError("batch", f"expected x [B, {config.seq_len}, {config.channels}], "
                                  f"got {x.shape}")
    if config.conditional and (y is None or y.shape != x.shape[:2]):
        raise InputError("batch", "a conditional DDPM needs batches (x [B, L, C], y [B, L])")
    return x, (y if config.conditional else None)


@functools.cache
def make_loss_fn(config: DDPMConfig):
    """``loss_fn(params, batch, key) -> (loss, {})``; batch ``x_btc`` or ``(x_btc, y_bt)``.

    Cached per config, so every :func:`jtsgen.train.fit` of one config shares a program.
    """
    model, sched, table = build_denoiser(config), schedule(config), time_table(config)

    def loss_fn(params, batch, key):
        x, y = _split_batch(config, batch)
        k_t, k_noise, k_drop = jax.random.split(key, 3)
        t_b = jax.random.randint(k_t, (x.shape[0],), 0, config.num_timesteps)
        noise = jax.random.normal(k_noise, x.shape, jnp.float32)
        if y is not None:
            y = drop_labels(y, k_drop, config.p_uncond)
        pred = model.apply({"params": params}, q_sample(x, t_b, noise, sched),
                           jnp.asarray(table)[t_b], y)
        return jnp.mean((pred - noise) ** 2), {}

    return loss_fn


def reverse_chain(params, x_T: jax.Array, noise: jax.Array, config: DDPMConfig,
                  labels_bt: jax.Array | None = None, guidance: float = 0.0,
                  predraw_max: int = PREDRAW_MAX_ELEMENTS) -> jax.Array:
    """Runs the reverse chain from ``x_T [n, L, C]`` as one ``lax.scan``; returns ``x0``.

    ``noise`` is either a tensor ``[T, n, L, C]`` (``noise[t]`` is added at step
    ``t``; ignored at ``t = 0``) or a ``[2]`` uint32 seed, in which case step ``t``
    adds ``counter_normal(seed, t, x_T.shape)`` (:mod:`jtsgen.nn.noise`): drawn for
    all steps in one call before the loop when that is at most ``predraw_max``
    numbers (one large kernel instead of one small one per step: ~10 % of the
    chain at batch 16), otherwise inside the scan body, with the step-independent
    half of the hash computed once. Both give the same noise. ``guidance`` (a
    static float) is the classifier-free weight ``w``.
    """
    model, s = build_denoiser(config), schedule(config)
    n = x_T.shape[0]
    y = labels_bt
    if config.conditional and y is None:
        y = jnp.full((n, config.seq_len), NULL_LABEL, jnp.float32)
    apply = lambda x, e, y: model.apply({"params": params}, x, e, y)  # noqa: E731

    def eps_fn(x, temb):
        temb_b = jnp.broadcast_to(temb, (n, *temb.shape))
        if y is None or labels_bt is None or guidance == 0.0:
            return apply(x, temb_b, y)
        null = jnp.full_like(y, NULL_LABEL)
        both = apply(jnp.concatenate([x, x]), jnp.concatenate([temb_b, temb_b]),
                     jnp.concatenate([y, null]))
        eps_cond, eps_uncond = both[:n], both[n:]
        return (1.0 + guidance) * eps_cond - guidance * eps_uncond

    seeded = noise.ndim == 1
    steps = jnp.arange(config.num_timesteps, dtype=jnp.int32)
    if seeded and config.num_timesteps * x_T.size <= predraw_max:
        noise, seeded = counter_normal_steps(noise, steps, x_T.shape, x_T.dtype), False
    element = element_hash(noise, x_T.shape) if seeded else None

    def body(x, inp):
        coef, inv_sqrt_alpha, sigma, temb, z_or_t = inp
        z = counter_normal(noise, z_or_t, x.shape, x.dtype, element) if seeded else z_or_t
        return (x - coef * eps_fn(x, temb)) * inv_sqrt_alpha + sigma * z, None

    xs = (s.eps_coefs, 1.0 / s.sqrt_alphas, s.sigmas, time_table(config),
          steps if seeded else noise)
    x0, _ = jax.lax.scan(body, x_T, jax.tree.map(jnp.asarray, xs), reverse=True)
    return x0


@functools.partial(jax.jit, static_argnames=("n", "config", "guidance"))
def _sample(params, key, labels_bt, *, n: int, config: DDPMConfig, guidance: float):
    seed = seed_from_key(key)
    x_T = counter_normal(seed, config.num_timesteps, (n, config.seq_len, config.channels))
    return reverse_chain(params, x_T, seed, config, labels_bt, guidance)


def sample(params, key: jax.Array, n: int, config: DDPMConfig,
           labels_bt: jax.Array | None = None, guidance: float | None = None) -> jax.Array:
    """Draws ``n`` series ``[n, L, C]`` (jitted; see the module docstring for the noise).

    ``labels_bt [n, L]`` conditions a conditional model (omitted: unconditional
    samples); ``guidance`` defaults to ``config.guidance``.
    """
    if not isinstance(n, int) or n < 1:
        raise InputError("n", f"must be a positive integer, got {n!r}")
    if labels_bt is not None:
        if not config.conditional:
            raise InputError("labels_bt", "this DDPM is unconditional (config.conditional=False)")
        labels_bt = jnp.asarray(labels_bt, jnp.float32)
        if labels_bt.shape != (n, config.seq_len):
            raise InputError("labels_bt", f"expected shape ({n}, {config.seq_len}), "
                                          f"got {labels_bt.shape}")
    guidance = float(config.guidance if guidance is None else guidance)
    return _sample(params, key, labels_bt, n=n, config=config, guidance=guidance)
