"""Data parallelism over all local devices with ``jax.sharding``.

The batch is split along its leading axis over a 1-D mesh axis ``"data"``; the
training state is replicated. Under ``jit`` with these shardings XLA inserts the
gradient all-reduce itself, so the step is the same pure function as on one
device and gives the same loss. Multi-host: call ``jax.distributed.initialize()``
first; ``jax.devices()`` then spans all hosts and the same code applies (each host
feeds its addressable shard, see ``benchmarks/SCALING.md``).
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtsgen.errors import InputError
from jtsgen.train.step import LossFn, make_step_fn


def data_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh with axis ``"data"`` over ``devices`` (default: all devices)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


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


def make_sharded_train_step(loss_fn: LossFn, mesh: Mesh, *, donate: bool = True):
    """Jitted data-parallel ``(state, batch, key) -> (state, metrics)`` on ``mesh``."""
    repl = NamedSharding(mesh, PartitionSpec())
    data = NamedSharding(mesh, PartitionSpec("data"))
    return jax.jit(
        make_step_fn(loss_fn),
        in_shardings=(repl, data, repl),
        out_shardings=(repl, repl),
        donate_argnums=(0,) if donate else (),
    )
