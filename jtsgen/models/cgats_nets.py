"""C-GATS networks: occluded-series encoder, stage-1 decoder, stage-2 conditional decoder.

Encoder θ: two stacked LSTMs (32, 64 units) over the occluded series X̃, the final
hidden state -> ``mu``, ``logvar`` (latent 16): a diagonal Gaussian posterior. With
``n_freq > 0`` (the default in :class:`~jtsgen.models.cgats.CGATSConfig`) the LSTMs
also read fixed Fourier time features and the posterior also sees the time-mean
of the top layer's states.

Stage-1 decoder ψ: ``zc = tanh(W z)`` repeated over time -> LSTM(32) -> LSTM(64) ->
linear readout: reconstructs X^N from z. With ``state_from_z`` (jtsgen's default) both
LSTMs start from states read off z (:func:`initial_states`) instead of zeros, so a
decoded window is in its pattern from its first step (from zero states it needs
~20 steps to get there: every generated window began flat).

Stage-2 decoder φ: the same two LSTMs, autoregressive in X (teacher forced in
training: the input at step t is ``[zc, x_{t-1}]``), and a per-step head
``Dense(64) -> ReLU -> Dense(2C)`` giving the mean and log-variance of a Gaussian
over ``x_t``. The label Y^A enters at the last layer (the head) by default, or at
the first LSTM's input (``cond_at="first"``, the paper's Table 11 ablation).
Feeding back X lets a sampled anomaly keep its direction: a level shift drawn
upwards at its first step stays up.

Shapes: ``x_btc [B, T, C]``, ``y_bt [B, T]``, ``z_bd [B, 16]``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

from jtsgen.nn.lstm import LSTM, Dense, lstm_gates


class Encoder(nn.Module):
    """``x_btc`` -> ``(mu_bd, logvar_bd)``.

    With ``n_freq > 0`` the LSTMs also read the Fourier time features
    (:func:`time_features`), and the posterior is read from the final hidden state
    concatenated with the time-mean of the top layer's states.
    """

    hidden: tuple[int, int]
    latent: int
    unroll: int = 1
    n_freq: int = 0

    @nn.compact
    def __call__(self, x_btc):
        f = time_features(x_btc.shape[1], self.n_freq) if self.n_freq else None
        # input [x_t, f_t]; f is the same for every series, so it is projected once
        h1, _ = LSTM(self.hidden[0], unroll=self.unroll, name="lstm1")(x_btc, shared_tf=f)
        h2, (h_bh, _) = LSTM(self.hidden[1], unroll=self.unroll, name="lstm2")(h1)
        if self.n_freq:
            h_bh = jnp.concatenate([h_bh, jnp.mean(h2, axis=1)], axis=-1)
        return Dense(self.latent, name="fc_mu")(h_bh), Dense(self.latent, name="fc_logvar")(h_bh)


def time_features(seq_len: int, n_freq: int) -> jax.Array:
    """Fixed Fourier features ``[T, 2 * n_freq]``: sin/cos of (k + 0.5) cycles per window."""
    t = jnp.arange(seq_len, dtype=jnp.float32)[:, None] / seq_len
    w = 2 * jnp.pi * (jnp.arange(n_freq, dtype=jnp.float32) + 0.5)
    return jnp.concatenate([jnp.sin(w * t), jnp.cos(w * t)], axis=-1)


def initial_states(z_bd: jax.Array, hidden: tuple[int, int]):
    """Both LSTMs' initial ``(h, c)`` from z: ``tanh(Dense(2 (H1 + H2))(z))`` split in four.

    Called inside a decoder's compact ``__call__`` (its parameters: ``fc_state``).
    Returns ``((h1_bh, c1_bh), (h2_bh, c2_bh))``.
    """
    h1, h2 = hidden
    s = jnp.tanh(Dense(2 * (h1 + h2), name="fc_state")(z_bd))
    a, b, c = h1, 2 * h1, 2 * h1 + h2
    return (s[:, :a], s[:, a:b]), (s[:, b:c], s[:, c:])


class NormalDecoder(nn.Module):
    """Stage-1 decoder ψ: ``z_bd`` -> reconstruction ``[B, T, C]``.

    With ``n_freq > 0`` the LSTM input at step t is ``[zc, fourier_features(t)]``, so
    the decoder does not have to learn an oscillator from a constant input.
    """

    hidden: tuple[int, int]
    channels: int
    seq_len: int
    unroll: int = 1
    n_freq: int = 0
    state_from_z: bool = False

    @nn.compact
    def __call__(self, z_bd):
        zc = jnp.tanh(Dense(self.hidden[0], name="fc_z")(z_bd))
        carry1, carry2 = initial_states(z_bd, self.hidden) if self.state_from_z else (None, None)
        f = time_features(self.seq_len, self.n_freq) if self.n_freq else None
        # input [zc, f_t]: zc is the same at every step and f for every series, so both
        # are projected once; no per-step input is left ([B, T, 0])
        no_input = jnp.zeros((zc.shape[0], self.seq_len, 0), zc.dtype)
        h1, _ = LSTM(self.hidden[0], unroll=self.unroll, name="lstm1")(
            no_input, carry1, static_bd=zc, shared_tf=f)
        h2, _ = LSTM(self.hidden[1], unroll=self.unroll, name="lstm2")(h1, carry2)
        return Dense(self.channels, name="out")(h2)


class AnomalyDecoder(nn.Module):
    """Stage-2 decoder φ, teacher forced: ``(z_bd, x_btc, y_bt)`` -> ``(mean, logvar)``."""

    hidden: tuple[int, int]
    channels: int
    head_hidden: int = 64
    cond_at: str = "last"
    unroll: int = 1

    def setup(self):
        self.fc_z = Dense(self.hidden[0])
        self.lstm1 = LSTM(self.hidden[0], unroll=self.unroll)
        self.lstm2 = LSTM(self.hidden[1], unroll=self.unroll)
        self.head1 = Dense(self.head_hidden)
        self.head2 = Dense(self.channels * 2)

    def __call__(self, z_bd, x_btc, y_bt):
        b, t, _ = x_btc.shape
        zc = jnp.tanh(self.fc_z(z_bd))
        x_prev = jnp.concatenate([jnp.zeros_like(x_btc[:, :1]), x_btc[:, :-1]], axis=1)
        u = [x_prev, y_bt[..., None]] if self.cond_at == "first" else [x_prev]
        # input [zc, x_{t-1}(, y_t)]; zc is the same at every step: projected once
        h1, _ = self.lstm1(jnp.concatenate(u, -1), static_bd=zc)
        h2, _ = self.lstm2(h1)
        return self.head(h2, y_bt)

    def head(self, h2, y):
        """Per-step output ``(mean, logvar)`` from the top hidden state (and y if last)."""
        if self.cond_at == "last":
            h2 = jnp.concatenate([h2, y[..., None]], axis=-1)
        out = self.head2(jax.nn.relu(self.head1(h2)))
        return out[..., : self.channels], out[..., self.channels:]


def sample_anomaly_decoder(
    params,
    dec: AnomalyDecoder,
    z_bd: jax.Array,
    y_bt: jax.Array,
    noise_btc: jax.Array,
    temperature: float = 1.0,
) -> jax.Array:
    """Ancestral sampling from φ: one ``lax.scan`` over time, own samples fed back.

    The part of the first LSTM's input projection that depends only on z (and y)
    is computed for all steps before the scan. Returns ``x_btc``.
    """
    p = params
    c = dec.channels
    h1n, h2n = dec.hidden
    zc = jnp.tanh(z_bd @ p["fc_z"]["kernel"] + p["fc_z"]["bias"])
    w1 = p["lstm1"]["w_ih"]
    w_z, w_x = w1[: zc.shape[1]], w1[zc.shape[1]: zc.shape[1] + c]
    base_tb = (zc @ w_z + p["lstm1"]["b"])[None]  # [1, B, 4H]
    if dec.cond_at == "first":
        base_tb = base_tb + jnp.swapaxes(y_bt, 0, 1)[..., None] * w1[-1]
    else:
        base_tb = jnp.broadcast_to(base_tb, (y_bt.shape[1], *base_tb.shape[1:]))
    b = z_bd.shape[0]
    init = (jnp.zeros((b, h1n)), jnp.zeros((b, h1n)), jnp.zeros((b, h2n)), jnp.zeros((b, h2n)),
            jnp.zeros((b, c)))

    def step(carry, inputs):
        h1, c1, h2, c2, x_prev = carry
        base_b4h, y_b, eps_bc = inputs
        h1, c1 = lstm_gates(base_b4h + x_prev @ w_x + h1 @ p["lstm1"]["w_hh"], c1)
        pre2 = h1 @ p["lstm2"]["w_ih"] + h2 @ p["lstm2"]["w_hh"] + p["lstm2"]["b"]
        h2, c2 = lstm_gates(pre2, c2)
        mean, logvar = dec.apply({"params": params}, h2, y_b, method=AnomalyDecoder.head)
        x = mean + temperature * jnp.exp(0.5 * logvar) * eps_bc
        return (h1, c1, h2, c2, x), x

    xs = (base_tb, jnp.swapaxes(y_bt, 0, 1), jnp.swapaxes(noise_btc, 0, 1))
    _, x_tbc = lax.scan(step, init, xs)
    return jnp.swapaxes(x_tbc, 0, 1)
