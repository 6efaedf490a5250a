"""C-GATS stage-2 decoders that read z (and labels) without feeding back samples.

Two decoders, both two stacked LSTMs over ``[zc, fourier features(t)]`` exactly as
the stage-1 decoder ψ (:class:`~jtsgen.models.cgats_nets.NormalDecoder`), so stage 2
can start from ψ's weights (:func:`warm_start`):

* ``decoder="paper"`` (paper Sec. 3, Alg. 2): the label enters at the last layer,
  a per-step head ``MLP([h2_t, y_t]) -> (mean_t, logvar_t)``; generation returns the
  mean (plus ``temperature`` times the per-step noise).
* ``decoder="anomaly_latent"`` (jtsgen's default, its extension of the paper): a
  per-window *anomaly latent* ``a`` (``anomaly_dim``) inferred in stage 2 from the
  full anomalous window by :class:`AnomalyEncoder`, with prior N(0, I) and its own
  KL term. The head is label-gated: ``mean_t = out(h2_t) + y_t * d(h2_t, a)``
  (likewise the log-variance), so unlabelled steps follow the normal pattern of z,
  and every labelled step of a window draws its change from the same ``a`` — an
  anomaly keeps its direction and size over its run instead of being independent
  per-step noise (z is inferred from the *occluded* series and knows nothing of it).

``cond_at="first"`` (Table 11's ablation) feeds ``[y_t, y_t * a]`` to the first
LSTM instead, and the head reads ``h2`` alone.

Shapes: ``z_bd [B, latent]``, ``a_bd [B, anomaly_dim]``, ``y_bt [B, T]``,
outputs ``[B, T, C]``.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jtsgen.models.cgats_nets import initial_states, time_features
from jtsgen.nn.lstm import LSTM, Dense


class AnomalyEncoder(nn.Module):
    """``(x_btc, y_bt) -> (mu_a, logvar_a)``, each ``[B, dim]``.

    One LSTM reads ``[x_t, Δx_t, y_t]`` (so it sees the normal context before a run
    and the jump into it); its states are averaged over the labelled steps.
    """

    hidden: int
    dim: int
    unroll: int = 1

    @nn.compact
    def __call__(self, x_btc, y_bt):
        dx = jnp.concatenate([jnp.zeros_like(x_btc[:, :1]), jnp.diff(x_btc, axis=1)], axis=1)
        u = jnp.concatenate([x_btc, dx, y_bt[..., None]], axis=-1)
        h, _ = LSTM(self.hidden, unroll=self.unroll, name="lstm")(u)
        w = y_bt[..., None] / jnp.maximum(jnp.sum(y_bt, axis=1)[:, None, None], 1.0)
        pooled = jnp.sum(h * w, axis=1)
        return Dense(self.dim, name="fc_mu")(pooled), Dense(self.dim, name="fc_logvar")(pooled)


class LatentDecoder(nn.Module):
    """Stage-2 decoder φ: ``(z_bd, y_bt, a_bd) -> (mean_btc, logvar_btc)``.

    ``anomaly_dim = 0`` is the paper's decoder (``a_bd`` ignored, may be None).
    """

    hidden: tuple[int, int]
    channels: int
    seq_len: int
    head_hidden: int = 64
    cond_at: str = "last"
    anomaly_dim: int = 0
    unroll: int = 1
    n_freq: int = 0
    state_from_z: bool = False

    @nn.compact
    def __call__(self, z_bd, y_bt, a_bd=None):
        c = self.channels
        zc = jnp.tanh(Dense(self.hidden[0], name="fc_z")(z_bd))
        carry1, carry2 = initial_states(z_bd, self.hidden) if self.state_from_z else (None, None)
        f = time_features(self.seq_len, self.n_freq) if self.n_freq else None
        y = y_bt[..., None]
        if self.cond_at == "first":
            dyn = [y] + ([y * a_bd[:, None, :]] if self.anomaly_dim else [])
            dyn = jnp.concatenate(dyn, axis=-1)
        else:
            dyn = jnp.zeros((zc.shape[0], self.seq_len, 0), zc.dtype)
        h1, _ = LSTM(self.hidden[0], unroll=self.unroll, name="lstm1")(
            dyn, carry1, static_bd=zc, shared_tf=f)
        h2, _ = LSTM(self.hidden[1], unroll=self.unroll, name="lstm2")(h1, carry2)
        if self.cond_at == "first":
            return Dense(c, name="out")(h2), Dense(c, name="logvar")(h2)
        if not self.anomaly_dim:  # the paper's head: labels concatenated at the last layer
            out = Dense(2 * c, name="head2")(
                jax.nn.relu(Dense(self.head_hidden, name="head1")(jnp.concatenate([h2, y], -1))))
            return out[..., :c], out[..., c:]
        a_btd = jnp.broadcast_to(a_bd[:, None, :], (*h2.shape[:2], a_bd.shape[-1]))
        d = Dense(2 * c, name="head2")(
            jax.nn.relu(Dense(self.head_hidden, name="head1")(jnp.concatenate([h2, a_btd], -1))))
        mean = Dense(c, name="out")(h2) + y * d[..., :c]
        logvar = Dense(c, name="logvar")(h2) + y * d[..., c:]
        return mean, logvar


def warm_start(params: dict, psi: dict) -> dict:
    """φ's initial parameters with ψ's (stage 1's decoder) copied in where they fit.

    ``fc_z``, ``fc_state``, ``lstm2`` and ``out`` are copied (as new arrays) when their
    shapes match; ``lstm1``'s input weights ``[zc | per-step inputs | time features]``
    take ψ's rows for zc and the time features and keep their own initialisation for
    the per-step (label) inputs that ψ does not have.
    """
    psi = jax.tree.map(jnp.copy, psi)  # training donates its state; ψ's arrays stay alive
    out = dict(params)
    for name in ("fc_z", "fc_state", "lstm2", "out"):
        if name in psi and name in params and jax.tree.all(jax.tree.map(
                lambda a, b: a.shape == b.shape, params[name], psi[name])):
            out[name] = psi[name]
    if "lstm1" in params and "lstm1" in psi:
        w_new, w_psi = params["lstm1"]["w_ih"], psi["lstm1"]["w_ih"]
        n_z = params["fc_z"]["kernel"].shape[1]
        extra = w_new.shape[0] - w_psi.shape[0]
        w = jnp.concatenate([w_psi[:n_z], w_new[n_z:n_z + extra], w_psi[n_z:]], axis=0)
        out["lstm1"] = {"w_ih": w, "w_hh": psi["lstm1"]["w_hh"], "b": psi["lstm1"]["b"]}
    return out
