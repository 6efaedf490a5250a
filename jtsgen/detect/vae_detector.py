"""Seed 001's detector: a dense VAE over flattened windows, scored by reconstruction error.

Each series ``[T, C]`` is cut into windows of ``window`` steps (one every ``stride``
steps, plus a last window ending at ``T`` so every step is covered), flattened to
``window·C`` numbers. Encoder: dense ReLU layers ``hidden`` -> ``(mu, logvar)`` of
size ``latent``; decoder: the mirror image back to ``window·C``. Loss per window:
squared error summed over the window (a unit-variance Gaussian likelihood, the
seed's MSE up to scale) ``+ beta·KL(q(z|x) || N(0, I))``, averaged over the batch,
trained through :func:`jtsgen.train.fit`.

Scores use the deterministic reconstruction ``decode(mu)``:

* window score: mean squared error over the window's steps and features
  (:func:`score_windows`, ``[B, n_windows]``);
* step score: the squared error at that step averaged over features, then averaged
  over every window covering the step (``Fitted.score``, ``[B, T]``).

Threshold: the ``percentile`` (95th) of the reconstruction errors **on the training
series** passed to ``fit`` -- ``Fitted.threshold`` for step scores,
``info["window_threshold"]`` for window scores. Seed 001 took the 95th percentile
of the *test* errors; we use training data so that no test information reaches the
detector. ``y_bt`` is only used (and checked) when ``train_on_normal`` drops
windows that contain an anomaly from VAE training.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.data.validate import check_window_fits, check_window_labels, check_windows
from jtsgen.detect.base import Fitted
from jtsgen.errors import InputError
from jtsgen.train import adam, create_state, sample_rows
from jtsgen.train import fit as train_fit


@dataclasses.dataclass(frozen=True)
class Config:
    """Static configuration of the window VAE detector (seed 001 defaults: 50 x 10, latent 10)."""

    window: int = 50
    stride: int = 1
    latent: int = 10
    hidden: tuple[int, ...] = (256, 128)
    beta: float = 1.0
    learning_rate: float = 1e-3
    batch_size: int = 64
    num_steps: int = 2000
    steps_per_call: int = 100
    percentile: float = 95.0
    train_on_normal: bool = False
    progress: bool = False


class WindowVAE(nn.Module):
    """``x_bd [B, D] -> (recon_bd, mu_bz, logvar_bz)``; ``D = window·channels``."""

    dim: int
    hidden: tuple[int, ...]
    latent: int

    def setup(self):
        self.enc = [nn.Dense(h) for h in self.hidden]
        self.mu = nn.Dense(self.latent)
        self.logvar = nn.Dense(self.latent)
        self.dec = [nn.Dense(h) for h in reversed(self.hidden)]
        self.out = nn.Dense(self.dim)

    def encode(self, x_bd):
        h = x_bd
        for layer in self.enc:
            h = nn.relu(layer(h))
        return self.mu(h), self.logvar(h)

    def decode(self, z_bz):
        h = z_bz
        for layer in self.dec:
            h = nn.relu(layer(h))
        return self.out(h)

    def __call__(self, x_bd, key):
        mu, logvar = self.encode(x_bd)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)
        return self.decode(z), mu, logvar


def window_starts(length: int, window: int, stride: int) -> np.ndarray:
    """Start indices ``[n_windows]``: every ``stride`` steps, plus one ending at ``length``."""
    starts = np.arange(0, length - window + 1, stride)
    if starts[-1] != length - window:
        starts = np.append(starts, length - window)
    return starts.astype(np.int32)


def windows(x_btc: np.ndarray, starts: np.ndarray, window: int) -> np.ndarray:
    """``[B, T, C] -> [B, n_windows, window, C]`` (NumPy)."""
    return np.asarray(x_btc)[:, starts[:, None] + np.arange(window)[None, :]]


def init_params(key: jax.Array, config: Config, dim: int):
    """LeCun-normal kernels (``N(0, 1/fan_in)``) and zero biases, from ONE normal draw.

    Equivalent in distribution to Flax's default Dense init up to its truncation; a
    single draw compiles in a fraction of the time of one draw per layer.
    """
    net = WindowVAE(dim, config.hidden, config.latent)
    x = jax.ShapeDtypeStruct((1, dim), jnp.float32)
    shapes = jax.eval_shape(net.init, key, x, key)["params"]
    leaves, treedef = jax.tree.flatten(shapes)
    sizes = [int(np.prod(p.shape)) for p in leaves]
    flat = np.asarray(jax.random.normal(key, (sum(sizes),), jnp.float32))
    parts = np.split(flat, np.cumsum(sizes)[:-1])
    out = [jnp.asarray(a.reshape(p.shape) / np.sqrt(p.shape[0])) if len(p.shape) == 2
           else jnp.zeros(p.shape, jnp.float32) for a, p in zip(parts, leaves, strict=True)]
    return jax.tree.unflatten(treedef, out)


@functools.lru_cache(maxsize=16)
def make_loss_fn(config: Config, dim: int):
    """``loss_fn(params, x_bd, key)``: summed squared error + ``beta``·KL, batch mean.

    Cached per ``(config, dim)``, so repeated fits share one compiled program.
    """
    net = WindowVAE(dim, config.hidden, config.latent)

    def loss_fn(params, x_bd, key):
        recon, mu, logvar = net.apply({"params": params}, x_bd, key)
        rec = jnp.sum(jnp.square(recon - x_bd), axis=-1)
        kl = -0.5 * jnp.sum(1.0 + logvar - jnp.square(mu) - jnp.exp(logvar), axis=-1)
        loss = jnp.mean(rec + config.beta * kl)
        return loss, {"recon": jnp.mean(rec), "kl": jnp.mean(kl)}

    return loss_fn


def overlap_average(v_bnw: jax.Array, starts: np.ndarray, length: int) -> jax.Array:
    """Per-step mean over the windows covering each step: ``[B, n, W] -> [B, length]``.

    Window ``j`` covers steps ``starts[j] .. starts[j] + W - 1``; steps that no window
    covers get 0.
    """
    idx = jnp.asarray(starts)[:, None] + jnp.arange(v_bnw.shape[-1])[None, :]
    total = jnp.zeros((v_bnw.shape[0], length), v_bnw.dtype).at[:, idx].add(v_bnw)
    count = jnp.zeros((length,), v_bnw.dtype).at[idx].add(1.0)
    return total / jnp.maximum(count, 1.0)


@functools.partial(jax.jit, static_argnames="config")
def _window_and_step_scores(params, x_btc, config: Config):
    """Window scores ``[B, n_windows]`` and step scores ``[B, T]`` in one compiled call."""
    b, length, channels = x_btc.shape
    starts = window_starts(length, config.window, config.stride)
    idx = jnp.asarray(starts)[:, None] + jnp.arange(config.window)[None, :]
    w_bnwc = x_btc[:, idx]
    dim = config.window * channels
    net = WindowVAE(dim, config.hidden, config.latent)
    mu, _ = net.apply({"params": params}, w_bnwc.reshape(-1, dim), method=WindowVAE.encode)
    rec = net.apply({"params": params}, mu, method=WindowVAE.decode).reshape(w_bnwc.shape)
    err_bnw = jnp.mean(jnp.square(rec - w_bnwc), axis=-1)  # per window step, mean over C
    return jnp.mean(err_bnw, axis=-1), overlap_average(err_bnw, starts, length)


def _check(x_btc, config: Config) -> np.ndarray:
    x = check_windows(x_btc)
    check_window_fits(config.window, x.shape[1], "config.window")
    if config.stride < 1:
        raise InputError("config.stride", f"must be >= 1, got {config.stride}")
    return x


def _scores(params, x: np.ndarray, config: Config) -> tuple[jax.Array, jax.Array]:
    return _window_and_step_scores(params, jnp.asarray(x), config)


def score_windows(fitted: Fitted, x_btc) -> np.ndarray:
    """Window reconstruction errors ``[B, n_windows]`` (windows at :func:`window_starts`)."""
    config = fitted.info["config"]
    x = _check(x_btc, config)
    if x.shape[2] != fitted.info["channels"]:
        raise InputError("x_btc", f"has {x.shape[2]} channels; the detector was fitted on "
                                  f"{fitted.info['channels']}")
    return np.asarray(_scores(fitted.info["params"], x, config)[0])


def fit(key, x_btc, y_bt, config: Config = Config()) -> Fitted:
    """Trains the window VAE on ``x_btc`` and sets 95th-percentile training thresholds.

    ``info``: ``params``, ``config``, ``channels``, ``history``, ``window_threshold``.
    """
    x = _check(x_btc, config)
    y = check_window_labels(y_bt, x)
    length, channels = x.shape[1], x.shape[2]
    starts = window_starts(length, config.window, config.stride)
    w_bnwc = windows(x, starts, config.window)
    flat = w_bnwc.reshape(-1, config.window * channels)
    if config.train_on_normal:
        normal = ~windows(y[..., None], starts, config.window).any(axis=(2, 3)).reshape(-1)
        if not normal.any():
            raise InputError("y_bt", "train_on_normal: every training window has an anomaly")
        flat = flat[normal]
    dim = flat.shape[1]
    init_key, train_key = jax.random.split(key)
    params = init_params(init_key, config, dim)
    result = train_fit(
        create_state(params, adam(config.learning_rate)), jnp.asarray(flat), train_key,
        loss_fn=make_loss_fn(config, dim), sampler=sample_rows(config.batch_size),
        num_steps=config.num_steps, steps_per_call=config.steps_per_call,
        progress=config.progress, desc=f"vae latent={config.latent}",
    )
    params = result.state.params
    win_scores, step_scores = _scores(params, x, config)
    info = {
        "params": params, "config": config, "channels": channels, "history": result.history,
        "window_threshold": float(np.percentile(np.asarray(win_scores), config.percentile)),
    }
    threshold = float(np.percentile(np.asarray(step_scores), config.percentile))

    def score(x_new):
        x_new = _check(x_new, config)
        if x_new.shape[2] != channels:
            raise InputError("x_btc", f"has {x_new.shape[2]} channels; fitted on {channels}")
        return _scores(params, x_new, config)[1]

    return Fitted("vae_detector", score, threshold, info)
