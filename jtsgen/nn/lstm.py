"""LSTM layers whose time loop is a ``lax.scan`` with the input projection hoisted.

The gate pre-activations that depend only on the inputs, ``x_t @ W_ih + b``, are
computed for all time steps in one matrix multiply before the scan; the scan body
then only does ``h @ W_hh`` and the elementwise gate math. This is what makes a
step-bound recurrence fast on CPU and accelerators alike.

Parameter layout matches PyTorch's ``nn.LSTM`` (gate order i, f, g, o), stored
transposed for right-multiplication: ``w_ih [in, 4H]``, ``w_hh [H, 4H]``, ``b [4H]``
(PyTorch's ``b_ih + b_hh``). Initialisation is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


def torch_uniform(scale: float):
    """Initialiser U(-scale, scale), PyTorch's default for recurrent and linear layers."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def lstm_gates(pre_b4h: jax.Array, c_bh: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Applies LSTM gate nonlinearities. Returns the new ``(h_bh, c_bh)``."""
    i, f, g, o = jnp.split(pre_b4h, 4, axis=-1)
    c_new = jax.nn.sigmoid(f) * c_bh + jax.nn.sigmoid(i) * jnp.tanh(g)
    h_new = jax.nn.sigmoid(o) * jnp.tanh(c_new)
    return h_new, c_new


def scan_recurrence(
    xproj_tb4h: jax.Array,
    w_hh: jax.Array,
    h0_bh: jax.Array,
    c0_bh: jax.Array,
    unroll: int = 1,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Runs the LSTM recurrence over precomputed input projections.

    Args:
      xproj_tb4h: ``x_t @ W_ih + b`` for every step, time-major ``[T, B, 4H]``.
      w_hh: recurrent weights ``[H, 4H]``.
      h0_bh, c0_bh: initial state ``[B, H]``.
      unroll: ``lax.scan`` unroll factor.

    Returns:
      ``(h_tbh, (h_T, c_T))``: hidden states for every step, time-major, and the final state.
    """

    def body(carry, xp_b4h):
        h, c = carry
        h, c = lstm_gates(xp_b4h + h @ w_hh, c)
        return (h, c), h

    (h, c), h_tbh = lax.scan(body, (h0_bh, c0_bh), xproj_tb4h, unroll=unroll)
    return h_tbh, (h, c)


class LSTM(nn.Module):
    """Single-layer batch-first LSTM.

    Call: ``x_btc [B, T, C]`` (optional initial ``(h0, c0)`` each ``[B, H]``) ->
    ``(h_bth [B, T, H], (h_T, c_T))``.
    """

    hidden: int
    unroll: int = 1

    @nn.compact
    def __call__(self, x_btc: jax.Array, carry: tuple[jax.Array, jax.Array] | None = None):
        batch, _, channels = x_btc.shape
        init = torch_uniform(1.0 / self.hidden**0.5)
        w_ih = self.param("w_ih", init, (channels, 4 * self.hidden))
        w_hh = self.param("w_hh", init, (self.hidden, 4 * self.hidden))
        b = self.param("b", init, (4 * self.hidden,))
        if carry is None:
            zeros = jnp.zeros((batch, self.hidden), x_btc.dtype)
            carry = (zeros, zeros)
        xproj_tb4h = jnp.einsum("btc,cg->tbg", x_btc, w_ih) + b
        h_tbh, final = scan_recurrence(xproj_tb4h, w_hh, *carry, unroll=self.unroll)
        return jnp.swapaxes(h_tbh, 0, 1), final


class Dense(nn.Module):
    """Linear layer ``[..., in] -> [..., features]`` with PyTorch's default initialisation.

    Parameters: ``kernel [in, features]``, ``bias [features]``, both U(-1/sqrt(in), 1/sqrt(in)).
    """

    features: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        init = torch_uniform(1.0 / x.shape[-1] ** 0.5)
        kernel = self.param("kernel", init, (x.shape[-1], self.features))
        bias = self.param("bias", init, (self.features,))
        return x @ kernel + bias
