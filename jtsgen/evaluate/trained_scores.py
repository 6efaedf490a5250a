"""Fidelity scores that train a small network through :func:`jtsgen.train.fit`.

Inputs as in :mod:`jtsgen.evaluate.fidelity`: ``real [N, T]`` or ``[N, T, C]`` against
``fake [M, T(, C)]``. Each score takes a ``key`` and small default step counts
(seconds on a CPU):

* ``discriminative_score`` (TimeGAN) — an LSTM classifier is trained to tell real from
  synthetic windows on 80 % of an equal number of each; |held-out accuracy - 0.5|,
  in [0, 0.5], 0 = indistinguishable;
* ``predictive_score`` (TimeGAN, train on synthetic, test on real) — an LSTM trained
  on the synthetic windows to predict every next step ``x[t+1]`` from ``x[:t+1]``;
  its mean absolute error on the real windows (lower is better; the floor is the
  same model trained on real data);
* ``context_fid`` (Context-FID) — Fréchet distance between the embeddings of real and
  synthetic windows by a small convolutional encoder trained contrastively (two
  augmented views of a window attract, other windows repel) on the real data only;
  0 = identical embedding statistics.
* :func:`trained_scores` — the three for several synthetic sets against one real set,
  one context-FID encoder shared.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jtsgen.evaluate.fidelity import as_btc, frechet_distance
from jtsgen.nn.conv import Conv1D
from jtsgen.nn.lstm import LSTM, Dense
from jtsgen.train import adam, create_state, fit, sample_rows


class SequenceHead(nn.Module):
    """LSTM over ``x_btc [B, T, C]`` then a linear layer: ``[B, out]`` from the last
    hidden state, or ``[B, T, out]`` from every step (``per_step``)."""

    hidden: int
    out: int
    per_step: bool = False

    @nn.compact
    def __call__(self, x_btc):
        h_bth, (h_bh, _) = LSTM(self.hidden)(x_btc)
        return Dense(self.out)(h_bth if self.per_step else h_bh)


@functools.cache
def _classifier_loss(hidden: int):
    model = SequenceHead(hidden, 1)

    def loss_fn(params, batch, key):
        x_btc, y_b = batch
        logits = model.apply({"params": params}, x_btc)[:, 0]
        return optax.sigmoid_binary_cross_entropy(logits, y_b).mean(), {}

    return loss_fn


@functools.cache
def _predictor_loss(hidden: int, channels: int):
    model = SequenceHead(hidden, channels, per_step=True)

    def loss_fn(params, x_btc, key):
        pred = model.apply({"params": params}, x_btc[:, :-1])
        return jnp.abs(pred - x_btc[:, 1:]).mean(), {}

    return loss_fn


def _train(model, loss_fn, data, key, steps: int, batch: int, lr: float):
    """Initialises ``model`` on one row of ``data`` and fits ``loss_fn`` for ``steps``."""
    init_key, fit_key = jax.random.split(key)
    x0 = jax.tree.leaves(data)[0][:1]
    state = create_state(model.init(init_key, x0)["params"], adam(lr))
    return fit(state, data, fit_key, loss_fn=loss_fn, sampler=sample_rows(batch),
               num_steps=steps, steps_per_call=steps, progress=False).state.params


def discriminative_score(real, fake, key: jax.Array, *, hidden: int = 16, steps: int = 300,
                         batch: int = 64, lr: float = 5e-3) -> float:
    """|held-out accuracy - 0.5| of an LSTM telling ``real [N, T(, C)]`` from
    ``fake [M, T(, C)]``: n = min(N, M) windows of each, 80 % to train, 20 % to test."""
    real, fake = as_btc(real), as_btc(fake)
    n = min(len(real), len(fake))
    kr, kf, kt = jax.random.split(key, 3)
    pick = [np.asarray(jax.random.permutation(k, len(x)))[:n] for k, x in ((kr, real), (kf, fake))]
    cut = int(0.8 * n)
    x = np.concatenate([real[pick[0]], fake[pick[1]]]).astype(np.float32)
    y = np.concatenate([np.zeros(n), np.ones(n)]).astype(np.float32)
    fit_rows = np.r_[0:cut, n:n + cut]
    test_rows = np.r_[cut:n, n + cut:2 * n]
    model = SequenceHead(hidden, 1)
    params = _train(model, _classifier_loss(hidden), (jnp.asarray(x[fit_rows]),
                    jnp.asarray(y[fit_rows])), kt, steps, batch, lr)
    logits = np.asarray(model.apply({"params": params}, jnp.asarray(x[test_rows])))[:, 0]
    return float(abs(np.mean((logits > 0) == (y[test_rows] > 0.5)) - 0.5))


def predictive_score(real, fake, key: jax.Array, *, hidden: int = 16, steps: int = 300,
                     batch: int = 64, lr: float = 5e-3) -> float:
    """MAE on ``real [N, T(, C)]`` of a one-step-ahead LSTM predictor trained on
    ``fake [M, T(, C)]`` (train on synthetic, test on real)."""
    real, fake = as_btc(real), as_btc(fake)
    c = real.shape[-1]
    model = SequenceHead(hidden, c, per_step=True)
    params = _train(model, _predictor_loss(hidden, c), jnp.asarray(fake, jnp.float32), key,
                    steps, batch, lr)
    x = jnp.asarray(real, jnp.float32)
    return float(jnp.abs(model.apply({"params": params}, x[:, :-1]) - x[:, 1:]).mean())


class ConvEncoder(nn.Module):
    """``x_btc [B, T, C]`` -> embedding ``[B, features]``: two dilated convolutions,
    max over time, a linear layer."""

    width: int = 32
    features: int = 16

    @nn.compact
    def __call__(self, x_btc):
        h = nn.gelu(Conv1D(self.width, 5, padding="same")(x_btc))
        h = nn.gelu(Conv1D(self.width, 5, dilation=2, padding="same")(h))
        return Dense(self.features)(h.max(axis=1))


def _views(key, x_btc, crop: int):
    """A random crop of ``crop`` steps, scaled by N(1, 0.1²) and jittered with N(0, 0.1²)."""
    b, t, c = x_btc.shape
    k1, k2, k3 = jax.random.split(key, 3)
    start = jax.random.randint(k1, (b,), 0, t - crop + 1)
    x = jax.vmap(lambda xi, s: jax.lax.dynamic_slice_in_dim(xi, s, crop))(x_btc, start)
    x = x * (1.0 + 0.1 * jax.random.normal(k2, (b, 1, c)))
    return x + 0.1 * jax.random.normal(k3, x.shape)


@functools.cache
def _contrastive_loss(width: int, features: int, crop: int, temperature: float = 0.1):
    model = ConvEncoder(width, features)

    def loss_fn(params, x_btc, key):
        k1, k2 = jax.random.split(key)
        z = [model.apply({"params": params}, _views(k, x_btc, crop)) for k in (k1, k2)]
        z1, z2 = (v / (jnp.linalg.norm(v, axis=1, keepdims=True) + 1e-8) for v in z)
        logits = z1 @ z2.T / temperature
        target = jnp.arange(x_btc.shape[0])
        loss = 0.5 * (optax.softmax_cross_entropy_with_integer_labels(logits, target).mean()
                      + optax.softmax_cross_entropy_with_integer_labels(logits.T, target).mean())
        return loss, {}

    return loss_fn


def fit_context_encoder(real, key: jax.Array, *, width: int = 32, features: int = 16,
                        steps: int = 200, batch: int = 64, lr: float = 3e-3):
    """Trains the Context-FID encoder on ``real [N, T(, C)]`` only; returns
    ``embed(x [M, T(, C)]) -> [M, features]`` (inputs scaled by the real data's
    per-channel mean and std)."""
    real = as_btc(real)
    mean, std = real.mean(axis=(0, 1)), real.std(axis=(0, 1)) + 1e-8
    crop = max(2, int(0.75 * real.shape[1]))
    model = ConvEncoder(width, features)
    x = jnp.asarray((real - mean) / std, jnp.float32)
    params = _train(model, _contrastive_loss(width, features, crop), x, key, steps, batch, lr)

    def embed(x_btc) -> np.ndarray:
        z = jnp.asarray((as_btc(x_btc) - mean) / std, jnp.float32)
        return np.asarray(model.apply({"params": params}, z))

    return embed


def context_fid(real, fake, key: jax.Array | None = None, *, embed=None) -> float:
    """Fréchet distance of ``real`` and ``fake`` embeddings by ``embed`` (default: a
    fresh :func:`fit_context_encoder` on ``real`` with ``key``)."""
    embed = embed or fit_context_encoder(real, key)
    return frechet_distance(embed(real), embed(fake))


def trained_scores(real, sets: dict, key: jax.Array, *, steps: int = 300,
                   encoder_steps: int = 200) -> dict[str, dict[str, float]]:
    """The three trained scores of every synthetic set against ``real [N, T, C]``:
    ``{name: {"discriminative_score", "predictive_score", "context_fid"}}`` for
    ``sets = {name: [M, T, C]}``. One context-FID encoder, trained on ``real`` with the
    first half of ``split(key)``, embeds every set; set ``i``'s classifier and predictor
    use ``split(fold_in(second half, i))`` (``steps`` training steps each)."""
    k_enc, k_rows = jax.random.split(key)
    embed = fit_context_encoder(real, k_enc, steps=encoder_steps)
    out = {}
    for i, (name, synth) in enumerate(sets.items()):
        k_disc, k_pred = jax.random.split(jax.random.fold_in(k_rows, i))
        out[name] = {"discriminative_score": discriminative_score(real, synth, k_disc,
                                                                  steps=steps),
                     "predictive_score": predictive_score(real, synth, k_pred, steps=steps),
                     "context_fid": context_fid(real, synth, embed=embed)}
    return out
