"""Seq2seq forecasters of seed 003: LSTM encoder-decoder and its attention variant.

Shapes: inputs ``x_bic [B, I, C]`` (``I = input_len`` steps), forecasts and targets
``y_bhc [B, H, C]`` (``H = horizon``), attention weights ``attn_bnhi [B, n_heads, H, I]``.

* ``kind="lstm"``: an LSTM encoder reads the inputs; its final ``(h, c)`` starts an LSTM
  decoder cell that runs ``H`` steps in one ``lax.scan``, each step consuming the
  previous forecast (the first step: the last observed input) and emitting the next
  through a linear layer.
* ``kind="attention"``: the same encoder and decoder, plus multi-head scaled
  dot-product attention: at every decoder step the query ``W_q h_t`` attends over the
  encoder states (plus a learned position embedding, so keys know their lag); the
  output layer reads ``[h_t, context_t]``. The weights are returned per head and step.

Training options that do not change shapes travel as arrays in ``hp`` (so candidates
differing only in them can train as one vmapped population): ``dropout`` (on encoder
states and decoder outputs) and ``teacher_forcing`` (the probability that a decoder
step consumes the true previous target instead of its own forecast). The learning
rate lives in the optimiser state (:func:`with_learning_rate`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState

from jtsgen.errors import InputError
from jtsgen.nn.lstm import LSTM, input_projection, lstm_gates, torch_uniform

FAMILIES = ("lstm", "attention")


@dataclasses.dataclass(frozen=True)
class ForecastConfig:
    """Static shapes of a forecaster (the seed: input 60, horizon 10, 3 channels)."""

    kind: str = "lstm"
    input_len: int = 60
    horizon: int = 10
    channels: int = 3
    hidden: int = 32
    heads: int = 4
    unroll: int = 1

    def __post_init__(self):
        if self.kind not in FAMILIES:
            raise InputError("kind", f"unknown {self.kind!r}; choose from {list(FAMILIES)}")
        for name in ("input_len", "horizon", "channels", "hidden", "heads", "unroll"):
            if getattr(self, name) < 1:
                raise InputError(name, f"must be >= 1, got {getattr(self, name)}")
        if self.kind == "attention" and self.hidden % self.heads:
            raise InputError("hidden", f"{self.hidden} is not divisible by heads={self.heads}")


def hparams(dropout: float = 0.0, teacher_forcing: float = 0.0) -> dict[str, jax.Array]:
    """The per-candidate training options as float32 scalars."""
    if not (0.0 <= dropout < 1.0 and 0.0 <= teacher_forcing <= 1.0):
        raise InputError("hp", f"need 0 <= dropout < 1 and 0 <= teacher_forcing <= 1, got "
                               f"{dropout}, {teacher_forcing}")
    return {"dropout": jnp.float32(dropout), "teacher_forcing": jnp.float32(teacher_forcing)}


def _keep(u: jax.Array, rate: jax.Array) -> jax.Array:
    """Inverted-dropout multipliers from uniforms ``u``: 0 with probability ``rate``,
    else ``1 / (1 - rate)``."""
    return (u >= rate) / (1.0 - rate)


def _uniforms(key: jax.Array, batch: int, sizes: tuple[int, ...]) -> list[jax.Array]:
    """One ``[batch, sum(sizes)]`` uniform draw cut into ``[batch, size]`` pieces (one
    random-bits kernel instead of one per use: it compiles several seconds faster)."""
    u = jax.random.uniform(key, (batch, sum(sizes)))
    cuts = [sum(sizes[:i]) for i in range(1, len(sizes))]
    return jnp.split(u, cuts, axis=1)


def attend(q_bnd: jax.Array, k_bnid: jax.Array, v_bnid: jax.Array):
    """Scaled dot-product attention of one query per head over ``I`` keys.

    Returns ``(context_bnd, weights_bni)``; the weights are a softmax over ``I``."""
    scores = jnp.einsum("bnd,bnid->bni", q_bnd, k_bnid) / math.sqrt(q_bnd.shape[-1])
    weights = jax.nn.softmax(scores, axis=-1)
    return jnp.einsum("bni,bnid->bnd", weights, v_bnid), weights


class Seq2Seq(nn.Module):
    """``(x_bic, y_bhc, hp, key) -> (forecast_bhc, attn_bnhi or None)``; ``y_bhc`` is
    read only where teacher forcing picks it."""

    config: ForecastConfig

    @nn.compact
    def __call__(self, x_bic, y_bhc, hp, key):
        cfg = self.config
        batch, hid, ch = x_bic.shape[0], cfg.hidden, cfg.channels
        n_in, n_out = cfg.input_len, cfg.horizon
        u_enc, u_dec, u_tf = _uniforms(key, batch, (n_in * hid, n_out * hid, n_out))
        enc_bih, (h, c) = LSTM(hid, unroll=cfg.unroll, name="encoder")(x_bic)
        enc_bih = enc_bih * _keep(u_enc, hp["dropout"]).reshape(batch, n_in, hid)
        init = torch_uniform(1.0 / hid**0.5)
        w_ih = self.param("dec_w_ih", init, (ch, 4 * hid))
        w_hh = self.param("dec_w_hh", init, (hid, 4 * hid))
        b = self.param("dec_b", init, (4 * hid,))
        attention = cfg.kind == "attention"
        feat = 2 * hid if attention else hid
        w_out = self.param("out_w", torch_uniform(1.0 / feat**0.5), (feat, ch))
        b_out = self.param("out_b", torch_uniform(1.0 / feat**0.5), (ch,))
        if attention:
            n, dk = cfg.heads, hid // cfg.heads
            pos_ih = self.param("pos", nn.initializers.normal(0.1), (cfg.input_len, hid))
            w_q, w_k, w_v = (self.param(f"w_{s}", init, (hid, hid)) for s in "qkv")
            mem = enc_bih + pos_ih
            k_bnid, v_bnid = ((mem @ w).reshape(batch, -1, n, dk).transpose(0, 2, 1, 3)
                              for w in (w_k, w_v))
        # per-step randomness drawn before the loop: [H, B] teacher forcing, [H, B, hid] dropout
        tf_hb = (u_tf < hp["teacher_forcing"]).T
        drop_hbd = jnp.swapaxes(_keep(u_dec, hp["dropout"]).reshape(batch, n_out, hid), 0, 1)
        last_bc = x_bic[:, -1, :]
        prev_true_hbc = jnp.concatenate([last_bc[None], jnp.swapaxes(y_bhc, 0, 1)[:-1]], 0)

        def step(carry, xs):
            h, c, y_prev = carry
            forced_b, true_prev_bc, drop_bd = xs
            inp = jnp.where(forced_b[:, None], true_prev_bc, y_prev)
            h, c = lstm_gates(input_projection(inp, w_ih, b) + h @ w_hh, c)
            feat_bf = h * drop_bd
            weights = None
            if attention:
                ctx, weights = attend((feat_bf @ w_q).reshape(batch, n, dk), k_bnid, v_bnid)
                feat_bf = jnp.concatenate([feat_bf, ctx.reshape(batch, hid)], axis=-1)
            y = feat_bf @ w_out + b_out
            return (h, c, y), (y, weights)

        _, (y_hbc, w_hbni) = jax.lax.scan(step, (h, c, last_bc),
                                          (tf_hb, prev_true_hbc, drop_hbd), unroll=cfg.unroll)
        attn = None if w_hbni is None else w_hbni.transpose(1, 2, 0, 3)
        return jnp.swapaxes(y_hbc, 0, 1), attn


@functools.partial(jax.jit, static_argnums=(1,))
def init_params(key: jax.Array, config: ForecastConfig) -> Any:
    """Parameters of :class:`Seq2Seq` for ``config`` (compiled once per config)."""
    x = jnp.zeros((1, config.input_len, config.channels))
    y = jnp.zeros((1, config.horizon, config.channels))
    return Seq2Seq(config).init(key, x, y, hparams(), jax.random.key(0))["params"]


def forecast(params: Any, x_bic: jax.Array, config: ForecastConfig, *, y_bhc=None,
             hp: dict | None = None, key: jax.Array | None = None):
    """``(forecast_bhc, attn_bnhi or None)``. Without ``hp``: no dropout, no teacher
    forcing (evaluation); ``y_bhc`` is then unused."""
    x_bic = jnp.asarray(x_bic, jnp.float32)
    if y_bhc is None:
        y_bhc = jnp.zeros((x_bic.shape[0], config.horizon, config.channels), x_bic.dtype)
    hp = hparams() if hp is None else hp
    key = jax.random.key(0) if key is None else key
    return Seq2Seq(config).apply({"params": params}, x_bic, y_bhc, hp, key)


@functools.partial(jax.jit, static_argnums=(2,))
def _forecast_eval(params, x_bic, config):
    return forecast(params, x_bic, config)


def predict(params: Any, x_bic, config: ForecastConfig, *, chunk: int = 1024):
    """Evaluation forecasts as numpy: ``(forecast_bhc, attn_bnhi or None)``, ``chunk``
    windows per compiled call."""
    import numpy as np

    outs = [_forecast_eval(params, jnp.asarray(x_bic[i:i + chunk]), config)
            for i in range(0, len(x_bic), chunk)]
    y = np.concatenate([np.asarray(o[0]) for o in outs])
    attn = None if outs[0][1] is None else np.concatenate([np.asarray(o[1]) for o in outs])
    return y, attn


@functools.cache
def make_loss_fn(config: ForecastConfig):
    """``(params, batch, key) -> (mse, {})`` over a batch ``{"x", "y", "hp"}`` (scaled units)."""

    def loss_fn(params, batch, key):
        pred, _ = forecast(params, batch["x"], config, y_bhc=batch["y"], hp=batch["hp"],
                           key=key)
        return jnp.mean((pred - batch["y"]) ** 2), {}

    return loss_fn


@functools.cache
def sample_windows(batch_size: int):
    """Sampler ``(key, data) -> batch``: ``batch_size`` rows (with replacement) of
    ``data["x"]`` and ``data["y"]``; ``data["hp"]`` passes through."""

    def sample(key, data):
        idx = jax.random.randint(key, (batch_size,), 0, data["x"].shape[0])
        return {"x": jnp.take(data["x"], idx, axis=0), "y": jnp.take(data["y"], idx, axis=0),
                "hp": data["hp"]}

    return sample


def train_data(x_bic, y_bhc, hp: dict) -> dict[str, Any]:
    """The ``data`` pytree for :func:`jtsgen.train.fit` with :func:`sample_windows`."""
    return {"x": jnp.asarray(x_bic, jnp.float32), "y": jnp.asarray(y_bhc, jnp.float32),
            "hp": hp}


# one optimiser object, so every state shares a tree structure (and compiled programs)
OPTIMIZER = optax.inject_hyperparams(optax.adam)(learning_rate=1e-3)


def with_learning_rate(state: TrainState, learning_rate) -> TrainState:
    """``state`` with Adam's learning rate (held in the optimiser state) set."""
    opt = state.opt_state
    hyper = dict(opt.hyperparams, learning_rate=jnp.asarray(learning_rate, jnp.float32))
    return state.replace(opt_state=opt._replace(hyperparams=hyper))
