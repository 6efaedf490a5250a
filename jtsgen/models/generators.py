"""Baseline label-conditioned generators trained side by side with C-GATS.

``train_baselines`` fits the paper's RCGAN baseline (WGAN-GP critic with pac) and a
conditional DDPM (temporal denoiser, classifier-free guidance) on the anomalous
training windows, and returns for each a ``generate(key, labels_bt) -> x_btc``
whose latent/noise depends only on ``key`` — so calling it twice with the same key
and different labels gives a paired comparison (see
:mod:`jtsgen.evaluate.faithfulness`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jtsgen.models import ddpm, rcgan, rcgan_fit
from jtsgen.train import adam, create_state, fit, for_one_device, sample_rows

Generate = Callable[[jax.Array, np.ndarray], np.ndarray]


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
    models: tuple[str, ...] = ("rcgan", "ddpm"),
) -> tuple[dict[str, Generate], dict[str, dict]]:
    """Trains RCGAN and a conditional DDPM on the anomalous windows of ``x_btc``/``y_bt``.

    ``mesh``: RCGAN trains data parallel over its devices (``batch_size`` rows in
    all, see :func:`jtsgen.models.rcgan_fit.fit`); the DDPM stays on one device (its
    convolutions already keep both cores of a CPU busy: 200 steps took 11.7 s on one
    device against 12.2 s over two).

    ``models`` names the ones to train (``"rcgan"``, ``"ddpm"``; the keys each uses do
    not depend on it). Returns ``(generators, histories)`` keyed by display name /
    short name.
    """
    anom = np.asarray(y_bt).max(axis=1) > 0
    x = jnp.asarray(x_btc[anom], jnp.float32)
    y = jnp.asarray(y_bt[anom], jnp.float32)
    _, seq_len, channels = x.shape
    k_gan, k_gan_fit, k_dm, k_dm_fit = jax.random.split(key, 4)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None

    generators, histories = {}, {}
    if "rcgan" in models:
        gan_cfg = rcgan.RCGANConfig(seq_len=seq_len, channels=channels, n_critic=2)
        gan = rcgan_fit.fit(rcgan.init_state(k_gan, gan_cfg), (x, y), k_gan_fit, config=gan_cfg,
                            batch_size=batch_size, num_steps=num_steps,
                            steps_per_call=min(10, num_steps), progress=progress,
                            checkpoint_dir=ckpt / "rcgan" if ckpt else None, mesh=mesh)
        gan_params = for_one_device(gan.state.gen.params, mesh)
        generators["RCGAN (WGAN-GP)"] = lambda k, lab: np.asarray(
            rcgan.generate(gan_params, k, jnp.asarray(lab, jnp.float32), gan_cfg))
        histories["rcgan"] = {"gan": gan.history}
    if "ddpm" in models:
        dm_cfg = ddpm.DDPMConfig(seq_len=seq_len, channels=channels, denoiser="temporal",
                                 conditional=True, guidance=1.0)
        state = create_state(ddpm.init_params(k_dm, dm_cfg), adam(1e-3))
        dm = fit(state, (x, y), k_dm_fit, loss_fn=ddpm.make_loss_fn(dm_cfg),
                 sampler=sample_rows(batch_size), num_steps=num_steps,
                 steps_per_call=min(50, num_steps), progress=progress, desc="ddpm",
                 checkpoint_dir=ckpt / "ddpm" if ckpt else None)
        dm_params = dm.state.params
        generators["DDPM, conditional (CFG w=1)"] = lambda k, lab: np.asarray(
            ddpm.sample(dm_params, k, len(lab), dm_cfg, labels_bt=jnp.asarray(lab)))
        histories["ddpm"] = {"ddpm": dm.history}
    return generators, histories
