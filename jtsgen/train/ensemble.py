"""K independent replicas (seeds or hyper-parameters) trained as one vmapped program.

Replicas share shapes, so their states stack along a leading axis ``K`` and one
compiled program advances all of them: on a CPU this fills the cores that a
small model leaves idle, on an accelerator it fills the device. Hyper-parameters
that do not change shapes (learning rate, KL weight, ...) can differ per replica
through ``optax.inject_hyperparams`` or by closing the loss over a per-replica
array passed in ``data``.

With a ``mesh`` (a 1-D :class:`jax.sharding.Mesh`, e.g. ``data_mesh()``) the
replica axis is split over its devices: each device advances its own replicas
and nothing is communicated. On a CPU host, emulate one device per core
(``XLA_FLAGS=--xla_force_host_platform_device_count=<cores>``, set before JAX
starts) to run replica groups on separate cores.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jtsgen.errors import InputError
from jtsgen.train.loop import TrainingDiverged
from jtsgen.train.parallel import replicate
from jtsgen.train.step import LossFn, Sampler, Step, create_state, fuse_steps, make_fused_fn


def init_replicas(init_fn: Callable[[jax.Array], Any], keys: jax.Array) -> Any:
    """Stacked states ``vmap(init_fn)(keys)``: every leaf gets a leading axis K."""
    return jax.vmap(init_fn)(keys)


def fit_seed_ensemble(key: jax.Array, replicas: int, init_params: Callable[[jax.Array], Any],
                      tx, data: Any, **fit_kw) -> tuple[Any, dict[str, np.ndarray]]:
    """A seed ensemble whose replica ``k`` is the single fit from ``split(key, K)[k]``
    (that key split into an init key for ``init_params`` and a training key), trained
    by :func:`fit_ensemble` (``fit_kw``: its ``loss_fn``, ``sampler``, ``num_steps``,
    ...); returns the parameters stacked over K and the ``[K, steps]`` history."""
    init_keys, train_keys = jax.vmap(jax.random.split, out_axes=1)(
        jax.random.split(key, replicas))
    states = init_replicas(lambda k: create_state(init_params(k), tx), init_keys)
    states, history = fit_ensemble(states, data, train_keys, **fit_kw)
    return states.params, history


def shard_replicas(tree: Any, mesh: Mesh) -> Any:
    """Places every leaf of ``tree`` split along its leading replica axis over ``mesh``."""
    n = mesh.devices.size
    for leaf in jax.tree.leaves(tree):
        if leaf.shape[0] % n:
            raise InputError("replicas", f"{leaf.shape[0]} replicas cannot be split evenly "
                             f"over {n} devices; use a multiple of {n}")
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec(mesh.axis_names[0])))


def make_ensemble_fused_steps(
    loss_fn: LossFn | None, sampler: Sampler, num_steps: int, *, shared_data: bool = True,
    mesh: Mesh | None = None, step_for: Callable[[Any], Step] | None = None,
):
    """Jitted ``(states_K, data, keys_K) -> (states_K, metrics_Kk)``.

    ``data`` is shared by all replicas when ``shared_data`` (else its leaves carry a
    leading K axis). Each replica uses its own training key. With ``mesh``, inputs
    and outputs with a replica axis are split over the mesh (place them with
    :func:`shard_replicas`); shared ``data`` is replicated.

    With ``step_for`` instead of ``loss_fn`` the replicas run different steps of one
    shape: ``step_for(setting)`` builds replica k's step from its ``setting`` (a pytree
    whose leaves carry the leading K axis, e.g. per-replica DP-SGD clip norms and noise
    multipliers), and the program takes it as a fourth argument:
    ``(states_K, data, keys_K, settings_K)``.
    """
    data_axis = None if shared_data else 0
    if step_for is None:
        fused = jax.vmap(make_fused_fn(loss_fn, sampler, num_steps), in_axes=(0, data_axis, 0))
    else:
        def replica(state, data, key, setting):
            return fuse_steps(step_for(setting), sampler, num_steps)(state, data, key)

        fused = jax.vmap(replica, in_axes=(0, data_axis, 0, 0))
    if mesh is None:
        return jax.jit(fused, donate_argnums=(0,))
    split = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
    data = NamedSharding(mesh, PartitionSpec()) if shared_data else split
    shardings = (split, data, split) + ((split,) if step_for is not None else ())
    return jax.jit(fused, in_shardings=shardings, out_shardings=(split, split),
                   donate_argnums=(0,))


def fit_ensemble(
    states: Any,
    data: Any,
    keys: jax.Array,
    *,
    loss_fn: LossFn | None = None,
    sampler: Sampler,
    num_steps: int,
    steps_per_call: int = 10,
    shared_data: bool = True,
    mesh: Mesh | None = None,
    step_for: Callable[[Any], Step] | None = None,
    settings: Any = None,
    programs: dict | None = None,
) -> tuple[Any, dict[str, np.ndarray]]:
    """Trains K stacked replicas for ``num_steps``; history leaves are ``[K, num_steps]``.

    Give ``loss_fn`` (every replica takes :func:`jtsgen.train.make_step_fn`'s step) or
    ``step_for`` with per-replica ``settings`` (see :func:`make_ensemble_fused_steps`).
    With ``mesh`` the replicas are split over its devices (K must be a multiple of
    the device count). ``programs`` (a dict the caller keeps) holds the compiled
    programs between calls, so training on in segments (e.g. to evaluate snapshots)
    compiles once.
    """
    if (loss_fn is None) == (step_for is None) or (step_for is None) != (settings is None):
        raise ValueError("give loss_fn, or step_for with settings")
    if mesh is not None:
        states, keys = shard_replicas(states, mesh), shard_replicas(keys, mesh)
        data = replicate(data, mesh) if shared_data else shard_replicas(data, mesh)
        if settings is not None:
            settings = shard_replicas(settings, mesh)
    extra = () if settings is None else (settings,)
    cache = {} if programs is None else programs
    history: dict[str, list[np.ndarray]] = {}
    step = 0
    while step < num_steps:
        k = min(steps_per_call, num_steps - step)
        if k not in cache:
            cache[k] = make_ensemble_fused_steps(loss_fn, sampler, k, shared_data=shared_data,
                                                 mesh=mesh, step_for=step_for)
        states, metrics = cache[k](states, data, keys, *extra)
        metrics = jax.tree.map(np.asarray, metrics)
        if not np.all(np.isfinite(metrics["loss"])):
            raise TrainingDiverged(f"ensemble: a replica's loss became non-finite near step {step}")
        for name, values in metrics.items():
            history.setdefault(name, []).append(values)
        step += k
    return states, {name: np.concatenate(v, axis=1) for name, v in history.items()}
