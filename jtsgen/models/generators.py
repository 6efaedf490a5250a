"""Every label-conditioned generator behind one call, found by identifier.

``GENERATORS[name].generate(state, key, labels_bt) -> x_btc``: series ``[B, T, C]``
(float32 numpy) for label vectors ``labels_bt [B, T]``, where ``state`` is the pytree
that generator's training returned. The randomness depends only on ``key``, so the
same key with different labels is a paired comparison (see
:mod:`jtsgen.evaluate.faithfulness`). Identifiers and display names:

* ``cgats`` C-GATS (:mod:`jtsgen.models.cgats`); its ablations ``cvae`` (end-to-end
  CVAE, Table 10) and ``cgats_first`` (labels at the first decoder layer, Table 11);
* ``rcgan``: the paper's RCGAN baseline (WGAN-GP critic with pac,
  :mod:`jtsgen.models.rcgan`); ``ddpm``: a conditional DDPM (temporal denoiser,
  classifier-free guidance w = 1, :mod:`jtsgen.models.ddpm`);
* ``lstm_vae``: the unconditional LSTM-VAE (:mod:`jtsgen.models.lstm_vae`); it makes
  normal series only, so it accepts only all-zero label vectors.

:func:`train_generators` fits any subset of them on labelled windows (C-GATS and
the ablations on all windows, the baselines on the anomalous ones).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from jax.sharding import Mesh

from jtsgen.data.validate import check_label_vectors
from jtsgen.errors import InputError
from jtsgen.models import cgats, ddpm, lstm_vae, rcgan
from jtsgen.runtime import Stage, untimed
from jtsgen.train import adam, create_state, fit, for_one_device, sample_rows


class Trained(struct.PyTreeNode):
    """A trained network's parameters and its (static) config: the state of the
    RCGAN, DDPM and LSTM-VAE generators."""

    params: Any
    config: Any = struct.field(pytree_node=False)


class Generator(NamedTuple):
    display: str
    generate: Callable[[Any, jax.Array, np.ndarray], Any]  # -> x_btc (array-like)


def _labels(state: Trained, labels_bt) -> np.ndarray:
    return check_label_vectors(labels_bt, state.config.seq_len, source="labels_bt")


def _generate_rcgan(state: Trained, key: jax.Array, labels_bt) -> np.ndarray:
    return rcgan.generate(state.params, key, _labels(state, labels_bt), state.config)


def _generate_ddpm(state: Trained, key: jax.Array, labels_bt) -> np.ndarray:
    y = _labels(state, labels_bt)
    return ddpm.sample(state.params, key, y.shape[0], state.config, labels_bt=y)


def _generate_lstm_vae(state: Trained, key: jax.Array, labels_bt) -> np.ndarray:
    y = _labels(state, labels_bt)
    if y.any():
        raise InputError("labels_bt", "the LSTM-VAE is unconditional: it generates normal "
                                      "series only (all-zero label vectors)")
    return lstm_vae.generate(state.params, key, y.shape[0], state.config)


GENERATORS: dict[str, Generator] = {
    "cgats": Generator("C-GATS", cgats.generate),
    "cvae": Generator("CVAE end-to-end (Table 10)", cgats.generate),
    "cgats_first": Generator("C-GATS, condition at first layer (Table 11)", cgats.generate),
    "rcgan": Generator("RCGAN (WGAN-GP)", _generate_rcgan),
    "ddpm": Generator("DDPM, conditional (CFG w=1)", _generate_ddpm),
    "lstm_vae": Generator("LSTM-VAE (unconditional)", _generate_lstm_vae),
}
ABLATIONS = ("cvae", "cgats_first")
BASELINES = ("rcgan", "ddpm")
TRAINABLE = ("cgats",) + ABLATIONS + BASELINES  # what train_generators fits


def generate(name: str, state: Any, key: jax.Array, labels_bt) -> np.ndarray:
    """``GENERATORS[name].generate(state, key, labels_bt)``: ``x_btc [B, T, C]`` float32."""
    if name not in GENERATORS:
        raise InputError("generator", f"unknown {name!r}; choose from {list(GENERATORS)}")
    return np.asarray(GENERATORS[name].generate(state, key, labels_bt), np.float32)


class GeneratorKeys(NamedTuple):
    """One key per purpose of :func:`train_generators`."""

    cgats: jax.Array
    cvae: jax.Array
    cgats_first: jax.Array
    baselines: jax.Array

    @classmethod
    def of(cls, keys: Any) -> GeneratorKeys:
        """The training keys of any named tuple of keys that has these four fields."""
        return cls(keys.cgats, keys.cvae, keys.cgats_first, keys.baselines)


@dataclasses.dataclass(frozen=True)
class GeneratorSettings:
    """What :func:`train_generators` trains with: C-GATS's config (the ablations
    replace its ``variant`` / ``cond_at``) and the baselines' steps and batch."""

    model: cgats.CGATSConfig = cgats.CGATSConfig(batch_size=32, stage1_steps=2000,
                                                 stage2_steps=800)
    baseline_steps: int = 600
    baseline_batch: int = 32


