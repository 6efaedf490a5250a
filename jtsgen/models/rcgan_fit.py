"""Host loop for RCGAN: fused compiled GAN steps, NaN guard, Orbax resume.

The same contract as :func:`jtsgen.train.fit`, for a :class:`~jtsgen.models.rcgan.GANState`
(whose step is several optimiser updates, so it cannot use ``fit`` itself):
``steps_per_call`` GAN steps run in one jitted ``lax.scan``; every step draws its
``n_critic`` real batches on device from ``fold_in(batch_key, state.step)``, so a
re-run resumed from a checkpoint replays the remaining steps exactly. The host
loop (checkpoints, resume, NaN guard, progress bar) is :func:`jtsgen.train.loop.drive`.
With a ``mesh`` the same program runs data parallel under ``shard_map``.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import jax
from jax.sharding import Mesh

from jtsgen.errors import InputError
from jtsgen.models.rcgan import GANState, RCGANConfig, make_train_step
from jtsgen.train import FitResult, per_device_rows, sample_rows
from jtsgen.train.loop import drive, replicated_on
from jtsgen.train.parallel import jit_over_data


def critic_batches(batch_size: int, n_critic: int):
    """Sampler ``(key, (x_ntc, y_nt)) -> (x [n_critic, B, T, C], y [n_critic, B, T])``."""
    rows = sample_rows(batch_size * n_critic)

    def sample(key: jax.Array, data: Any):
        return jax.tree.map(lambda a: a.reshape(n_critic, batch_size, *a.shape[1:]),
                            rows(key, data))

    return sample


def make_fused_fn(config: RCGANConfig, batch_size: int, num_steps: int,
                  axis_name: str | None = None):
    """Pure ``(state, data, key) -> (state, metrics_k)``: ``num_steps`` GAN steps in a scan.

    With ``axis_name`` it is one device's part of the data-parallel program (run
    under ``shard_map``): the device index is folded into the batch and noise keys,
    so each device draws its own ``batch_size`` rows and noise, and every update
    averages over the devices (:func:`jtsgen.models.rcgan.make_train_step`).
    """
    step = make_train_step(config, axis_name)
    sampler = critic_batches(batch_size, config.n_critic)

    def fused(state: GANState, data: Any, key: jax.Array):
        if axis_name is not None:
            key = jax.random.fold_in(key, jax.lax.axis_index(axis_name))
        batch_key, step_key = jax.random.split(key)

        def body(state, _):
            return step(state, sampler(jax.random.fold_in(batch_key, state.step), data), step_key)

        return jax.lax.scan(body, state, None, length=num_steps)

    return fused


def compiled_fused(config: RCGANConfig, batch_size: int, num_steps: int,
                   mesh: Mesh | None = None):
    """Jitted :func:`make_fused_fn` (state donated), cached so repeated fits compile once.

    With ``mesh``: the data-parallel program over its ``"data"`` axis, state and data
    replicated, ``batch_size`` rows per device.
    """
    return _compiled_fused(config, batch_size, num_steps, mesh)


@functools.lru_cache(maxsize=16)
def _compiled_fused(config: RCGANConfig, batch_size: int, num_steps: int, mesh: Mesh | None):
    if mesh is None:
        return jax.jit(make_fused_fn(config, batch_size, num_steps), donate_argnums=(0,))
    return jit_over_data(make_fused_fn(config, batch_size, num_steps, "data"), mesh,
                         split_data=False)


def _check_data(data: Any, config: RCGANConfig, rows: int, batch_size: int) -> None:
    ok = isinstance(data, (tuple, list)) and len(data) == 2
    if ok:
        x, y = data
        want = (config.seq_len, config.channels)
        ok = x.ndim == 3 and x.shape[1:] == want and y.shape == x.shape[:2] and len(x) > 0
    if not ok:
        raise InputError("data", f"expected (x [N, {config.seq_len}, {config.channels}], "
                                 f"y [N, {config.seq_len}]) with N > 0")
    if rows < 1 or rows % config.pac:
        per = "" if rows == batch_size else f" ({rows} rows per device of the mesh)"
        raise InputError("batch_size", f"each device needs a positive multiple of pac "
                                       f"({config.pac}) rows, got {batch_size}{per}")


def fit(
    state: GANState,
    data: tuple[jax.Array, jax.Array],
    key: jax.Array,
    *,
    config: RCGANConfig,
    batch_size: int,
    num_steps: int,
    steps_per_call: int = 10,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    keep: int = 2,
    progress: bool = True,
    desc: str = "rcgan",
    stop_after: int | None = None,
    mesh: Mesh | None = None,
) -> FitResult:
    """Trains until ``state.step == num_steps`` GAN steps (each ``n_critic`` + 1 updates).

    ``data = (x_ntc [N, T, C], y_nt [N, T])`` on device. Other arguments as in
    :func:`jtsgen.train.fit`. History keys: ``loss`` (critic), ``d_loss``,
    ``wasserstein``, ``gp``, ``g_loss``, one float per GAN step.

    ``mesh`` (e.g. ``jtsgen.train.local_mesh(2)``): data parallel over its devices,
    each drawing ``batch_size / devices`` rows (a multiple of ``pac``) from all of
    ``data`` with its own noise; every critic and generator update averages the
    devices' gradients. The returned state is replicated on ``mesh``
    (``jtsgen.train.for_one_device(params, mesh)`` for one-device code); checkpoints resume on
    any mesh. Noise draws depend on the number of devices.
    """
    rows = per_device_rows(batch_size, mesh)
    _check_data(data, config, rows, batch_size)
    data, place = replicated_on(mesh, data)
    return drive(state, data, key, program=lambda k: compiled_fused(config, rows, k, mesh),
                 num_steps=num_steps, steps_per_call=steps_per_call,
                 checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, keep=keep,
                 progress=progress, desc=desc, stop_after=stop_after, place=place,
                 postfix=lambda m: {"d": m["d_loss"], "g": m["g_loss"]})
