"""LSTM layers whose time loop is a ``lax.scan`` with the input projection hoisted.

The gate pre-activations that depend only on the inputs, ``x_t @ W_ih + b``, are
computed for all time steps in one matrix multiply before the scan (or, for
inputs with at most 4 channels, as multiply-adds inside the loop body, so no
``[T, B, 4H]`` tensor is written); the scan body then only does ``h @ W_hh`` and
the elementwise gate math, whose four nonlinearities are one full-width ``tanh``.

:func:`scan_recurrence` (and the in-loop projected variant used by :class:`LSTM`)
has a hand-written reverse pass (``jax.custom_vjp``) with the same math as
autodiff: the forward scan saves each step's local derivatives already in the
shape the reverse loop consumes, the backward scan does two elementwise kernels
and ``dpre @ W_hh^T`` per step, and the weight gradient ``sum_t h_{t-1}^T dpre_t``
is one ``dot_general`` after the loop; its body stays at 8 kernels (XLA:CPU's
sequential executor). An input projection shared by the whole batch can be passed
as ``[T, 1, 4H]`` and is never broadcast to ``[T, B, 4H]``; a bias (``[4H]`` or
per-series ``[B, 4H]``) is added inside the loop body. :class:`LSTM` uses both for
inputs that are constant in time (``static_bd``) or across the batch
(``shared_tf``), so those are projected once.
Higher-order reverse mode (e.g. a WGAN-GP penalty) differentiates through this
backward pass; forward mode (``jax.jvp``) is not supported through it.

Parameter layout matches PyTorch's ``nn.LSTM`` (gate order i, f, g, o), stored
transposed for right-multiplication: ``w_ih [in, 4H]``, ``w_hh [H, 4H]``, ``b [4H]``
(PyTorch's ``b_ih + b_hh``). Initialisation is PyTorch's U(-1/sqrt(H), 1/sqrt(H)).
"""

from __future__ import annotations

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


def torch_uniform(scale: float):
    """Initialiser U(-scale, scale), PyTorch's default for recurrent and linear layers."""

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -scale, scale)

    return init


def _gate_scale(four_h: int, dtype) -> tuple[jax.Array, jax.Array]:
    """Per-column scale and offset that turn one ``tanh`` into the four gate activations."""
    h = four_h // 4
    half, one = jnp.full((h,), 0.5, dtype), jnp.ones((h,), dtype)
    scale = jnp.concatenate([half, half, one, half])
    offset = jnp.concatenate([half, half, jnp.zeros((h,), dtype), half])
    return scale, offset


def gate_activations(pre_b4h: jax.Array) -> jax.Array:
    """``[..., 4H]`` pre-activations -> ``[sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)]``.

    Computed as one full-width ``tanh(s * pre) * s + offset`` (``sigmoid(v) =
    0.5 tanh(v / 2) + 0.5``): a single elementwise kernel over ``[B, 4H]`` instead of
    four sliced ones, which is 2-3x faster inside a scan on XLA:CPU.
    """
    scale, offset = _gate_scale(pre_b4h.shape[-1], pre_b4h.dtype)
    return jnp.tanh(pre_b4h * scale) * scale + offset


def _cell(acts_b4h: jax.Array, c_bh: jax.Array) -> tuple[jax.Array, jax.Array]:
    h = c_bh.shape[-1]
    i, f, g, o = (acts_b4h[..., k * h:(k + 1) * h] for k in range(4))
    c_new = f * c_bh + i * g
    return o * jnp.tanh(c_new), c_new


