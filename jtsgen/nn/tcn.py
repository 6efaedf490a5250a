"""Causal dilated temporal convolutional network (TCN), as in NCAD's encoder.

A causal convolution (:class:`jtsgen.nn.conv.Conv1D`) at step ``t`` sees only
steps ``<= t``: the input is padded on the left by ``(kernel - 1) * dilation``
steps. A :class:`TCN` stacks residual blocks (two causal convolutions + ReLU,
a 1x1 projection on the skip path when the width changes) with growing
dilations, so its receptive field is ``1 + 2 * (kernel - 1) * sum(dilations)``.

Shapes: ``x_btc [B, T, C]`` -> ``h_btd [B, T, D]`` (same length, causal).
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jtsgen.nn.conv import Conv1D


def receptive_field(kernel_size: int, dilations: tuple[int, ...]) -> int:
    """Steps of input that one output step of :class:`TCN` depends on."""
    return 1 + 2 * (kernel_size - 1) * sum(dilations)


class TCNBlock(nn.Module):
    """Residual block: ``relu(x' + skip(x))`` with ``x'`` two causal conv + ReLU layers."""

    features: int
    kernel_size: int
    dilation: int

    @nn.compact
    def __call__(self, x_btc: jax.Array) -> jax.Array:
        h = nn.relu(Conv1D(self.features, self.kernel_size, self.dilation)(x_btc))
        h = nn.relu(Conv1D(self.features, self.kernel_size, self.dilation)(h))
        skip = x_btc
        if x_btc.shape[-1] != self.features:
            skip = Conv1D(self.features, 1, name="skip")(x_btc)
        return nn.relu(h + skip)


class TCN(nn.Module):
    """Stack of :class:`TCNBlock` with ``dilations``; ``[B, T, C] -> [B, T, features]``."""

    features: int = 32
    kernel_size: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)

    @nn.compact
    def __call__(self, x_btc: jax.Array) -> jax.Array:
        h = x_btc
        for i, d in enumerate(self.dilations):
            h = TCNBlock(self.features, self.kernel_size, d, name=f"block{i}")(h)
        return h
