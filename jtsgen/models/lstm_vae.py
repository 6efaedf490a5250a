"""LSTM-VAE of seed 000: LSTM encoder -> (mu, logvar); autoregressive LSTM decoder.

Source: ``shared/seeds/000_*.txt`` (Part 1). Encoder: one LSTM layer over the
series, its final hidden state -> ``mu``, ``logvar`` (latent 4). Decoder:
``h_0 = relu(W_z z)``, ``c_0 = 0``, first input ``x_0 = 0``; at every step the
LSTM consumes the previous output and emits ``x_t = W_o h_t + b_o``. Loss: MSE
reconstruction + ``kl_weight`` (0.01) * mean-form KL, as in the seed.

Speed: the decoder feeds its own output back, so its input projection is
``W_ih (W_o h + b_o)``. We fold the output layer into the recurrence
(``W_hh' = W_hh + W_o W_ih``, ``b' = b + b_o W_ih``), so the scan carries only
``h, c`` and the outputs are one matmul over all hidden states after the scan.
This is algebraically the seed's decoder.

Variable length (seed 000, Exercise 1): series are left-aligned and padded at the
end to a common ``T = seq_len`` with a mask ``m_bt [B, T]`` (1 = real step, 0 =
padding). Pass ``(x_btc, m_bt)`` as the batch of :func:`make_loss_fn`: padded inputs are
zeroed before the encoder, whose code is the hidden state at each series' last real
step (gathered from the scanned states; a forward LSTM at step ``t`` has read only
steps ``<= t``), and the reconstruction term is the mean over real steps only, so the
values and the number of padded steps never change the loss or its gradients. With
``length_conditioned`` the decoder's initial state also sees the length,
``h_0 = relu(W_z [z, length / length_scale])`` (a fixed scale, not ``T``, so the amount of
padding can't change it); :func:`generate_masked` draws lengths from a
given pool (the training lengths: their empirical distribution). Without a mask every
step is real and the seed's loss is unchanged.

Conditional (seed 000, Exercise 4): with ``cond_dim > 0`` a window-level condition
``c_bk [B, cond_dim]`` is read by the encoder at every step (as if concatenated to each
input) and by the decoder in ``h_0 = relu(W_z [z, c])`` and every step's gates
(``+ c W_c``); batches are ``(x_btc, c_bk)`` or ``(x_btc, m_bt, c_bk)``. A decoder feeding
back its mean can't emit i.i.d. noise (a requested noise level never shows); with
``obs_noise`` a head ``log σ_t = W_s [sg(h_t), c] + b_s`` (``sg``: stop gradient) learns
the std of the held-fixed residual by Gaussian NLL, the seed's loss alone still trains
the rest, and samples are ``x̂ + σ ε``. ``cond_dim = 0``, ``obs_noise`` off: the seed's model.

Shapes: ``x_btc [B, T, C]``, ``m_bt [B, T]``, ``z_bd [B, latent]``, lengths ``[B]``,
``c_bk [B, cond_dim]``.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from jtsgen.errors import InputError
from jtsgen.nn.lstm import LSTM, Dense, lstm_gates, scan_recurrence, torch_uniform


@dataclasses.dataclass(frozen=True)
class LSTMVAEConfig:
    """Static configuration of the LSTM-VAE (seed 000 defaults)."""

    seq_len: int = 100
    channels: int = 1
    hidden: int = 32
    latent: int = 4
    kl_weight: float = 0.01
    learning_rate: float = 1e-3
    unroll: int = 1  # measured best on CPU (benchmarks.train_step)
    length_conditioned: bool = False  # decoder sees length / length_scale (variable length)
    length_scale: float = 100.0
    cond_dim: int = 0  # > 0: encoder and decoder read a condition c [B, cond_dim]
    obs_noise: bool = False  # learn the observation noise std; samples draw from it


def lengths_of(m_bt: jax.Array) -> jax.Array:
    """Number of real steps of each series: ``[B, T]`` mask -> ``[B]`` int32."""
    return jnp.sum(m_bt > 0, axis=1).astype(jnp.int32)


def mask_from_lengths(lengths_b: jax.Array, seq_len: int) -> jax.Array:
    """Left-aligned mask ``[B, seq_len]`` (float32): 1 on the first ``lengths_b[i]`` steps."""
    return (jnp.arange(seq_len)[None, :] < lengths_b[:, None]).astype(jnp.float32)


class Encoder(nn.Module):
    """``x_btc [B, T, C]`` (optional left-aligned mask ``m_bt [B, T]``, optional condition
    ``c_bk [B, K]`` read at every step) -> ``(mu_bd, logvar_bd)`` from the hidden state at
    the last (real) step."""

    hidden: int
    latent: int
    unroll: int = 1

    @nn.compact
    def __call__(self, x_btc, m_bt=None, c_bk=None):
        lstm = LSTM(self.hidden, unroll=self.unroll)
        if m_bt is None:
            _, (h_bh, _) = lstm(x_btc, static_bd=c_bk)
        else:
            # zeroed padding: its values can't reach the states (or the gradients as NaN)
            x_btc = jnp.where(m_bt[..., None] > 0, x_btc, 0.0)
            h_bth, _ = lstm(x_btc, static_bd=c_bk)
            last_b = jnp.maximum(lengths_of(m_bt) - 1, 0)
            h_bh = jnp.take_along_axis(h_bth, last_b[:, None, None], axis=1)[:, 0]
        return Dense(self.latent, name="fc_mu")(h_bh), Dense(self.latent, name="fc_logvar")(h_bh)


class FeedbackDecoder(nn.Module):
    """``z_bd`` -> ``x_btc [B, seq_len, C]``: LSTM that feeds back its own output (output
    layer folded in). With ``length_conditioned`` the first layer also reads
    ``length_b / length_scale`` (``length_b [B]``, default ``seq_len``); with
    ``cond_dim`` the first layer and every step's gates read ``c_bk [B, cond_dim]``.
    With ``obs_noise`` returns ``(x_btc, log_sigma_btc)``."""

    hidden: int
    channels: int
    seq_len: int
    unroll: int = 1
    length_conditioned: bool = False
    length_scale: float = 100.0
    cond_dim: int = 0
    obs_noise: bool = False

    @nn.compact
    def __call__(self, z_bd, length_b=None, c_bk=None):
        if self.length_conditioned:
            if length_b is None:
                length_b = jnp.full(z_bd.shape[:1], self.seq_len)
            frac = (length_b.astype(z_bd.dtype) / self.length_scale)[:, None]
            z_bd = jnp.concatenate([z_bd, frac], axis=-1)
        if self.cond_dim:
            z_bd = jnp.concatenate([z_bd, c_bk], axis=-1)
        h0 = jax.nn.relu(Dense(self.hidden, name="fc")(z_bd))
        init = torch_uniform(1.0 / self.hidden**0.5)
        w_ih = self.param("w_ih", init, (self.channels, 4 * self.hidden))
        w_hh = self.param("w_hh", init, (self.hidden, 4 * self.hidden))
        b = self.param("b", init, (4 * self.hidden,))
        w_out = self.param("w_out", init, (self.hidden, self.channels))
        b_out = self.param("b_out", init, (self.channels,))
        c0 = jnp.zeros_like(h0)
        pre0, cond_b4h = h0 @ w_hh + b, None
        if self.cond_dim:  # the condition's share of every step's gates: [B, 4H]
            cond_b4h = c_bk @ self.param("w_cond", init, (self.cond_dim, 4 * self.hidden))
            pre0 = pre0 + cond_b4h
        # Step 0 consumes x_0 = 0; later steps consume the previous output.
        h1, c1 = lstm_gates(pre0, c0)
        w_fold = w_hh + w_out @ w_ih
        b_fold = b + b_out @ w_ih
        # The folded input projection is the same for every step and series: [T-1, 1, 4H].
        xproj = jnp.broadcast_to(b_fold, (self.seq_len - 1, 1, 4 * self.hidden))
        h_tbh, _ = scan_recurrence(xproj, w_fold, h1, c1, unroll=self.unroll, bias=cond_b4h)
        h_all = jnp.concatenate([h1[None], h_tbh], axis=0)
        mean_btc = jnp.einsum("tbh,hc->btc", h_all, w_out) + b_out
        if not self.obs_noise:
            return mean_btc
        feats = jnp.swapaxes(jax.lax.stop_gradient(h_all), 0, 1)  # [B, T, H]
        if self.cond_dim:
            c_btk = jnp.broadcast_to(c_bk[:, None], (*feats.shape[:2], self.cond_dim))
            feats = jnp.concatenate([feats, c_btk], axis=-1)
        return mean_btc, Dense(self.channels, name="fc_noise")(feats)


class LSTMVAE(nn.Module):
    """Full model: ``(x_btc, key[, m_bt][, c_bk])`` -> ``(recon, mu_bd, logvar_bd)``;
    ``recon`` is ``x_btc`` or, with ``obs_noise``, ``(x_btc, log_sigma_btc)``."""

    config: LSTMVAEConfig

    def setup(self):
        c = self.config
        self.encoder = Encoder(c.hidden, c.latent, unroll=c.unroll)
        self.decoder = FeedbackDecoder(c.hidden, c.channels, c.seq_len, unroll=c.unroll,
                                       length_conditioned=c.length_conditioned,
                                       length_scale=c.length_scale, cond_dim=c.cond_dim,
                                       obs_noise=c.obs_noise)

    def __call__(self, x_btc, key, m_bt=None, c_bk=None):
        mu, logvar = self.encoder(x_btc, m_bt, c_bk)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)
        length_b = None if m_bt is None else lengths_of(m_bt)
        return self.decoder(z, length_b, c_bk), mu, logvar

    def decode(self, z_bd, length_b=None, c_bk=None):
        return self.decoder(z_bd, length_b, c_bk)


def kl_mean(mu: jax.Array, logvar: jax.Array) -> jax.Array:
    """Mean-form KL(N(mu, exp(logvar)) || N(0, I)) over all elements, as in seed 000."""
    return -0.5 * jnp.mean(1.0 + logvar - mu**2 - jnp.exp(logvar))


def _batch_parts(batch, config: LSTMVAEConfig):
    """``(x_btc, m_bt or None, c_bk or None)`` of a batch (see :func:`make_loss_fn`)."""
    parts = tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
    if not config.cond_dim:
        return parts[0], (parts[1] if len(parts) > 1 else None), None
    if len(parts) not in (2, 3):
        raise InputError("batch", "a conditional LSTM-VAE (cond_dim > 0) takes (x_btc, c_bk) "
                                  "or (x_btc, m_bt, c_bk)")
    x_btc, c_bk = parts[0], parts[-1]
    if c_bk.shape != (x_btc.shape[0], config.cond_dim):
        raise InputError("c_bk", f"expected shape {(x_btc.shape[0], config.cond_dim)}, "
                                 f"got {c_bk.shape}")
    return x_btc, (parts[1] if len(parts) == 3 else None), c_bk


def noise_nll(mean_btc, log_sigma_btc, x_btc, m_bt=None) -> jax.Array:
    """Gaussian NLL (less ``log √(2π)``) of the held-fixed residual ``sg(x - mean)`` under
    std ``exp(log_sigma)``, averaged over (real) steps and channels."""
    if m_bt is not None:
        x_btc = jnp.where(m_bt[..., None] > 0, x_btc, 0.0)
    r2 = jax.lax.stop_gradient((x_btc - mean_btc) ** 2)
    nll = 0.5 * r2 * jnp.exp(-2.0 * log_sigma_btc) + log_sigma_btc
    if m_bt is None:
        return jnp.mean(nll)
    real = jnp.broadcast_to(m_bt[..., None] > 0, nll.shape)
    return jnp.sum(jnp.where(real, nll, 0.0)) / jnp.maximum(jnp.sum(real), 1)


@functools.cache
def make_loss_fn(config: LSTMVAEConfig):
    """Returns ``loss_fn(params, batch, key) -> (loss, metrics)``.

    ``batch`` is ``x_btc [B, seq_len, C]`` (every step real: the seed's loss) or a pair
    ``(x_btc, m_bt [B, seq_len])`` of left-aligned series and their mask; then the
    reconstruction MSE is the mean over real steps (and channels) only. With
    ``cond_dim > 0`` the condition ``c_bk [B, cond_dim]`` comes last: ``(x_btc, c_bk)`` or
    ``(x_btc, m_bt, c_bk)``. With ``obs_noise`` the loss adds :func:`noise_nll`
    (metric ``noise_nll``).
    """
    model = LSTMVAE(config)

    def loss_fn(params, batch, key):
        x_btc, m_bt, c_bk = _batch_parts(batch, config)
        out, mu, logvar = model.apply({"params": params}, x_btc, key, m_bt, c_bk)
        recon, log_sigma = out if config.obs_noise else (out, None)
        if m_bt is None:
            rec = jnp.mean((recon - x_btc) ** 2)
        else:
            real_bt1 = m_bt[..., None] > 0
            err = jnp.where(real_bt1, recon - jnp.where(real_bt1, x_btc, 0.0), 0.0)
            count = jnp.maximum(jnp.sum(real_bt1), 1) * x_btc.shape[-1]
            rec = jnp.sum(err**2) / count
        kl = kl_mean(mu, logvar)
        loss, metrics = rec + config.kl_weight * kl, {"recon": rec, "kl": kl}
        if config.obs_noise:
            nll = noise_nll(recon, log_sigma, x_btc, m_bt)
            loss, metrics = loss + nll, metrics | {"noise_nll": nll}
        return loss, metrics

    return loss_fn


def init_params(key: jax.Array, config: LSTMVAEConfig):
    """Initial parameters for a batch of shape ``[1, seq_len, channels]`` (and a condition
    ``[1, cond_dim]`` when ``cond_dim > 0``)."""
    x = jnp.zeros((1, config.seq_len, config.channels), jnp.float32)
    c = jnp.zeros((1, config.cond_dim), jnp.float32) if config.cond_dim else None
    return LSTMVAE(config).init(key, x, key, None, c)["params"]


def _decode_sample(params, z_bd, key, config: LSTMVAEConfig, length_b=None, c_bk=None):
    """Decoded ``[B, seq_len, C]``; with ``obs_noise`` plus ``σ ε`` (ε drawn from ``key``)."""
    out = LSTMVAE(config).apply({"params": params}, z_bd, length_b, c_bk, method=LSTMVAE.decode)
    if not config.obs_noise:
        return out
    mean_btc, log_sigma_btc = out
    eps = jax.random.normal(key, mean_btc.shape, mean_btc.dtype)
    return mean_btc + jnp.exp(log_sigma_btc) * eps


def _require_unconditional(config: LSTMVAEConfig) -> None:
    if config.cond_dim:
        raise InputError("config.cond_dim", "a conditional model samples with "
                                            "generate_conditional(params, key, c_bk, config)")


@functools.partial(jax.jit, static_argnames=("n", "config"))
def generate(params, key: jax.Array, n: int, config: LSTMVAEConfig) -> jax.Array:
    """Samples ``n`` series ``[n, seq_len, channels]`` from the prior z ~ N(0, I)
    (compiled once per ``(n, config)``)."""
    _require_unconditional(config)
    z = jax.random.normal(key, (n, config.latent), jnp.float32)
    return _decode_sample(params, z, jax.random.fold_in(key, 1), config)


@functools.partial(jax.jit, static_argnames=("config",))
def generate_conditional(params, key: jax.Array, c_bk: jax.Array,
                         config: LSTMVAEConfig) -> jax.Array:
    """One series per condition row: ``c_bk [n, cond_dim]`` -> ``x_btc [n, seq_len, C]``
    decoded from z ~ N(0, I) given ``c`` (with ``obs_noise``: plus ``σ ε``)."""
    if not config.cond_dim:
        raise InputError("config.cond_dim", "must be > 0 for generate_conditional")
    if c_bk.ndim != 2 or c_bk.shape[1] != config.cond_dim:
        raise InputError("c_bk", f"expected shape [n, {config.cond_dim}], got {c_bk.shape}")
    z = jax.random.normal(key, (c_bk.shape[0], config.latent), jnp.float32)
    return _decode_sample(params, z, jax.random.fold_in(key, 1), config,
                          c_bk=c_bk.astype(jnp.float32))


@functools.partial(jax.jit, static_argnames=("n", "config"))
def generate_masked(params, key: jax.Array, n: int, config: LSTMVAEConfig,
                    length_pool: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Samples ``n`` variable-length series: lengths drawn uniformly from
    ``length_pool [K]`` (e.g. every training series' length: their empirical
    distribution), ``seq_len`` steps decoded from z ~ N(0, I) (given the length when
    ``length_conditioned``). Returns ``(x_btc [n, seq_len, C], m_bt [n, seq_len])``,
    padded steps set to 0."""
    _require_unconditional(config)
    kz, kl = jax.random.split(key)
    length_b = jax.random.choice(kl, jnp.asarray(length_pool, jnp.int32), (n,))
    z = jax.random.normal(kz, (n, config.latent), jnp.float32)
    x = _decode_sample(params, z, jax.random.fold_in(kz, 1), config, length_b)
    m_bt = mask_from_lengths(length_b, config.seq_len)
    return x * m_bt[..., None], m_bt