def settings_for(profile: str) -> GeneratorSettings:
    """``smoke``: windows of 48, tiny networks, 20 steps (tests, seconds); ``quick``
    (the defaults): a 2-core CPU in minutes; ``paper``: 20,000 steps at batch 64."""
    if profile == "smoke":
        return GeneratorSettings(
            model=cgats.CGATSConfig(seq_len=48, hidden=(8, 16), latent=4, head_hidden=16,
                                    batch_size=16, stage1_steps=20, stage2_steps=20,
                                    steps_per_call=10, unroll=1),
            baseline_steps=20)
    if profile == "paper":
        return GeneratorSettings(model=cgats.CGATSConfig(batch_size=64, stage1_steps=20_000,
                                                         stage2_steps=20_000),
                                 baseline_steps=20_000)
    return GeneratorSettings()


def train_generators(names: tuple[str, ...], keys: GeneratorKeys, x_btc: np.ndarray,
                     y_bt: np.ndarray, settings: GeneratorSettings, *,
                     checkpoint_dir: str | Path | None = None, progress: bool = True,
                     mesh: Mesh | None = None, stage: Stage = untimed,
                     ) -> tuple[dict[str, Any], dict[str, dict]]:
    """Trains the generators ``names`` (any of :data:`TRAINABLE`; C-GATS always, the
    first-layer ablation starts from its stage 1) on windows ``x_btc [N, T, C]`` with
    labels ``y_bt [N, T]``.

    Each training runs as ``stage(name, fn)`` (``benchmarks.pipeline`` passes a
    stopwatch): "train stage 1", "train stage 2", "train CVAE ablation", "train
    first-layer ablation", "train baselines (RCGAN, DDPM)". Checkpoints go to
    ``checkpoint_dir/{cgats,cvae,cond_first,rcgan,ddpm}``; a rerun resumes. ``mesh``:
    C-GATS, its ablations and RCGAN train data parallel over its devices.

    Returns ``({name: state}, {name: loss history})``.
    """
    unknown = set(names) - set(TRAINABLE)
    if unknown:
        raise InputError("names", f"unknown {sorted(unknown)}; choose from {list(TRAINABLE)}")
    m = settings.model

    def ckpt(name):
        return Path(checkpoint_dir) / name if checkpoint_dir else None

    kw = dict(progress=progress, mesh=mesh)
    k1, k2 = jax.random.split(keys.cgats)  # the split cgats.fit makes
    state, h1 = stage("train stage 1", lambda: cgats.fit_stage1(
        cgats.CGATSState(m), k1, x_btc, y_bt, checkpoint_dir=ckpt("cgats"), **kw))
    state, h2 = stage("train stage 2", lambda: cgats.fit_stage2(
        state, k2, x_btc, y_bt, checkpoint_dir=ckpt("cgats"), **kw))
    states, histories = {"cgats": state}, {"cgats": {"stage1": h1, "stage2": h2}}
    if "cvae" in names:
        states["cvae"], histories["cvae"] = stage("train CVAE ablation", lambda: cgats.fit(
            keys.cvae, x_btc, y_bt, dataclasses.replace(m, variant="cvae"),
            checkpoint_dir=ckpt("cvae"), **kw))
    if "cgats_first" in names:
        first = cgats.CGATSState(dataclasses.replace(m, cond_at="first"),
                                 enc_params=state.enc_params, dec1_params=state.dec1_params,
                                 latent_prior=state.latent_prior,
                                 marginal_q=state.marginal_q)
        first, h = stage("train first-layer ablation", lambda: cgats.fit_stage2(
            first, keys.cgats_first, x_btc, y_bt, checkpoint_dir=ckpt("cond_first"), **kw))
        states["cgats_first"], histories["cond_first"] = first, {"stage2": h}
    wanted = tuple(n for n in BASELINES if n in names)
    if wanted:
        base, base_hist = stage("train baselines (RCGAN, DDPM)", lambda: train_baselines(
            keys.baselines, x_btc, y_bt, settings.baseline_steps,
            batch_size=settings.baseline_batch, checkpoint_dir=checkpoint_dir,
            progress=progress, mesh=mesh, models=wanted))
        states.update(base)
        histories.update(base_hist)
    return states, histories