def lstm_gates(pre_b4h: jax.Array, c_bh: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Applies LSTM gate nonlinearities. Returns the new ``(h_bh, c_bh)``."""
    return _cell(gate_activations(pre_b4h), c_bh)


def _forward(xs, proj, w_hh, h0, c0, unroll, save, bias=None):
    """Forward scan over ``xs`` (``[T, B, 4H]`` projections, to which the loop body adds
    ``bias [4H]`` when given, or raw inputs ``[T, B, C]`` projected in the loop body by
    ``proj = (w_ih, b)``).

    With ``save`` it also emits, per step, the local derivatives the reverse pass
    needs, already in the shapes it consumes (so its loop body is a few full-width
    elementwise ops and one matmul):
    ``jac [B, 4H] = [g i(1-i), c_prev f(1-f), i (1-g^2), tanh(c) o(1-o)]`` and
    ``kf [B, 2H] = [o (1 - tanh(c)^2), f]``.
    """
    hid = h0.shape[-1]
    # Materialise the inputs: otherwise XLA:CPU fuses their producer into the loop's
    # per-step slice and the step reads a strided layout.
    xs = lax.optimization_barrier(xs)

    def body(carry, x):
        h, c = carry
        xp_b4h = x if proj is None else input_projection(x, *proj)
        if bias is not None:
            xp_b4h = xp_b4h + bias
        a = gate_activations(xp_b4h + h @ w_hh)
        i, f, g, o = (a[..., k * hid:(k + 1) * hid] for k in range(4))
        c_new = f * c + i * g
        tc = jnp.tanh(c_new)
        h_new = o * tc
        if not save:
            return (h_new, c_new), h_new
        jac = jnp.concatenate([g * i * (1 - i), c * f * (1 - f), i * (1 - g * g),
                               tc * o * (1 - o)], axis=-1)
        kf = jnp.concatenate([o * (1 - tc * tc), f], axis=-1)
        return (h_new, c_new), (h_new, jac, kf)

    final, out = lax.scan(body, (h0, c0), xs, unroll=unroll)
    # Likewise keep consumers' layouts (a transpose after the loop) out of its writes.
    return final, lax.optimization_barrier(out)


def _backward(w_hh, h0, h_tbh, jac, kf, cotangents, unroll):
    """Reverse scan: ``(dpre [T, B, 4H], dw_hh, dh0, dc0)``.

    The carried cell gradient is ``dc_{t+1}`` itself; the body multiplies it by
    ``f_{t+1}``, read from a copy of the forget gates shifted one step
    (``f_next [T, B, H]``, ones at ``T-1``). That keeps the loop body at 8 kernels, which
    XLA:CPU runs on its sequential executor (9 or more go to the concurrent one,
    ~3 us more per step at the seed config).
    """
    dh_tbh, (dh_last, dc_last) = cotangents
    dh_tbh = lax.optimization_barrier(dh_tbh.at[-1].add(dh_last))
    hid = h0.shape[-1]
    w_t = w_hh.T
    f_tbh = kf[..., hid:]
    f_next = lax.optimization_barrier(
        jnp.concatenate([f_tbh[1:], jnp.ones_like(f_tbh[:1])], axis=0))

    def body(carry, inputs):
        dh_rec, dc_carry = carry  # from step t+1: dpre_{t+1} @ W^T and dc_{t+1}
        dh_out, jac_b4h, kf_b2h, f_next_bh = inputs
        dh = dh_out + dh_rec
        dc = dc_carry * f_next_bh + dh * kf_b2h[:, :hid]
        dpre = jnp.concatenate([dc, dc, dc, dh], axis=-1) * jac_b4h
        return (dpre @ w_t, dc), dpre

    init = (jnp.zeros_like(dh_last), dc_last)
    (dh0, dc_first), dpre = lax.scan(body, init, (dh_tbh, jac, kf, f_next), reverse=True,
                                     unroll=unroll)
    dpre = lax.optimization_barrier(dpre)
    h_prev = jnp.concatenate([h0[None], h_tbh[:-1]], axis=0)
    dw_hh = _flat_outer(h_prev, dpre)
    return dpre, dw_hh, dh0, dc_first * f_tbh[0]


def _flat_outer(a_tbi: jax.Array, b_tbj: jax.Array) -> jax.Array:
    """``sum_tb a^T b`` -> ``[I, J]`` as one dot_general (no transposed copies)."""
    rows = a_tbi.shape[0] * a_tbi.shape[1]  # explicit: -1 cannot be inferred for I = 0
    return lax.dot_general(a_tbi.reshape(rows, a_tbi.shape[-1]),
                           b_tbj.reshape(rows, b_tbj.shape[-1]), (((0,), (0,)), ((), ())))


@functools.partial(jax.custom_vjp, nondiff_argnums=(5, 6))
def _recurrence(xproj, bias, w_hh, h0, c0, unroll, shared):
    final, h_tbh = _forward(xproj, None, w_hh, h0, c0, unroll, save=False, bias=bias)
    return h_tbh, final


def _recurrence_fwd(xproj, bias, w_hh, h0, c0, unroll, shared):
    final, (h_tbh, jac, kf) = _forward(xproj, None, w_hh, h0, c0, unroll, save=True, bias=bias)
    return (h_tbh, final), (bias, w_hh, h0, h_tbh, jac, kf)


def _recurrence_bwd(unroll, shared, res, cotangents):
    bias, *rest = res
    dpre, dw_hh, dh0, dc0 = _backward(*rest, cotangents, unroll)
    dxproj = jnp.sum(dpre, axis=1, keepdims=True) if shared else dpre
    return dxproj, _sum_to(dpre, bias.shape), dw_hh, dh0, dc0


def _sum_to(dpre_tb4h: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Gradient of a bias of ``shape`` (``[4H]``, ``[1, 4H]`` or ``[B, 4H]``) added at each step."""
    if len(shape) == 1:
        return jnp.sum(dpre_tb4h, axis=(0, 1))
    out = jnp.sum(dpre_tb4h, axis=0)
    return jnp.sum(out, axis=0, keepdims=True) if shape[0] != out.shape[0] else out


_recurrence.defvjp(_recurrence_fwd, _recurrence_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(6,))
def _projected_recurrence(x_tbc, w_ih, b, w_hh, h0, c0, unroll):
    final, h_tbh = _forward(x_tbc, (w_ih, b), w_hh, h0, c0, unroll, save=False)
    return h_tbh, final


def _projected_fwd(x_tbc, w_ih, b, w_hh, h0, c0, unroll):
    final, (h_tbh, jac, kf) = _forward(x_tbc, (w_ih, b), w_hh, h0, c0, unroll, save=True)
    return (h_tbh, final), (x_tbc, w_ih, b, w_hh, h0, h_tbh, jac, kf)


def _projected_bwd(unroll, res, cotangents):
    x_tbc, w_ih, b, w_hh, h0, h_tbh, jac, kf = res
    dpre, dw_hh, dh0, dc0 = _backward(w_hh, h0, h_tbh, jac, kf, cotangents, unroll)
    if w_ih.shape[0]:
        dx = jnp.stack([jnp.sum(dpre * w_ih[c], axis=-1) for c in range(w_ih.shape[0])], axis=-1)
    else:
        dx = jnp.zeros_like(x_tbc)
    return dx, _flat_outer(x_tbc, dpre), _sum_to(dpre, b.shape), dw_hh, dh0, dc0


_projected_recurrence.defvjp(_projected_fwd, _projected_bwd)


def scan_recurrence(
    xproj_tb4h: jax.Array,
    w_hh: jax.Array,
    h0_bh: jax.Array,
    c0_bh: jax.Array,
    unroll: int = 1,
    bias: jax.Array | None = None,
) -> tuple[jax.Array, tuple[jax.Array, jax.Array]]:
    """Runs the LSTM recurrence over precomputed input projections.

    Args:
      xproj_tb4h: ``x_t @ W_ih + b`` for every step, time-major ``[T, B, 4H]``, or
        ``[T, 1, 4H]`` when it is the same for the whole batch (e.g. a constant bias).
      w_hh: recurrent weights ``[H, 4H]``.
      h0_bh, c0_bh: initial state ``[B, H]``.
      unroll: ``lax.scan`` unroll factor (forward and backward scans).
      bias: optional ``[4H]`` (or per-series ``[B, 4H]``) added to every step's
        projection inside the loop body (fused into the gate kernel), so ``x @ W_ih``
        needs no separate bias pass over ``[T, B, 4H]``.

    Returns:
      ``(h_tbh, (h_T, c_T))``: hidden states for every step, time-major, and the final state.
    """
    shared = xproj_tb4h.shape[1] == 1 and h0_bh.shape[0] != 1
    if bias is None:
        bias = jnp.zeros(xproj_tb4h.shape[-1], xproj_tb4h.dtype)
    return _recurrence(xproj_tb4h, bias, w_hh, h0_bh, c0_bh, int(unroll), shared)


def matmul_2d(x: jax.Array, w: jax.Array) -> jax.Array:
    """``x [..., I] @ w [I, J]`` as one 2-D matmul over the flattened leading axes.

    Same values as ``x @ w``; written this way, the weight gradient is a plain
    ``[N, I]^T [N, J]`` product, which XLA:CPU computes without first copying
    ``x`` and the cotangent into transposed layouts (it does for the ``[T, B, I]``
    form; in the C-GATS stage-2 step those copies of ``[T·B, 4H]`` cotangents took
    a few percent).
    """
    rows = math.prod(x.shape[:-1])
    return (x.reshape(rows, x.shape[-1]) @ w).reshape(*x.shape[:-1], w.shape[-1])


def input_projection(x_tbc: jax.Array, w_ih: jax.Array, b: jax.Array) -> jax.Array:
    """``x @ W_ih + b`` for a few input channels ``[..., C]`` -> ``[..., 4H]``, as
    broadcast multiply-adds (a K = C matmul is a poor kernel for tiny C)."""
    out = b
    for c in range(x_tbc.shape[-1]):
        out = out + x_tbc[..., c:c + 1] * w_ih[c]
    return out


class LSTM(nn.Module):
    """Single-layer batch-first LSTM.

    Call: ``x_btc [B, T, C]`` (optional initial ``(h0, c0)`` each ``[B, H]``) ->
    ``(h_bth [B, T, H], (h_T, c_T))``.

    Inputs that do not change along one of the axes can be passed apart, so their
    projection is computed once instead of at every step: ``static_bd [B, D]`` is the
    same at every step of a series (e.g. a latent code repeated over time) and
    ``shared_tf [T, F]`` the same for every series in the batch (e.g. time features).
    The result equals the layer applied to ``concat([static, x, shared], -1)`` at each
    step, with the same parameters (``w_ih [D + C + F, 4H]``); ``x_btc`` may have
    ``C = 0`` channels.
    """

    hidden: int
    unroll: int = 1

    @nn.compact
    def __call__(self, x_btc: jax.Array, carry: tuple[jax.Array, jax.Array] | None = None,
                 static_bd: jax.Array | None = None, shared_tf: jax.Array | None = None):
        batch, steps, channels = x_btc.shape
        n_static = 0 if static_bd is None else static_bd.shape[-1]
        n_shared = 0 if shared_tf is None else shared_tf.shape[-1]
        init = torch_uniform(1.0 / self.hidden**0.5)
        w_ih = self.param("w_ih", init, (n_static + channels + n_shared, 4 * self.hidden))
        w_hh = self.param("w_hh", init, (self.hidden, 4 * self.hidden))
        b = self.param("b", init, (4 * self.hidden,))
        if carry is None:
            zeros = jnp.zeros((batch, self.hidden), x_btc.dtype)
            carry = (zeros, zeros)
        bias = b if static_bd is None else b + static_bd @ w_ih[:n_static]  # [4H] or [B, 4H]
        w_x = w_ih[n_static:n_static + channels]
        x_tbc = jnp.swapaxes(x_btc, 0, 1)
        if shared_tf is None and channels <= 4:
            # project inside the loop: no [T, B, 4H] tensor in memory
            h_tbh, final = _projected_recurrence(x_tbc, w_x, bias, w_hh, *carry,
                                                 int(self.unroll))
        else:
            xproj = None
            if shared_tf is not None:  # [T, 1, 4H]: never broadcast over the batch
                xproj = (shared_tf @ w_ih[n_static + channels:])[:, None]
            if channels:
                dyn = (matmul_2d(x_tbc, w_x) if channels > 4
                       else input_projection(x_tbc, w_x, 0.0))
                xproj = dyn if xproj is None else dyn + xproj
            h_tbh, final = scan_recurrence(xproj, w_hh, *carry, unroll=self.unroll, bias=bias)
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
        return matmul_2d(x, kernel) + bias
