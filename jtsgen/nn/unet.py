"""A 1-D U-Net producing one logit per time step (RobustTAD's network).

Encoder: ``depth`` levels of a :class:`ConvBlock` (two same-padded convolutions +
ReLU) followed by max-pooling by 2; a bottleneck block; decoder: transposed
convolution (kernel 2, stride 2) up-sampling, concatenation with the encoder output of the
same level (skip connection) and a :class:`ConvBlock`. A final 1x1 convolution
gives the logits. Layers are :mod:`jtsgen.nn.conv` (matrix-product convolutions,
fast inside the fused training scan). Series whose length is not a multiple of ``2**depth`` are
edge-padded on the right and the logits are cropped back.

Shapes: ``x_btc [B, T, C]`` -> ``logits_bt [B, T]``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jtsgen.nn.conv import Conv1D, Upsample2, max_pool2


class ConvBlock(nn.Module):
    """Two ``kernel_size`` convolutions (same padding) with ReLU: ``[B, T, C] -> [B, T, F]``."""

    features: int
    kernel_size: int = 5

    @nn.compact
    def __call__(self, x_btc: jax.Array) -> jax.Array:
        h = nn.relu(Conv1D(self.features, self.kernel_size, padding="same")(x_btc))
        return nn.relu(Conv1D(self.features, self.kernel_size, padding="same")(h))


class UNet1D(nn.Module):
    """U-Net over time; level ``i`` has ``base * 2**i`` channels."""

    base: int = 16
    depth: int = 3
    kernel_size: int = 5

    @nn.compact
    def __call__(self, x_btc: jax.Array) -> jax.Array:
        length = x_btc.shape[1]
        unit = 2**self.depth
        padded = -(-length // unit) * unit
        h = jnp.pad(x_btc, ((0, 0), (0, padded - length), (0, 0)), mode="edge")
        skips = []
        for i in range(self.depth):
            h = ConvBlock(self.base * 2**i, self.kernel_size, name=f"down{i}")(h)
            skips.append(h)
            h = max_pool2(h)
        h = ConvBlock(self.base * 2**self.depth, self.kernel_size, name="bottom")(h)
        for i in reversed(range(self.depth)):
            h = Upsample2(self.base * 2**i, name=f"upsample{i}")(h)
            h = jnp.concatenate([h, skips[i]], axis=-1)
            h = ConvBlock(self.base * 2**i, self.kernel_size, name=f"up{i}")(h)
        logits = Conv1D(1, 1, name="head")(h)[..., 0]
        return logits[:, :length]
