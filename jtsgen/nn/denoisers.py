"""Noise-prediction networks for the DDPM: the seed's MLP and a temporal conv denoiser.

Both take the noisy series ``x_btc [B, L, C]``, a precomputed time embedding and
optional per-step labels ``y_bt [B, L]`` (the null value marks "no label"), and
return the predicted noise ``[B, L, C]``.

* :class:`MLPDenoiser` — seed 000's ``SimpleTemporalDiffusion.net``: the series
  flattened to ``[B, L*C]``, concatenated with the scalar embedding
  ``sin(t / T * 2π)`` (and the labels, when conditional), then
  ``Dense(hidden) ReLU Dense(hidden) ReLU Dense(L*C)`` with PyTorch's init. For
  ``C = 1`` and no labels it is exactly the reference network.
* :class:`TemporalDenoiser` — a 1-D conv net over time: a 1x1 input conv, residual
  blocks of two dilated convs (dilations 1, 2, 4, 8, ...) with GroupNorm and SiLU,
  the time embedding (sinusoidal features -> 2-layer MLP) added per block, and a
  1x1 output conv. Labels enter as an extra input channel.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.nn.conv import Conv1D
from jtsgen.nn.lstm import Dense


def seed_time_embedding(t: np.ndarray, num_timesteps: int) -> np.ndarray:
    """Seed 000's scalar embedding ``sin(t / T * 2π)``: ``[...]`` -> ``[...]`` float32."""
    t = np.asarray(t, np.float32)  # same float32 operation order as the reference
    return np.sin(t / np.float32(num_timesteps) * np.float32(2) * np.float32(math.pi))


def sinusoidal_embedding(t: np.ndarray, dim: int) -> np.ndarray:
    """Transformer-style features ``[sin(t w_k), cos(t w_k)]``, ``w_k = 10000^(-k/half)``.

    ``t [...]`` -> ``[..., dim]`` float32 (``dim`` even).
    """
    half = dim // 2
    freqs = np.exp(-math.log(10000.0) * np.arange(half) / half)
    args = np.asarray(t, np.float64)[..., None] * freqs
    return np.concatenate([np.sin(args), np.cos(args)], axis=-1).astype(np.float32)


class MLPDenoiser(nn.Module):
    """``(x_btc, temb_b [B], y_bt | None) -> eps_btc``: the seed's 3-layer MLP."""

    hidden: int

    @nn.compact
    def __call__(self, x_btc: jax.Array, temb_b: jax.Array, y_bt: jax.Array | None = None):
        batch = x_btc.shape[0]
        parts = [x_btc.reshape(batch, -1), temb_b[:, None].astype(x_btc.dtype)]
        if y_bt is not None:
            parts.append(y_bt.astype(x_btc.dtype))
        h = jax.nn.relu(Dense(self.hidden, name="fc1")(jnp.concatenate(parts, axis=-1)))
        h = jax.nn.relu(Dense(self.hidden, name="fc2")(h))
        out = Dense(x_btc.shape[1] * x_btc.shape[2], name="out")(h)
        return out.reshape(x_btc.shape)


def _groups(width: int) -> int:
    return math.gcd(width, 8)


class ResBlock(nn.Module):
    """``h + conv(silu(norm(conv(silu(norm(h))) + emb))))`` with dilated 'SAME' convs."""

    width: int
    kernel: int
    dilation: int

    @nn.compact
    def __call__(self, h_blw: jax.Array, emb_bw: jax.Array) -> jax.Array:
        conv = lambda name: Conv1D(  # noqa: E731
            self.width, self.kernel, dilation=self.dilation, padding="same", name=name)
        r = conv("conv1")(nn.silu(nn.GroupNorm(_groups(self.width), name="norm1")(h_blw)))
        r = r + nn.Dense(self.width, name="emb")(emb_bw)[:, None, :]
        r = conv("conv2")(nn.silu(nn.GroupNorm(_groups(self.width), name="norm2")(r)))
        return h_blw + r


class TemporalDenoiser(nn.Module):
    """``(x_btc, temb_be [B, E], y_bt | None) -> eps_btc``: residual dilated conv net."""

    channels: int
    width: int = 64
    blocks: int = 4
    kernel: int = 3

    @nn.compact
    def __call__(self, x_btc: jax.Array, temb_be: jax.Array, y_bt: jax.Array | None = None):
        h = x_btc
        if y_bt is not None:
            h = jnp.concatenate([h, y_bt[..., None].astype(x_btc.dtype)], axis=-1)
        emb = nn.silu(nn.Dense(2 * self.width, name="temb1")(temb_be))
        emb = nn.Dense(self.width, name="temb2")(emb)
        h = Conv1D(self.width, 1, name="conv_in")(h)
        for i in range(self.blocks):
            h = ResBlock(self.width, self.kernel, 2 ** (i % 4), name=f"block{i}")(h, emb)
        h = nn.silu(nn.GroupNorm(_groups(self.width), name="norm_out")(h))
        return Conv1D(self.channels, 1, name="conv_out")(h)
