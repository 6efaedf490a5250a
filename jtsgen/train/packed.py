"""Training states packed into one buffer per dtype, for cheap single-step calls.

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
