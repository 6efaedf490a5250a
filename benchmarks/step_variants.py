"""Training-step variants measured by the benchmarks and not used for training.

``jtsgen.train.fit`` runs k fused steps per call (one device, or data parallel with
``shard_map``). The benchmarks also time three one-call-per-step programs against
it; they live here, with their tests, because nothing trains with them
(``docs/performance.md`` has the figures):

* :class:`PackedLayout` / :func:`make_packed_train_step` — the state packed into one
  buffer per dtype, so a single step call pays the runtime's per-array dispatch
  cost for two buffers instead of every leaf (details below).
* :func:`make_sharded_train_step` — ``jit`` with data-parallel shardings; XLA (GSPMD)
  partitions the one-device step and inserts the gradient all-reduce itself.
* :func:`make_data_parallel_step` — ``shard_map``, one step per call
  (:func:`jtsgen.train.parallel.per_device_step`).

Packed states

Every array that crosses a ``jit`` boundary costs the XLA:CPU runtime a few
microseconds on the way in and again on the way out. A ``TrainState`` of a small
model is mostly such overhead: the LSTM-VAE's has 44 leaves (parameters, Adam's
two moments, counters), and calling its step spent ~0.5 ms of a ~4.5 ms step in
dispatch. :class:`PackedLayout` packs a state into one flat buffer per dtype
(float32 parameters and moments in one, the int32 counters in another) and
:func:`make_packed_train_step` jits ``unpack -> step -> pack`` so only those
buffers cross the boundary; unpacking is slices and reshapes that XLA fuses into
their consumers. The update is :func:`jtsgen.train.make_step_fn`'s, unchanged.

Fused steps (:func:`jtsgen.train.make_fused_steps`, used by ``fit``) already pay
the dispatch once per ``k`` steps; packing matters where a caller steps one call
at a time (custom loops, interactive use).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtsgen.train.parallel import jit_over_data, per_device_step
from jtsgen.train.step import LossFn, make_step_fn


@dataclasses.dataclass(frozen=True)
class PackedLayout:
    """Where each leaf of a pytree lives in its dtype's flat buffer.

    ``dtypes`` lists the buffers' dtypes in order; leaf ``i`` (in ``jax.tree``
    order) is ``buffers[group[i]][offset[i]:offset[i] + size]`` reshaped to
    ``shapes[i]``.
    """

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[np.dtype, ...]
    group: tuple[int, ...]
    offset: tuple[int, ...]

    @classmethod
    def of(cls, tree: Any) -> PackedLayout:
        """The layout of ``tree`` (arrays or shape/dtype structs)."""
        leaves, treedef = jax.tree.flatten(tree)
        dtypes: list[np.dtype] = []
        sizes: list[int] = []
        group, offset = [], []
        for leaf in leaves:
            dtype = np.dtype(leaf.dtype)
            if dtype not in dtypes:
                dtypes.append(dtype)
                sizes.append(0)
            g = dtypes.index(dtype)
            group.append(g)
            offset.append(sizes[g])
            sizes[g] += math.prod(leaf.shape)
        return cls(treedef, tuple(tuple(leaf.shape) for leaf in leaves), tuple(dtypes),
                   tuple(group), tuple(offset))

    def pack(self, tree: Any) -> tuple[jax.Array, ...]:
        """``tree`` -> one flat buffer per dtype (``[n_g]`` each)."""
        leaves = self.treedef.flatten_up_to(tree)
        parts: list[list[jax.Array]] = [[] for _ in self.dtypes]
        for leaf, g in zip(leaves, self.group, strict=True):
            parts[g].append(jnp.ravel(leaf))
        return tuple(jnp.concatenate(p) if len(p) > 1 else p[0] for p in parts)

    def unpack(self, buffers: tuple[jax.Array, ...]) -> Any:
        """Inverse of :meth:`pack`."""
        leaves = [
            buffers[g][o:o + math.prod(shape)].reshape(shape)
            for shape, g, o in zip(self.shapes, self.group, self.offset, strict=True)
        ]
        return jax.tree.unflatten(self.treedef, leaves)


def make_packed_train_step(loss_fn: LossFn, layout: PackedLayout, *, donate: bool = True):
    """Jitted ``(buffers, batch, key) -> (buffers, metrics)``: one step of
    :func:`jtsgen.train.make_step_fn` on the state ``layout.unpack(buffers)``.

    Build ``layout = PackedLayout.of(state)`` and ``buffers = layout.pack(state)``
    once, step on the buffers, and ``layout.unpack`` them when the state is needed
    (checkpoints, evaluation). The input buffers are donated.
    """
    step = make_step_fn(loss_fn)

    def packed_step(buffers: tuple[jax.Array, ...], batch: Any, key: jax.Array):
        state, metrics = step(layout.unpack(buffers), batch, key)
        return layout.pack(state), metrics

    return jax.jit(packed_step, donate_argnums=(0,) if donate else ())


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


def make_data_parallel_step(loss_fn: LossFn, mesh: Mesh, *, microbatches: int = 1,
                            donate: bool = True):
    """Jitted data-parallel ``(state, batch, key) -> (state, metrics)`` written per device.

    ``state`` replicated on ``mesh`` (:func:`replicate`), ``batch`` split over
    ``"data"`` (:func:`shard_batch`); every batch leaf's leading size must divide
    by ``devices * microbatches``. Each device splits its rows into
    ``microbatches`` equal chunks and accumulates the gradients of ``loss_fn``
    over them in a ``lax.scan`` (a smaller working set per chunk: on a 2-core
    CPU two devices at 128 rows slow each other down, at 32-64 rows they do
    not); then one ``pmean`` of the gradients flattened into a single vector
    and the same optimiser update on every device.

    Randomness: chunk ``i`` on device ``d`` draws with
    ``fold_in(fold_in(fold_in(key, state.step), d), i)``, so noise differs from
    the one-device step's (same distribution); for a loss that ignores its key
    the update equals the one-device step's on the same global batch up to
    float summation order. Metrics: ``loss`` and every aux value are means over
    all chunks of all devices, ``grad_norm`` is the norm of the averaged
    gradient — as in :func:`jtsgen.train.make_train_step` when each chunk's loss
    is a mean over its rows.
    """
    local = per_device_step(loss_fn, microbatches, mesh.shape["data"], "data")
    return jit_over_data(local, mesh, donate)