def train_baselines(
    key: jax.Array,
    x_btc: np.ndarray,
    y_bt: np.ndarray,
    num_steps: int,
    *,
    batch_size: int = 32,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    mesh: Mesh | None = None,
    models: tuple[str, ...] = BASELINES,
) -> tuple[dict[str, Trained], dict[str, dict]]:
    """Trains RCGAN and/or a conditional DDPM on the anomalous windows of ``x_btc``/``y_bt``.

    ``mesh``: RCGAN trains data parallel over its devices (``batch_size`` rows in
    all, see :mod:`jtsgen.models.rcgan`); the DDPM stays on one device.
    ``models`` names the ones to train (the keys each uses do not depend on it).
    Returns ``({"rcgan"/"ddpm": Trained}, {name: loss history})``.
    """
    anom = np.asarray(y_bt).max(axis=1) > 0
    x = jnp.asarray(x_btc[anom], jnp.float32)
    y = jnp.asarray(y_bt[anom], jnp.float32)
    _, seq_len, channels = x.shape
    k_gan, k_gan_fit, k_dm, k_dm_fit = jax.random.split(key, 4)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None

    states, histories = {}, {}
    if "rcgan" in models:
        gan_cfg = rcgan.RCGANConfig(seq_len=seq_len, channels=channels, n_critic=2)
        gan = fit(rcgan.init_state(k_gan, gan_cfg), (x, y), k_gan_fit,
                  step=rcgan.make_step(gan_cfg),
                  sampler=rcgan.make_sampler(gan_cfg, batch_size, mesh), num_steps=num_steps,
                  steps_per_call=min(10, num_steps), progress=progress, desc="rcgan",
                  checkpoint_dir=ckpt / "rcgan" if ckpt else None, mesh=mesh)
        states["rcgan"] = Trained(for_one_device(gan.state.gen.params, mesh), gan_cfg)
        histories["rcgan"] = {"gan": gan.history}
    if "ddpm" in models:
        dm_cfg = ddpm.DDPMConfig(seq_len=seq_len, channels=channels, denoiser="temporal",
                                 conditional=True, guidance=1.0)
        state = create_state(ddpm.init_params(k_dm, dm_cfg), adam(1e-3))
        dm = fit(state, (x, y), k_dm_fit, loss_fn=ddpm.make_loss_fn(dm_cfg),
                 sampler=sample_rows(batch_size), num_steps=num_steps,
                 steps_per_call=min(50, num_steps), progress=progress, desc="ddpm",
                 checkpoint_dir=ckpt / "ddpm" if ckpt else None)
        states["ddpm"] = Trained(dm.state.params, dm_cfg)
        histories["ddpm"] = {"ddpm": dm.history}
    return states, histories
