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

Shapes: ``x_btc [B, T, C]``, ``z_bd [B, latent]``.
"""

from __future__ import annotations

import dataclasses
import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

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


class Encoder(nn.Module):
    """``x_btc`` -> ``(mu_bd, logvar_bd)``."""

    hidden: int
    latent: int
    unroll: int = 1

    @nn.compact
    def __call__(self, x_btc):
        _, (h_bh, _) = LSTM(self.hidden, unroll=self.unroll)(x_btc)
        return Dense(self.latent, name="fc_mu")(h_bh), Dense(self.latent, name="fc_logvar")(h_bh)


class FeedbackDecoder(nn.Module):
    """``z_bd`` -> ``x_btc``: LSTM that feeds back its own output (output layer folded in)."""

    hidden: int
    channels: int
    seq_len: int
    unroll: int = 1

    @nn.compact
    def __call__(self, z_bd):
        h0 = jax.nn.relu(Dense(self.hidden, name="fc")(z_bd))
        init = torch_uniform(1.0 / self.hidden**0.5)
        w_ih = self.param("w_ih", init, (self.channels, 4 * self.hidden))
        w_hh = self.param("w_hh", init, (self.hidden, 4 * self.hidden))
        b = self.param("b", init, (4 * self.hidden,))
        w_out = self.param("w_out", init, (self.hidden, self.channels))
        b_out = self.param("b_out", init, (self.channels,))
        c0 = jnp.zeros_like(h0)
        # Step 0 consumes x_0 = 0; later steps consume the previous output.
        h1, c1 = lstm_gates(h0 @ w_hh + b, c0)
        w_fold = w_hh + w_out @ w_ih
        b_fold = b + b_out @ w_ih
        # The folded input projection is the same for every step and series: [T-1, 1, 4H].
        xproj = jnp.broadcast_to(b_fold, (self.seq_len - 1, 1, 4 * self.hidden))
        h_tbh, _ = scan_recurrence(xproj, w_fold, h1, c1, unroll=self.unroll)
        h_all = jnp.concatenate([h1[None], h_tbh], axis=0)
        return jnp.einsum("tbh,hc->btc", h_all, w_out) + b_out


class LSTMVAE(nn.Module):
    """Full model: ``(x_btc, key)`` -> ``(recon_btc, mu_bd, logvar_bd)``."""

    config: LSTMVAEConfig

    def setup(self):
        c = self.config
        self.encoder = Encoder(c.hidden, c.latent, unroll=c.unroll)
        self.decoder = FeedbackDecoder(c.hidden, c.channels, c.seq_len, unroll=c.unroll)

    def __call__(self, x_btc, key):
        mu, logvar = self.encoder(x_btc)
        z = mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)
        return self.decoder(z), mu, logvar

    def decode(self, z_bd):
        return self.decoder(z_bd)


def kl_mean(mu: jax.Array, logvar: jax.Array) -> jax.Array:
    """Mean-form KL(N(mu, exp(logvar)) || N(0, I)) over all elements, as in seed 000."""
    return -0.5 * jnp.mean(1.0 + logvar - mu**2 - jnp.exp(logvar))


@functools.cache
def make_loss_fn(config: LSTMVAEConfig):
    """Returns ``loss_fn(params, x_btc, key) -> (loss, metrics)``."""
    model = LSTMVAE(config)

    def loss_fn(params, x_btc, key):
        recon, mu, logvar = model.apply({"params": params}, x_btc, key)
        rec = jnp.mean((recon - x_btc) ** 2)
        kl = kl_mean(mu, logvar)
        return rec + config.kl_weight * kl, {"recon": rec, "kl": kl}

    return loss_fn


def init_params(key: jax.Array, config: LSTMVAEConfig):
    """Initial parameters for a batch of shape ``[1, seq_len, channels]``."""
    x = jnp.zeros((1, config.seq_len, config.channels), jnp.float32)
    return LSTMVAE(config).init(key, x, key)["params"]


@functools.partial(jax.jit, static_argnames=("n", "config"))
def generate(params, key: jax.Array, n: int, config: LSTMVAEConfig) -> jax.Array:
    """Samples ``n`` series ``[n, seq_len, channels]`` from the prior z ~ N(0, I)
    (compiled once per ``(n, config)``)."""
    z = jax.random.normal(key, (n, config.latent), jnp.float32)
    return LSTMVAE(config).apply({"params": params}, z, method=LSTMVAE.decode)
