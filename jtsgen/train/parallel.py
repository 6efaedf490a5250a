"""Data parallelism over all local devices with ``jax.sharding``.

The batch is split along its leading axis over a 1-D mesh axis ``"data"``; the
training state is replicated. ``jtsgen.train.fit(..., mesh=)`` trains with:

* :func:`make_data_parallel_fused_steps` — ``shard_map``: each device runs the
  loss on its own rows (optionally in microbatches, accumulating gradients) with
  its own noise key, one all-reduce of the flattened gradients follows
  (:func:`per_device_step`), k such steps in one ``lax.scan``, each device sampling
  its own batch. (The one-call-per-step variants measured against it, GSPMD
  ``jit`` shardings and ``shard_map`` one step per call, live in
  ``benchmarks/step_variants.py``: both are slower on the CPU.)
* :func:`fuse_steps_data_parallel` — the same for a ready step (``fit(step=...,
  mesh=)``): each device runs the step on its own rows with its own keys, and the
  step averages its gradients over the devices with
  :func:`jtsgen.train.device_mean`.

Multi-host: call ``jax.distributed.initialize()`` first; ``jax.devices()`` then
spans all hosts and the same code applies (each host feeds its addressable
shard, see ``benchmarks/SCALING.md``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax.training.train_state import TrainState
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtsgen.errors import InputError
from jtsgen.train.step import (
    LossFn,
    Sampler,
    Step,
    fuse_steps,
    pmean_flat,
    traced_per_device,
)


def data_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: all devices)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


def local_mesh(devices: int) -> Mesh | None:
    """``data_mesh`` over the first ``devices`` local devices; None for one device.

    On a CPU host the devices are the emulated ones
    (``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before JAX starts;
    jtsgen's command-line entry points ask for one per core).
    """
    available = jax.local_devices()
    if devices < 1 or devices > len(available):
        raise InputError("devices", f"got {devices}; this process has {len(available)} "
                         f"{available[0].platform} device(s) (on a CPU set XLA_FLAGS="
                         "--xla_force_host_platform_device_count=N before JAX starts)")
    return None if devices == 1 else data_mesh(available[:devices])


def per_device_rows(batch_size: int, mesh: Mesh | None) -> int:
    """The rows each device draws so that ``mesh``'s devices together take ``batch_size``."""
    n = 1 if mesh is None else mesh.shape["data"]
    if batch_size % n:
        raise InputError("batch_size", f"{batch_size} rows cannot be split evenly over "
                         f"{n} devices")
    return batch_size // n


def to_default_device(tree: Any) -> Any:
    """Every leaf copied through the host onto the default device, uncommitted (e.g. a
    state replicated by data-parallel training, for one-device code)."""
    return jax.tree.map(lambda a: jnp.asarray(np.asarray(a)), tree)


def for_one_device(tree: Any, mesh: Mesh | None) -> Any:
    """``tree`` (e.g. trained parameters) for one-device code: copied off ``mesh`` with
    :func:`to_default_device` when it lives there, as it is without a mesh."""
    return tree if mesh is None else to_default_device(tree)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places every leaf of ``tree`` fully replicated on ``mesh``."""
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def shard_batch(batch: Any, mesh: Mesh) -> Any:
    """Splits every leaf of ``batch`` along axis 0 over the ``"data"`` axis."""
    n = mesh.shape["data"]
    for leaf in jax.tree.leaves(batch):
        if leaf.shape[0] % n:
            raise InputError(
                "batch", f"leading size {leaf.shape[0]} is not divisible by {n} devices"
            )
    return jax.device_put(batch, NamedSharding(mesh, PartitionSpec("data")))



def per_device_step(loss_fn: LossFn, microbatches: int, n_dev: int, axis: str):
    """One device's part of a data-parallel step, for use inside ``shard_map`` over ``axis``:
    ``(state, local_batch, key) -> (state, metrics)``, its gradients accumulated over
    ``microbatches`` chunks of its rows and averaged over ``axis``."""
    if microbatches < 1:
        raise InputError("microbatches", f"must be >= 1, got {microbatches}")
    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    def step(state: TrainState, batch: Any, key: jax.Array):
        for leaf in jax.tree.leaves(batch):
            if leaf.shape[0] % microbatches:
                raise InputError("batch", f"leading size {leaf.shape[0] * n_dev} is not "
                                 f"divisible by {n_dev} devices x {microbatches} microbatches")
        key = jax.random.fold_in(jax.random.fold_in(key, state.step), jax.lax.axis_index(axis))
        chunks = jax.tree.map(
            lambda a: a.reshape(microbatches, a.shape[0] // microbatches, *a.shape[1:]), batch)

        def accumulate(total, chunk_and_index):
            chunk, i = chunk_and_index
            (loss, aux), grads = grad_fn(state.params, chunk, jax.random.fold_in(key, i))
            return jax.tree.map(jnp.add, total, ({"loss": loss, **aux}, grads)), None

        (loss0, aux0), _ = jax.eval_shape(grad_fn, state.params,
                                          jax.tree.map(lambda a: a[0], chunks), key)
        zero = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype),
                            ({"loss": loss0, **aux0}, state.params))
        (metrics, grads), _ = jax.lax.scan(accumulate, zero,
                                           (chunks, jnp.arange(microbatches)))
        metrics, grads = pmean_flat((metrics, grads), axis, scale=1.0 / microbatches)
        state = state.apply_gradients(grads=grads)
        return state, {**metrics, "grad_norm": optax.global_norm(grads)}

    return step



def make_data_parallel_fused_steps(loss_fn: LossFn, sampler: Sampler, num_steps: int,
                                   mesh: Mesh, *, microbatches: int = 1, split_data: bool = True,
                                   donate: bool = True):
    """Jitted ``(state, data, key) -> (state, metrics_k)``: ``num_steps`` data-parallel steps
    in one ``lax.scan`` per device (:func:`jtsgen.train.make_fused_fn` split over ``mesh``).

    At every step each device draws its own batch with ``sampler`` (so the
    global batch is ``devices x`` the sampler's rows), with the batch key folded
    with the step counter, then the device index, then runs
    :func:`per_device_step`. With ``split_data`` the data is split over
    ``"data"`` (:func:`shard_batch`) and each device samples its own shard;
    otherwise ``data`` is replicated (:func:`replicate`) and every device samples
    all of it. ``metrics_k`` leaves have leading dim ``num_steps``.
    """
    step = per_device_step(loss_fn, microbatches, mesh.shape["data"], "data")

    def device_sampler(key: jax.Array, data: Any) -> Any:
        return sampler(jax.random.fold_in(key, jax.lax.axis_index("data")), data)

    return jit_over_data(fuse_steps(step, device_sampler, num_steps), mesh, donate,
                          split_data=split_data)


def fuse_steps_data_parallel(step: Step, sampler: Sampler, num_steps: int, mesh: Mesh, *,
                             split_data: bool = True, donate: bool = True):
    """Jitted ``(state, data, key) -> (state, metrics_k)``: ``num_steps`` calls of a ready
    ``step(state, batch, key) -> (state, metrics)`` per device of ``mesh``
    (:func:`jtsgen.train.fuse_steps` under ``shard_map`` over ``"data"``).

    Each device folds its index into ``key`` and then runs ``fuse_steps`` with it,
    so it draws its own batches (``sampler``'s rows each; with ``split_data`` from
    its shard of ``data``, :func:`shard_batch`, otherwise from all of the
    replicated ``data``) and passes its own key to ``step``. The step is traced
    with :func:`jtsgen.train.device_axis` set to ``"data"``: it must average its
    gradients (and the metrics it returns) with :func:`jtsgen.train.device_mean`
    so that every device applies the same update and the outputs, taken as
    replicated, agree. The state is replicated on ``mesh`` (:func:`replicate`).
    """
    fused = fuse_steps(step, sampler, num_steps)

    def local(state: Any, data: Any, key: jax.Array):
        with traced_per_device("data"):
            return fused(state, data, jax.random.fold_in(key, jax.lax.axis_index("data")))

    return jit_over_data(local, mesh, donate, split_data=split_data)


def jit_over_data(local, mesh: Mesh, donate: bool = True, *, split_data: bool = True):
    """``jit`` of ``local(state, batch_or_data, key)`` run per device by ``shard_map``:
    state and key replicated, the second argument split over ``"data"`` (or
    replicated, without ``split_data``), outputs replicated (``local``
    all-reduces them, e.g. with :func:`jtsgen.train.device_mean` over ``"data"``),
    the state donated."""
    data_spec = PartitionSpec("data") if split_data else PartitionSpec()
    split = jax.shard_map(local, mesh=mesh,
                          in_specs=(PartitionSpec(), data_spec, PartitionSpec()),
                          out_specs=(PartitionSpec(), PartitionSpec()), check_vma=False)
    return jax.jit(split, donate_argnums=(0,) if donate else ())
