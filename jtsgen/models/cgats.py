"""C-GATS: two-stage conditional VAE for labelled anomalous time series (paper Section 3).

Stage 1 (Algorithm 1): draw Y^A ~ p(Y^A), occlude normal windows X^N at the labelled
steps, and train encoder θ + decoder ψ on pairs (X̃, X^N) with the ELBO.
Stage 2 (Algorithm 2): freeze θ; occlude anomalous windows X^A at their own labels,
encode to z, and train the conditional decoder φ with −log p(X^A | z, Y^A). With θ
frozen, the posterior of every training window is computed once (:func:`posterior`)
and z is drawn from it on each step, rather than re-encoding every batch.
Generation: ``generate(state, key, labels_bt) -> x_btc`` with z from the fitted
prior (or N(0, I)), or z from θ applied to a given (occluded) series; the output
carries its labels. Functional like the other generators: :func:`fit` returns a
:class:`CGATSState` pytree and its loss history; every other function reads it.

Stage-2 decoders (config ``decoder``, :mod:`jtsgen.models.cgats_decoders`):
``"anomaly_latent"`` (default; jtsgen's extension: a per-window anomaly latent ``a``
inferred from the full anomalous window, label-gated head), ``"paper"`` (the paper's
non-autoregressive decoder, labels at the last layer) and ``"autoregressive"``
(teacher-forced LSTM fed its own samples, :class:`~jtsgen.models.cgats_nets.AnomalyDecoder`).
The non-autoregressive decoders start from stage 1's decoder ψ (``warm_start``).

Ablations (config ``variant``): ``"cgats"`` (the method), ``"cvae"`` (end-to-end
CVAE on anomalous windows, no stage 1: Table 10), and ``cond_at="first"``
(condition at the first decoder layer: Table 11); both use the same decoder.

Losses (per window, averaged over the batch, divided by T for scale):
  stage 1: ``sum_tc (x - x̂)^2 + kl_weight * KL(q(z|X̃) || N(0, I))``;
  stage 2: Gaussian NLL ``0.5 * sum_tc (logvar + (x - mean)^2 / exp(logvar))``
  (+ ``anomaly_kl_weight * KL(q(a|X, Y) || N(0, I))`` with the anomaly latent);
  cvae: the stage-2 loss + ``kl_weight * KL`` with the encoder trained jointly.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh

from jtsgen.data.scalers import QuantileNormal, fit_quantile_normal
from jtsgen.data.validate import check_label_vectors
from jtsgen.errors import InputError
from jtsgen.models.cgats_decoders import AnomalyEncoder, LatentDecoder, warm_start
from jtsgen.models.cgats_labels import (
    LabelModel,
    fit_label_model,
    occlude,
    sample_labels,
)
from jtsgen.models.cgats_nets import AnomalyDecoder, Encoder, NormalDecoder, sample_anomaly_decoder
from jtsgen.train import (
    adam,
    create_state,
    for_one_device,
    per_device_rows,
    sample_rows,
)
from jtsgen.train import fit as train_fit

VARIANTS = ("cgats", "cvae")
DECODERS = ("anomaly_latent", "paper", "autoregressive")
MARGINALS = ("identity", "quantile")
NOISES = ("gaussian", "residual")


@dataclasses.dataclass(frozen=True)
class CGATSConfig:
    """Static configuration (paper: 32/64 units, latent 16, Adam 1e-3).

    Two defaults are jtsgen's, not the paper's, because without them stage 1
    does not learn on a CPU budget (its reconstruction stays at the series
    variance: the posterior collapses): ``n_freq = 8`` Fourier time features for
    the stage-1 encoder and decoder (:class:`~jtsgen.models.cgats_nets.Encoder`,
    :class:`~jtsgen.models.cgats_nets.NormalDecoder`), and ``kl_weight = 0.01``
    (a β-VAE; the paper's ELBO is ``kl_weight = 1``). ``n_freq = 0`` and
    ``kl_weight = 1`` give the paper's plain networks and objective.

    ``marginal="quantile"`` (jtsgen's option for heavy-tailed data) trains both
    stages on the training values mapped to N(0, 1) through their empirical
    quantiles (:func:`~jtsgen.data.scalers.fit_quantile_normal`) and maps generated
    series back, so they keep the data's marginal distribution (bursts included)
    that a Gaussian likelihood shrinks; ``"identity"`` models the values as given.
    ``noise="residual"`` (jtsgen's option, non-autoregressive decoders) replaces the
    Gaussian output noise by whole residual windows (data minus the decoder's mean)
    of normal training windows, drawn at random, so generated normal stretches keep
    the data's own bursts and their clustering in time; ``"gaussian"`` is the
    decoder's per-step N(0, σ²).
    """

    seq_len: int = 240
    channels: int = 1
    hidden: tuple[int, int] = (32, 64)
    latent: int = 16
    head_hidden: int = 64
    kl_weight: float = 0.01
    learning_rate: float = 1e-3
    batch_size: int = 64
    stage1_steps: int = 1000
    stage2_steps: int = 1000
    steps_per_call: int = 50
    variant: str = "cgats"
    cond_at: str = "last"
    unroll: int = 2
    min_logvar: float = -7.0
    n_freq: int = 8
    decoder: str = "anomaly_latent"
    anomaly_dim: int = 4
    anomaly_kl_weight: float = 1.0
    warm_start: bool = True
    # jtsgen's: ψ's and φ's LSTMs start from states read off z, not zeros (the
    # autoregressive decoder keeps zeros)
    state_from_z: bool = True
    marginal: str = "identity"
    noise: str = "gaussian"
    # jtsgen's: calibrate the output-noise temperature of labelled steps on their own
    # (the roughness inside the training windows' labelled runs), not with the normal
    # steps' (see calibrate_temperature)
    label_temperature: bool = False

    def __post_init__(self):
        for name in ("seq_len", "channels", "latent", "head_hidden", "batch_size",
                     "stage1_steps", "stage2_steps", "steps_per_call", "unroll"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if len(self.hidden) != 2 or min(self.hidden) < 1:
            raise ValueError(f"hidden must be two sizes >= 1, got {self.hidden}")
        if self.learning_rate <= 0 or self.kl_weight < 0 or self.n_freq < 0:
            raise ValueError("learning_rate must be > 0, kl_weight and n_freq >= 0")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if self.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {self.decoder!r}")
        if self.decoder == "anomaly_latent" and self.anomaly_dim < 1:
            raise ValueError(f"anomaly_dim must be >= 1, got {self.anomaly_dim}")
        if self.marginal not in MARGINALS:
            raise ValueError(f"marginal must be one of {MARGINALS}, got {self.marginal!r}")
        if self.noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}, got {self.noise!r}")
        if self.noise == "residual" and self.decoder == "autoregressive":
            raise ValueError("noise='residual' needs a non-autoregressive decoder")
        if self.cond_at not in ("first", "last"):
            raise ValueError(f"cond_at must be 'first' or 'last', got {self.cond_at!r}")


@functools.cache
def _nets(c: CGATSConfig):
    """``(encoder θ, stage-1 decoder ψ, stage-2 decoder φ)`` of ``c.decoder``."""
    enc = Encoder(c.hidden, c.latent, unroll=c.unroll, n_freq=c.n_freq)
    dec1 = NormalDecoder(c.hidden, c.channels, c.seq_len, unroll=c.unroll, n_freq=c.n_freq,
                         state_from_z=c.state_from_z)
    if c.decoder == "autoregressive":
        dec2 = AnomalyDecoder(c.hidden, c.channels, c.head_hidden, c.cond_at, unroll=c.unroll)
    else:
        dec2 = LatentDecoder(c.hidden, c.channels, c.seq_len, c.head_hidden, c.cond_at,
                             c.anomaly_dim if c.decoder == "anomaly_latent" else 0,
                             unroll=c.unroll, n_freq=c.n_freq, state_from_z=c.state_from_z)
    return enc, dec1, dec2


@functools.cache
def _anomaly_encoder(c: CGATSConfig) -> AnomalyEncoder | None:
    """The stage-2 anomaly-latent encoder (None unless ``decoder="anomaly_latent"``)."""
    if c.decoder != "anomaly_latent":
        return None
    return AnomalyEncoder(c.hidden[0], c.anomaly_dim, unroll=c.unroll)


@functools.cache
def _anomaly_posterior_fn(c: CGATSConfig):
    """Jitted ``(anom_params, x_btc, y_bt) -> (mu_a, logvar_a)`` (compiled once per config)."""
    anom = _anomaly_encoder(c)
    return jax.jit(lambda p, x, y: anom.apply({"params": p}, x, y))


def init_decoder_params(c: CGATSConfig, key) -> dict:
    """Stage 2's trained parameters ``{"dec2": φ[, "anom": anomaly encoder]}``."""
    _, _, dec2 = _nets(c)
    k_dec, k_anom = jax.random.split(key)
    x0, y0, z0 = (jnp.zeros((1, c.seq_len, c.channels)), jnp.zeros((1, c.seq_len)),
                  jnp.zeros((1, c.latent)))
    if c.decoder == "autoregressive":
        return {"dec2": dec2.init(k_dec, z0, x0, y0)["params"]}
    a0 = jnp.zeros((1, c.anomaly_dim)) if c.decoder == "anomaly_latent" else None
    params = {"dec2": dec2.init(k_dec, z0, y0, a0)["params"]}
    anom = _anomaly_encoder(c)
    if anom is not None:
        params["anom"] = anom.init(k_anom, x0, y0)["params"]
    return params


def decode(c: CGATSConfig, params: dict, z_bd, x_btc, y_bt, key):
    """Stage 2's teacher-forced forward pass: ``(mean, logvar, kl_a)``.

    ``kl_a`` is the batch-mean KL of the anomaly latent's posterior (0 without one);
    ``key`` draws ``a`` from it.
    """
    _, _, dec2 = _nets(c)
    p = {"params": params["dec2"]}
    if c.decoder == "autoregressive":
        return (*dec2.apply(p, z_bd, x_btc, y_bt), 0.0)
    if c.decoder == "paper":
        return (*dec2.apply(p, z_bd, y_bt), 0.0)
    mu_a, logvar_a = _anomaly_encoder(c).apply({"params": params["anom"]}, x_btc, y_bt)
    mean, logvar = dec2.apply(p, z_bd, y_bt, _reparam(key, mu_a, logvar_a))
    return mean, logvar, jnp.mean(_kl_b(mu_a, logvar_a))


def _kl_b(mu, logvar):
    return 0.5 * jnp.sum(mu**2 + jnp.exp(logvar) - 1.0 - logvar, axis=-1)


def _reparam(key, mu, logvar):
    return mu + jnp.exp(0.5 * logvar) * jax.random.normal(key, mu.shape, mu.dtype)


def _nll_b(x, mean, logvar, min_logvar):
    logvar = jnp.maximum(logvar, min_logvar)
    return 0.5 * jnp.sum(logvar + (x - mean) ** 2 / jnp.exp(logvar), axis=(1, 2))


@functools.cache
def stage1_loss_fn(c: CGATSConfig):
    """``(params{enc,dec1}, (x_normal_btc, y_occl_bt), key) -> (loss, metrics)``."""
    enc, dec1, _ = _nets(c)

    def loss_fn(params, batch, key):
        x, y = batch
        mu, logvar = enc.apply({"params": params["enc"]}, occlude(x, y))
        recon = dec1.apply({"params": params["dec1"]}, _reparam(key, mu, logvar))
        rec_b = jnp.sum((recon - x) ** 2, axis=(1, 2))
        kl_b = _kl_b(mu, logvar)
        loss = jnp.mean(rec_b + c.kl_weight * kl_b) / c.seq_len
        return loss, {"recon": jnp.mean(rec_b) / c.seq_len, "kl": jnp.mean(kl_b)}

    return loss_fn


@functools.cache
def stage2_loss_fn(c: CGATSConfig):
    """``(params, (x_anom_btc, y_bt, posterior), key) -> (loss, metrics)``.

    For ``variant="cgats"`` ``params`` is :func:`init_decoder_params`' dict (the
    decoder φ and, with the anomaly latent, its encoder); θ is frozen,
    so its posterior ``(mu, logvar)`` (each ``[B, latent]``) of the occluded
    windows is computed once before training (:func:`posterior`) and carried in
    the batch: the same distribution as encoding every batch (Algorithm 2) without
    running the frozen encoder on each step. For ``"cvae"`` ``params`` also holds
    ``enc``, trained jointly, and ``posterior`` is None.
    """
    enc, _, _ = _nets(c)

    def loss_fn(params, batch, key):
        x, y, post = batch
        if c.variant == "cgats":
            mu, logvar = post
            kl = 0.0
        else:
            mu, logvar = enc.apply({"params": params["enc"]}, occlude(x, y))
            kl = jnp.mean(_kl_b(mu, logvar))
        k_z, k_a = jax.random.split(key)
        mean, dlogvar, kl_a = decode(c, params, _reparam(k_z, mu, logvar), x, y, k_a)
        nll = jnp.mean(_nll_b(x, mean, dlogvar, c.min_logvar))
        loss = (nll + c.kl_weight * kl + c.anomaly_kl_weight * kl_a) / c.seq_len
        return loss, {"nll": nll / c.seq_len, "kl": kl, "kl_anomaly": kl_a}

    return loss_fn


@functools.cache
def _encode_fn(c: CGATSConfig):
    """Jitted ``(enc_params, x_btc, y_bt) -> (mu, logvar)`` of the occluded series."""
    enc, _, _ = _nets(c)
    return jax.jit(lambda p, x, y: enc.apply({"params": p}, occlude(x, y)))


def posterior(c: CGATSConfig, enc_params, x_btc, y_bt, chunk: int = 256):
    """``(mu, logvar)``, each ``[N, latent]``, of q(z | X̃) for ``x_btc [N, T, C]``
    occluded at ``y_bt [N, T]``, encoded ``chunk`` windows at a time (the last chunk
    zero-padded, so one compiled program serves every N)."""
    x, y = np.asarray(x_btc, np.float32), np.asarray(y_bt, np.float32)
    n = len(x)
    if n == 0:
        raise InputError("x_btc", "no windows to encode")
    size = min(chunk, n)
    pad = -n % size
    x = np.concatenate([x, np.zeros((pad, *x.shape[1:]), np.float32)])
    y = np.concatenate([y, np.zeros((pad, *y.shape[1:]), np.float32)])
    encode = _encode_fn(c)
    parts = [encode(enc_params, x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]
    mu, logvar = (jnp.concatenate(p)[:n] for p in zip(*parts, strict=True))
    return mu, logvar


@functools.cache
def _stage1_sampler(batch_size: int, seq_len: int, max_segments: int):
    """``(key, (x_normal, label model arrays)) -> (x_batch, y_occlusion_batch)``."""
    rows = sample_rows(batch_size)

    def sample(key, data):
        x_normal, (counts, starts, lengths) = data
        model = LabelModel(counts, starts, lengths, seq_len, max_segments)
        k1, k2 = jax.random.split(key)
        return rows(k1, x_normal), sample_labels(model, k2, batch_size)

    return sample


class CGATSState(struct.PyTreeNode):
    """What a trained C-GATS generates from (a pytree; ``config`` is static).

    ``label_model`` is p(Y^A) fitted on the anomalous training labels; ``enc_params``
    θ, ``dec1_params`` stage 1's decoder ψ (stage 2 starts from it), ``dec_params``
    stage 2's :func:`init_decoder_params` dict; ``latent_prior`` ``(mean [latent],
    cholesky [latent, latent])`` of the aggregate posterior of z; ``anomaly_prior``
    ``(mu, sigma)``, each ``[N, anomaly_dim]``, of q(a | X, Y) over the training
    windows; ``temperature`` the output-noise scale :func:`calibrate_temperature`
    chose (``label_temperature``: that of labelled steps, when calibrated apart);
    ``marginal_q`` the training quantiles ``[n_quantiles, C]`` of
    ``marginal="quantile"`` (the networks see and produce N(0, 1) scores);
    ``residual_bank`` ``[M, T, C]`` the normal training windows' residuals of
    ``noise="residual"`` (model space). A field is None until the stage that fills it
    has run.
    """

    config: CGATSConfig = struct.field(pytree_node=False)
    label_model: LabelModel | None = None
    enc_params: Any = None
    dec1_params: Any = None
    dec_params: Any = None
    latent_prior: tuple[Any, Any] | None = None
    anomaly_prior: tuple[Any, Any] | None = None
    temperature: float | None = None
    label_temperature: float | None = None
    marginal_q: Any = None
    residual_bank: Any = None


def _marginal(state: CGATSState) -> QuantileNormal | None:
    return None if state.marginal_q is None else QuantileNormal(np.asarray(state.marginal_q))


def _to_model_space(state: CGATSState, x_btc: np.ndarray) -> tuple[CGATSState, np.ndarray]:
    """``(state, x)`` with the marginal transform fitted (on ``x_btc``, training data,
    the first time) and applied; unchanged for ``marginal="identity"``."""
    if state.config.marginal == "identity":
        return state, x_btc
    if state.marginal_q is None:
        state = state.replace(marginal_q=fit_quantile_normal(x_btc).quantiles_qc)
    return state, _marginal(state).transform(x_btc)


def _apply_marginal(state: CGATSState, x_btc):
    """Data-space series as the trained networks see them."""
    m = _marginal(state)
    return x_btc if m is None else m.transform(x_btc)


def _from_model_space(state: CGATSState, x_btc) -> np.ndarray:
    m = _marginal(state)
    return np.asarray(x_btc) if m is None else m.inverse_transform(x_btc)


def fit(key, x_btc, y_bt, config: CGATSConfig, *,
        checkpoint_dir: str | Path | None = None, progress: bool = True,
        mesh: Mesh | None = None) -> tuple[CGATSState, dict]:
    """Trains C-GATS on windows ``x_btc [N, T, C]`` with labels ``y_bt [N, T]``.

    Windows without anomalies are the normal set X^N (stage 1); windows with
    anomalies are (X^A, Y^A) (stage 2 and the label model). Checkpoints go to
    ``checkpoint_dir/stage1`` and ``/stage2``; re-running resumes. With ``mesh``
    both stages train data parallel over its devices, each taking ``batch_size /
    devices`` rows of every step (:func:`jtsgen.train.fit`). Returns ``(state,
    {"stage1": history, "stage2": history})`` (no stage 1 for ``variant="cvae"``).
    """
    k1, k2 = jax.random.split(key)
    kw = dict(checkpoint_dir=checkpoint_dir, progress=progress, mesh=mesh)
    state, history = CGATSState(config), {}
    if config.variant == "cgats":
        state, history["stage1"] = fit_stage1(state, k1, x_btc, y_bt, **kw)
    state, history["stage2"] = fit_stage2(state, k2, x_btc, y_bt, **kw)
    return state, history


def _check(c: CGATSConfig, x_btc, y_bt):
    """``(x [N, T, C], y [N, T], anomalous [N], label model)`` or an InputError."""
    x = np.asarray(x_btc, np.float32)
    if x.ndim != 3 or x.shape[1:] != (c.seq_len, c.channels):
        raise InputError("x_btc", f"expected [N, {c.seq_len}, {c.channels}], got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise InputError("x_btc", "contains NaN or inf")
    y = check_label_vectors(y_bt, c.seq_len, source="y_bt")
    if y.shape[0] != x.shape[0]:
        raise InputError("y_bt", f"{y.shape[0]} label vectors for {x.shape[0]} series")
    anomalous = y.max(axis=1) > 0
    if anomalous.sum() == 0:
        raise InputError("y_bt", "no anomalous windows: C-GATS needs labelled anomalies")
    return x, y, anomalous, fit_label_model(y[anomalous])


def _fit_options(c: CGATSConfig, progress, mesh) -> dict:
    return dict(steps_per_call=c.steps_per_call, progress=progress,
                checkpoint_every=max(c.steps_per_call, 500), mesh=mesh)


def fit_stage1(state: CGATSState, key, x_btc, y_bt, *, checkpoint_dir=None, progress=True,
               mesh=None) -> tuple[CGATSState, dict]:
    """Algorithm 1: encoder θ + decoder ψ on occluded normal windows; then the
    fitted latent prior. Returns ``(state, history)``."""
    c = state.config
    x, _, anomalous, lm = _check(c, x_btc, y_bt)
    state, x = _to_model_space(state, x)
    if anomalous.all():
        raise InputError("y_bt", "no normal windows: stage 1 needs anomaly-free windows")
    enc, dec1, _ = _nets(c)
    k_enc, k_dec, k_train = jax.random.split(key, 3)
    params = {"enc": enc.init(k_enc, jnp.zeros((1, c.seq_len, c.channels)))["params"],
              "dec1": dec1.init(k_dec, jnp.zeros((1, c.latent)))["params"]}
    data = (jnp.asarray(x[~anomalous]), (lm.counts, lm.starts, lm.lengths))
    r = train_fit(create_state(params, adam(c.learning_rate)), data,
                  k_train, loss_fn=stage1_loss_fn(c),
                  sampler=_stage1_sampler(per_device_rows(c.batch_size, mesh), lm.seq_len,
                                          lm.max_segments),
                  num_steps=c.stage1_steps, desc="c-gats stage 1",
                  checkpoint_dir=Path(checkpoint_dir) / "stage1" if checkpoint_dir else None,
                  **_fit_options(c, progress, mesh))
    state = state.replace(label_model=lm,
                          enc_params=for_one_device(r.state.params["enc"], mesh),
                          dec1_params=for_one_device(r.state.params["dec1"], mesh))
    y_occ = sample_labels(lm, jax.random.fold_in(key, 1), int((~anomalous).sum()))
    state = _fit_latent_prior(state, jax.random.fold_in(key, 2), x[~anomalous],
                              np.asarray(y_occ))
    return state, r.history


def fit_stage2(state: CGATSState, key, x_btc, y_bt, *, checkpoint_dir=None, progress=True,
               mesh=None) -> tuple[CGATSState, dict]:
    """Algorithm 2 (encoder θ of ``state`` frozen), or the end-to-end CVAE for
    ``variant="cvae"``; then the anomaly prior and the temperature. Returns
    ``(state, history)``."""
    c = state.config
    x_data, y, anomalous, lm = _check(c, x_btc, y_bt)
    state, x = _to_model_space(state, x_data)
    enc, _, _ = _nets(c)
    k_enc, k_dec, k_train = jax.random.split(key, 3)
    params = init_decoder_params(c, k_dec)
    if c.variant == "cgats":
        if state.enc_params is None:
            raise InputError("cgats.fit_stage2", "stage 1 has not been trained")
        if c.warm_start and c.decoder != "autoregressive" and state.dec1_params is not None:
            params["dec2"] = warm_start(params["dec2"], state.dec1_params)
    else:
        params["enc"] = enc.init(k_enc, jnp.zeros((1, c.seq_len, c.channels)))["params"]
    post = (posterior(c, state.enc_params, x[anomalous], y[anomalous])
            if c.variant == "cgats" else None)
    data = (jnp.asarray(x[anomalous]), jnp.asarray(y[anomalous]), post)
    r = train_fit(create_state(params, adam(c.learning_rate)), data, k_train,
                  loss_fn=stage2_loss_fn(c),
                  sampler=sample_rows(per_device_rows(c.batch_size, mesh)),
                  num_steps=c.stage2_steps, desc=f"{c.variant} stage 2",
                  checkpoint_dir=Path(checkpoint_dir) / "stage2" if checkpoint_dir else None,
                  **_fit_options(c, progress, mesh))
    params = dict(for_one_device(r.state.params, mesh))
    if c.variant == "cvae":
        state = state.replace(enc_params=params.pop("enc"), latent_prior=None)
    state = state.replace(label_model=lm, dec_params=params)
    if state.latent_prior is None:
        state = _fit_latent_prior(state, jax.random.fold_in(key, 2), x[anomalous], y[anomalous])
    state = _fit_anomaly_prior(state, x[anomalous], y[anomalous])
    if c.noise == "residual":
        state = _fit_residual_bank(state, jax.random.fold_in(key, 4),
                                   x[~anomalous] if (~anomalous).any() else x)
    if c.decoder != "autoregressive":
        state = calibrate_temperature(state, jax.random.fold_in(key, 3), x_data, y)
    return state, r.history


def calibrate_temperature(state: CGATSState, key, x_btc, y_bt, max_windows: int = 512,
                          iters: int = 12) -> CGATSState:
    """``state`` with the temperature at which generated series are as noisy as the data.

    The decoder's per-step output noise mixes the data's own noise with what its
    mean fails to fit, so temperature 1 can be far too noisy (Synthetic Sines:
    normal stretches 3x rougher) and 0 too smooth (noisy KPIs). This picks, by
    bisection on [0, 1], the temperature at which the mean |Δ²x| (second
    difference: noise, not the slope of a smooth pattern) over unlabelled steps of
    series generated for (up to ``max_windows``) training label vectors matches that
    of the training windows ``x_btc`` themselves (training data only). With
    ``config.label_temperature`` it then picks, the same way with that temperature
    kept on unlabelled steps, ``label_temperature`` for the labelled steps: the mean
    |Δ²x| inside labelled runs (three labelled steps in a row: the noise within an
    anomaly, not its jump) matched to the training windows' (on KPI the decoder's σ
    on labelled steps, fitted to a few very large spikes, makes them ~3x rougher).
    """
    y = np.asarray(y_bt, np.float32)[:max_windows]
    x = np.asarray(x_btc, np.float32)[:max_windows]
    steps = {"normal": (y[:, 2:] == 0) & (y[:, 1:-1] == 0) & (y[:, :-2] == 0),
             "labelled": (y[:, 2:] > 0) & (y[:, 1:-1] > 0) & (y[:, :-2] > 0)}

    def roughness(x_btc, part):
        d2 = np.abs(np.diff(np.asarray(x_btc)[..., 0], n=2, axis=1))
        return float(d2[steps[part]].mean()) if steps[part].any() else float(d2.mean())

    def bisect(rough_at, target):
        lo, hi = 0.0, 1.0
        if rough_at(hi) <= target:
            return hi
        if rough_at(lo) < target:
            for _ in range(iters):
                mid = 0.5 * (lo + hi)
                lo, hi = (mid, hi) if rough_at(mid) < target else (lo, mid)
        return lo

    normal = bisect(lambda t: roughness(generate(state, key, y, temperature=t), "normal"),
                    roughness(x, "normal"))
    state = state.replace(temperature=normal, label_temperature=None)
    if not state.config.label_temperature or not steps["labelled"].any():
        return state
    labelled = bisect(lambda t: roughness(generate(state, key, y, label_temperature=t),
                                          "labelled"), roughness(x, "labelled"))
    return state.replace(label_temperature=labelled)


def _fit_anomaly_prior(state: CGATSState, x_btc, y_bt, max_windows: int = 2048) -> CGATSState:
    """Keeps q(a | X, Y) of (up to ``max_windows``) anomalous training windows: the
    "fitted" anomaly prior is their mixture (the aggregate posterior), which keeps
    a bimodal pattern (anomalies up or down) that one Gaussian would blur."""
    if _anomaly_encoder(state.config) is None:
        return state.replace(anomaly_prior=None)
    n = min(len(x_btc), max_windows)
    mu, logvar = _anomaly_posterior_fn(state.config)(
        state.dec_params["anom"], jnp.asarray(x_btc[:n]), jnp.asarray(y_bt[:n], jnp.float32))
    return state.replace(anomaly_prior=(mu, jnp.exp(0.5 * logvar)))


def _fit_residual_bank(state: CGATSState, key, x_btc, max_windows: int = 2048) -> CGATSState:
    """Keeps ``x - mean`` of (up to ``max_windows``) normal training windows ``x_btc``
    (model space), the mean being the stage-2 decoder's output for the posterior mean
    of z and no labels: the data's own noise, bursts included, for ``noise="residual"``."""
    c = state.config
    x = jnp.asarray(x_btc[:max_windows])
    y0 = jnp.zeros(x.shape[:2], jnp.float32)
    mu, _ = posterior(c, state.enc_params, x, y0)
    a = sample_anomaly(state, key, x.shape[0])
    mean = _sample_jit(state.dec_params, c, mu, y0, a, jnp.zeros_like(x), 0.0)
    return state.replace(residual_bank=x - mean)


def _fit_latent_prior(state: CGATSState, key, x_btc, y_bt,
                      max_windows: int = 2048) -> CGATSState:
    """Fits N(mean, cov) to the aggregate posterior: z ~ q(z | X̃) over (up to
    ``max_windows``) training windows occluded at ``y_bt``. With a β < 1 ELBO the
    posteriors need not fill N(0, I); sampling z from this fit keeps generated
    windows on the data's latent manifold (``prior="fitted"`` in :func:`generate`).
    """
    n = min(len(x_btc), max_windows)
    mu, logvar = posterior(state.config, state.enc_params, x_btc[:n], y_bt[:n])
    z = np.asarray(_reparam(key, mu, logvar), np.float64)
    cov = np.atleast_2d(np.cov(z, rowvar=False)) + 1e-5 * np.eye(z.shape[1])
    return state.replace(latent_prior=(jnp.asarray(z.mean(axis=0), jnp.float32),
                                       jnp.asarray(np.linalg.cholesky(cov), jnp.float32)))


def _require_trained(state: CGATSState, what: str = "cgats.generate") -> None:
    if state.dec_params is None:
        raise InputError(what, "the model is not trained; call cgats.fit() first")


def encode(state: CGATSState, key, x_btc, y_bt) -> jax.Array:
    """z ~ q(z | X̃) for series ``x_btc`` occluded at ``y_bt``: ``[B, latent]``."""
    _require_trained(state, "cgats.encode")
    return _reparam(key, *posterior(state.config, state.enc_params,
                                    _apply_marginal(state, x_btc), y_bt))


def draw_labels(state: CGATSState, key, n: int) -> np.ndarray:
    """``n`` label vectors ``[n, T]`` from the fitted label model p(Y^A)."""
    _require_trained(state, "cgats.draw_labels")
    return np.asarray(sample_labels(state.label_model, key, n))


def sample_latent(state: CGATSState, key, n: int, prior: str = "fitted") -> jax.Array:
    """``n`` latent codes ``[n, latent]``: from the fitted aggregate posterior
    (``prior="fitted"``, see :func:`_fit_latent_prior`) or from N(0, I)
    (``prior="standard"``, the paper's choice)."""
    _require_trained(state, "cgats.sample_latent")
    if prior not in ("fitted", "standard"):
        raise InputError("prior", f"must be 'fitted' or 'standard', got {prior!r}")
    eps = jax.random.normal(key, (n, state.config.latent), jnp.float32)
    if prior == "standard" or state.latent_prior is None:
        return eps
    mean, chol = state.latent_prior
    return mean + eps @ chol.T


def encode_anomaly(state: CGATSState, key, x_btc, y_bt) -> jax.Array:
    """a ~ q(a | X, Y) of anomalous series ``x_btc`` with labels ``y_bt``:
    ``[B, anomaly_dim]`` (only with ``decoder="anomaly_latent"``)."""
    _require_trained(state, "cgats.encode_anomaly")
    if _anomaly_encoder(state.config) is None:
        raise InputError("cgats.encode_anomaly", f"decoder {state.config.decoder!r} has "
                         "no anomaly latent")
    x = _apply_marginal(state, x_btc)
    mu, logvar = _anomaly_posterior_fn(state.config)(
        state.dec_params["anom"], jnp.asarray(x), jnp.asarray(y_bt, jnp.float32))
    return _reparam(key, mu, logvar)


def sample_anomaly(state: CGATSState, key, n: int, prior: str = "fitted") -> jax.Array | None:
    """``n`` anomaly latents ``[n, anomaly_dim]`` (None without one): from the
    mixture of the training windows' posteriors (``"fitted"``) or N(0, I)."""
    c = state.config
    if c.decoder != "anomaly_latent":
        return None
    eps = jax.random.normal(jax.random.fold_in(key, 1), (n, c.anomaly_dim), jnp.float32)
    if prior == "standard" or state.anomaly_prior is None:
        return eps
    mu, sigma = state.anomaly_prior
    idx = jax.random.randint(key, (n,), 0, mu.shape[0])
    return mu[idx] + sigma[idx] * eps


def generate(state: CGATSState, key, labels_bt, *, z_bd=None, a_bd=None,
             prior: str = "fitted", temperature: float | None = None,
             label_temperature: float | None = None) -> np.ndarray:
    """Series ``x_btc [B, T, C]`` carrying the label vectors ``labels_bt [B, T]``.

    ``z_bd`` defaults to :func:`sample_latent` draws (``prior``: ``"fitted"``
    aggregate posterior or ``"standard"`` N(0, I)); pass :func:`encode` output to
    keep the normal pattern of given series. ``a_bd`` (anomaly latent) likewise
    defaults to :func:`sample_anomaly`. ``temperature`` scales the per-step output
    noise: 0 gives the decoder's mean (the paper's generation), 1 the model's own
    distribution (the autoregressive decoder's default); the non-autoregressive
    decoders default to the temperature :func:`calibrate_temperature` fitted after
    stage 2 (the data's roughness). ``label_temperature`` scales the noise of labelled
    steps; by default the state's (when calibrated apart) if ``temperature`` is not
    given, else ``temperature`` (so ``temperature=0`` is the mean everywhere). The
    autoregressive decoder samples at ``temperature`` throughout. The same ``key`` with
    different labels uses the same z, a and noise, so outputs differ only through the
    labels.
    """
    _require_trained(state)
    c = state.config
    y = check_label_vectors(labels_bt, c.seq_len, source="labels_bt")
    kz, kn, ka = jax.random.split(key, 3)
    if z_bd is None:
        z_bd = sample_latent(state, kz, y.shape[0], prior)
    elif np.shape(z_bd) != (y.shape[0], c.latent):
        raise InputError("z_bd", f"expected shape {(y.shape[0], c.latent)}, "
                                 f"got {np.shape(z_bd)}")
    if a_bd is None:
        a_bd = sample_anomaly(state, ka, y.shape[0], prior)
    elif c.decoder != "anomaly_latent" or np.shape(a_bd) != (y.shape[0], c.anomaly_dim):
        raise InputError("a_bd", f"expected shape {(y.shape[0], c.anomaly_dim)} with "
                                 f"decoder 'anomaly_latent', got {np.shape(a_bd)}")
    if temperature is None:  # the state's own: both temperatures
        temperature = (1.0 if c.decoder == "autoregressive" else
                       state.temperature if state.temperature is not None else 0.0)
        if label_temperature is None:
            label_temperature = state.label_temperature
    if label_temperature is None:
        label_temperature = temperature
    if c.noise == "residual":
        bank = state.residual_bank
        noise = bank[jax.random.randint(kn, (y.shape[0],), 0, bank.shape[0])]
    else:
        noise = jax.random.normal(kn, (y.shape[0], c.seq_len, c.channels), jnp.float32)
    x = _sample_jit(state.dec_params, c, jnp.asarray(z_bd), jnp.asarray(y), a_bd, noise,
                    float(temperature), float(label_temperature))
    return _from_model_space(state, x)


def insert_anomalies(state: CGATSState, key, x_btc, y_bt, labels_bt, *, paste: bool = False,
                     temperature: float | None = None) -> np.ndarray:
    """Given series ``x_btc [B, T, C]`` (their own labels ``y_bt [B, T]``) regenerated
    with anomalies at ``labels_bt [B, T]``: the paper's second source of z (Sec. 3,
    "from a latent distribution produced by θ* when given an occluded version of any
    normal or anomalous TS"). z ~ q(z | X̃) with X̃ each series occluded at its own and
    its new labels (neither anomaly reaches z), then :func:`generate` with that z at
    ``temperature``. ``paste=True`` keeps the given values on steps labelled in neither
    vector, so only the steps of the new anomalies (and of the removed old ones) are
    generated. Returns ``[B, T, C]`` in data space."""
    x = np.asarray(x_btc, np.float32)
    y_own = check_label_vectors(y_bt, state.config.seq_len, source="y_bt")
    y_new = check_label_vectors(labels_bt, state.config.seq_len, source="labels_bt")
    if x.shape[:2] != y_own.shape or y_own.shape != y_new.shape:
        raise InputError("x_btc", f"series {x.shape}, own labels {y_own.shape} and new labels "
                                  f"{y_new.shape} must agree in [B, T]")
    occluded_at = np.maximum(y_own, y_new)
    kz, kg = jax.random.split(key)
    z = encode(state, kz, x, occluded_at)
    out = generate(state, kg, y_new, z_bd=z, temperature=temperature)
    return np.where(occluded_at[..., None] > 0, out, x) if paste else out


def _sample(params, c: CGATSConfig, z, y, a, noise, temperature, label_temperature=None):
    """Generation: ancestral sampling for the autoregressive decoder, else the
    decoder's mean plus a temperature times its per-step noise (``noise``: N(0, 1)
    draws scaled by the decoder's σ, or residual windows as they are):
    ``label_temperature`` on labelled steps (``y > 0``), ``temperature`` elsewhere."""
    _, _, dec2 = _nets(c)
    if c.decoder == "autoregressive":
        return sample_anomaly_decoder(params["dec2"], dec2, z, y, noise, temperature)
    args = (z, y) if c.decoder == "paper" else (z, y, a)
    mean, logvar = dec2.apply({"params": params["dec2"]}, *args)
    if label_temperature is not None:
        temperature = jnp.where(y[..., None] > 0, label_temperature, temperature)
    if c.noise == "residual":
        return mean + temperature * noise
    logvar = jnp.maximum(logvar, c.min_logvar)
    return mean + temperature * jnp.exp(0.5 * logvar) * noise


_sample_jit = jax.jit(_sample, static_argnums=(1,))
