"""1-D convolutions written as matrix products (im2col), fast inside ``lax.scan``.

XLA:CPU runs ``lax.conv_general_dilated`` (``flax.linen.Conv``) well on its own,
but inside a ``lax.scan`` loop body -- where jtsgen's fused training steps live --
its convolutions (and their gradients) are about 20x slower than outside. A
convolution with a small kernel is equally a sum of shifted matrix products, and
dot products stay fast in loops; so the layers here gather the ``kernel_size``
shifted (dilated) copies of the input along the channel axis and apply one
matrix product.

Shapes: ``x_btc [B, T, C]`` -> ``[B, T, features]`` (``Conv1D``),
``[B, T, C] -> [B, 2T, features]`` (``Upsample2``).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

PADDINGS = ("causal", "same")


class Conv1D(nn.Module):
    """Dilated 1-D convolution; ``padding="causal"`` (left only) or ``"same"`` (centred).

    Output length equals input length. Kernel ``[kernel_size * C, features]``
    (LeCun-normal, as ``flax.linen.Conv``), bias ``[features]`` (zeros).
    """

    features: int
    kernel_size: int = 3
    dilation: int = 1
    padding: str = "causal"

    @nn.compact
    def __call__(self, x_btc: jax.Array) -> jax.Array:
        if self.padding not in PADDINGS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {self.padding!r}")
        length, channels = x_btc.shape[1], x_btc.shape[2]
        total = (self.kernel_size - 1) * self.dilation
        left = total if self.padding == "causal" else total // 2
        xp = jnp.pad(x_btc, ((0, 0), (left, total - left), (0, 0)))
        taps = [xp[:, i * self.dilation:i * self.dilation + length]
                for i in range(self.kernel_size)]
        cols = taps[0] if len(taps) == 1 else jnp.concatenate(taps, axis=-1)
        kernel = self.param("kernel", nn.initializers.lecun_normal(),
                            (self.kernel_size * channels, self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        return cols @ kernel + bias


class Upsample2(nn.Module):
    """Transposed convolution with kernel 2 and stride 2: ``[B, T, C] -> [B, 2T, features]``."""

    features: int

    @nn.compact
    def __call__(self, x_btc: jax.Array) -> jax.Array:
        batch, length, channels = x_btc.shape
        kernel = self.param("kernel", nn.initializers.lecun_normal(),
                            (channels, 2 * self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        y = (x_btc @ kernel).reshape(batch, length, 2, self.features)
        return y.reshape(batch, 2 * length, self.features) + bias


def max_pool2(x_btc: jax.Array) -> jax.Array:
    """Max over non-overlapping pairs of steps: ``[B, T, C] -> [B, T // 2, C]`` (T even)."""
    batch, length, channels = x_btc.shape
    return jnp.max(x_btc.reshape(batch, length // 2, 2, channels), axis=2)
