"""The compiled training step: ``(state, batch, key) -> (state, metrics)``.

A model family supplies either one pure loss ``loss_fn(params, batch, key) -> (loss,
metrics)`` or a ready step (e.g. a GAN's alternating critic/generator update,
:func:`jtsgen.models.rcgan.make_step`); :func:`jtsgen.train.fit` takes either. From a
loss we build

* :func:`make_step_fn` — the pure step (not jitted), for composition with
  ``vmap`` (ensembles) or ``lax.scan`` (step fusion);
* :func:`make_train_step` — that step under ``jax.jit`` with the state donated;
* :func:`make_fused_steps` — ``k`` steps in one ``lax.scan`` inside one jit, each
  step drawing its own batch on device from the full training array, so a
  k-step call costs one dispatch (:func:`fuse_steps` does the same for any step).

A step that should also train data parallel (``fit(..., mesh=)``) averages what
it computes from its batch — gradients, and the metrics it reports — with
:func:`device_mean`: inside the data-parallel program each device runs the step
on its own rows and ``device_mean`` is one all-reduce over the devices; on one
device it returns its argument unchanged. :func:`make_step_fn`'s step does so.

RNG is deterministic by step: the step key is ``fold_in(key, state.step)``, and a
fused step draws its batch from ``fold_in(batch_key, state.step)``. Re-running
from a checkpoint at step s therefore replays steps s, s+1, ... exactly.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax
import jax.numpy as jnp
import optax
from flax.training.train_state import TrainState
from jax.flatten_util import ravel_pytree

LossFn = Callable[[Any, Any, jax.Array], tuple[jax.Array, dict[str, jax.Array]]]
Sampler = Callable[[jax.Array, Any], Any]
# (state, batch, key) -> (state, metrics); the state is any pytree with an int ``step``.
Step = Callable[[Any, Any, jax.Array], tuple[Any, dict[str, jax.Array]]]

_DEVICE_AXIS: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "jtsgen_device_axis", default=None)


def device_axis() -> str | None:
    """The mesh axis over which the step being traced runs once per device (``"data"``
    inside the program of ``fit(..., step=..., mesh=)``); None on one device."""
    return _DEVICE_AXIS.get()


@contextlib.contextmanager
def traced_per_device(axis: str) -> Iterator[None]:
    """While tracing a step inside ``shard_map`` over ``axis``: :func:`device_axis` is
    ``axis`` (so :func:`device_mean` averages over it). Used by the program builders of
    :mod:`jtsgen.train.parallel`; the context only matters while the step is traced."""
    token = _DEVICE_AXIS.set(axis)
    try:
        yield
    finally:
        _DEVICE_AXIS.reset(token)


def pmean_flat(tree: Any, axis: str, scale: float = 1.0) -> Any:
    """``tree``'s mean over the devices of mesh axis ``axis`` (inside ``shard_map``),
    times ``scale``, as one all-reduce of all leaves flattened into a single vector
    (one collective per step instead of one per parameter array). Leaves must share
    a float dtype."""
    flat, unravel = ravel_pytree(tree)
    mean = jax.lax.pmean(flat, axis)
    return unravel(mean if scale == 1.0 else mean * scale)


def device_mean(tree: Any, axis_name: str | None = None) -> Any:
    """``tree`` averaged over the devices of data-parallel training, as one all-reduce
    (:func:`pmean_flat`); ``tree`` itself on one device.

    ``axis_name`` defaults to :func:`device_axis`, so a step that averages its
    gradients (and metrics) with ``device_mean`` trains on one device and with
    ``fit(..., mesh=)`` unchanged. Leaves should share a float dtype.
    """
    axis = device_axis() if axis_name is None else axis_name
    return tree if axis is None else pmean_flat(tree, axis)


@functools.cache
def adam(learning_rate: float, b1: float = 0.9, b2: float = 0.999) -> optax.GradientTransformation:
    """``optax.adam``, one object per setting.

    The optimiser is a static part of the state's tree structure, so reusing the
    same object lets every ``fit`` with the same model share one compiled program.
    """
    return optax.adam(learning_rate, b1=b1, b2=b2)


def create_state(params: Any, tx: optax.GradientTransformation) -> TrainState:
    """A fresh :class:`TrainState` (step, params, opt_state) for ``params``."""
    state = TrainState.create(apply_fn=None, params=params, tx=tx)
    # A strong int32 counter, as the step returns it, so the first call does not
    # compile for a Python int and the second again for an array.
    return state.replace(step=jnp.zeros((), jnp.int32))


def make_step_fn(loss_fn: LossFn) -> Step:
    """Pure step: gradients of ``loss_fn`` at ``fold_in(key, state.step)``, one update.

    The loss, its metrics and the gradients go through :func:`device_mean` (a no-op
    on one device), so the step also serves as ``fit(..., step=..., mesh=)``.
    """

    def step(state: TrainState, batch: Any, key: jax.Array):
        step_key = jax.random.fold_in(key, state.step)
        (loss, aux), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params, batch, step_key
        )
        loss, aux, grads = device_mean((loss, aux, grads))
        state = state.apply_gradients(grads=grads)
        metrics = {"loss": loss, "grad_norm": optax.global_norm(grads), **aux}
        return state, metrics

    return step


def make_train_step(loss_fn: LossFn, *, donate: bool = True):
    """Jitted ``(state, batch, key) -> (state, metrics)``; the input state is donated."""
    return jax.jit(make_step_fn(loss_fn), donate_argnums=(0,) if donate else ())


@functools.cache
def sample_rows(batch_size: int) -> Sampler:
    """Sampler drawing ``batch_size`` rows (with replacement) from every leaf of ``data``.

    ``data`` is a pytree of arrays sharing their leading dimension ``N``.
    """

    def sample(key: jax.Array, data: Any) -> Any:
        n = jax.tree.leaves(data)[0].shape[0]
        idx = jax.random.randint(key, (batch_size,), 0, n)
        return jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data)

    return sample


def make_fused_fn(loss_fn: LossFn, sampler: Sampler, num_steps: int):
    """Pure ``(state, data, key) -> (state, metrics_k)``: ``num_steps`` steps in a scan.

    ``key`` is the run's training key; the batch key and the step key are derived
    from it and folded with the step counter, so the result does not depend on
    how steps are grouped into calls. ``metrics_k`` leaves have leading dim k.
    """
    return fuse_steps(make_step_fn(loss_fn), sampler, num_steps)


def fuse_steps(step: Step, sampler: Sampler, num_steps: int):
    """``num_steps`` calls of ``step(state, batch, key) -> (state, metrics)`` in one
    ``lax.scan``, each on ``sampler(fold_in(batch_key, state.step), data)`` with
    ``batch_key, step_key = split(key)`` and ``step_key`` passed to every call (the
    step folds in its counter itself): the pure ``(state, data, key) ->
    (state, metrics_k)`` of :func:`make_fused_fn` for any step. ``state.step`` must
    grow by one per call."""

    def fused(state: Any, data: Any, key: jax.Array):
        batch_key, step_key = jax.random.split(key)

        def body(state, _):
            batch = sampler(jax.random.fold_in(batch_key, state.step), data)
            return step(state, batch, step_key)

        return jax.lax.scan(body, state, None, length=num_steps)

    return fused


def make_fused_steps(loss_fn: LossFn, sampler: Sampler, num_steps: int, *, donate: bool = True):
    """Jitted :func:`make_fused_fn` with the state donated."""
    fused = make_fused_fn(loss_fn, sampler, num_steps)
    return jax.jit(fused, donate_argnums=(0,) if donate else ())
