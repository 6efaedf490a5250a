"""Training loop: fused compiled steps, progress bar, NaN guard, Orbax resume.

``fit`` drives a model's pure loss (``loss_fn=``, through
:func:`jtsgen.train.step.make_fused_fn`) or a ready step (``step=``, e.g. a GAN's
alternating update, through :func:`jtsgen.train.fuse_steps`): ``steps_per_call``
steps run inside one jitted ``lax.scan`` per host call; with a ``mesh`` they run
data parallel over its devices (:func:`jtsgen.train.make_data_parallel_fused_steps`,
:func:`jtsgen.train.fuse_steps_data_parallel`). With a
checkpoint directory, the state is saved every ``checkpoint_every`` steps and a
re-run of the same command restores the newest checkpoint and continues; since
batches and noise are functions of the step counter, the resumed run ends with
the same parameters as an uninterrupted one.

If the loss becomes NaN or infinite, training stops with :class:`TrainingDiverged`
naming the step; the non-finite state is never written, so the last good
checkpoint stays on disk.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
from flax.training.train_state import TrainState
from jax.sharding import Mesh
from tqdm.auto import tqdm

from jtsgen.errors import InputError
from jtsgen.train import checkpoint
from jtsgen.train.parallel import (
    fuse_steps_data_parallel,
    make_data_parallel_fused_steps,
    replicate,
)
from jtsgen.train.step import LossFn, Sampler, Step, fuse_steps, make_fused_fn


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite."""


@dataclasses.dataclass
class FitResult:
    """Final state and per-step metric history (lists of floats, one per step)."""

    state: TrainState | Any
    history: dict[str, list[float]]
    resumed_from: int | None = None


def loss_ends(losses, n: int = 10) -> tuple[float, float]:
    """``(mean of the first n, mean of the last n)`` of a loss history (any sequence of
    floats, one per step): the "did it learn" summary the experiments report."""
    values = np.asarray(losses, np.float64)
    return float(values[:n].mean()), float(values[-n:].mean())


_COMPILED: dict[tuple, Any] = {}


def compiled_fused(loss_fn: LossFn | None, sampler: Sampler, k: int, mesh: Mesh | None = None,
                   microbatches: int = 1, *, step: Step | None = None):
    """The jitted k-step program for ``(loss_fn, sampler)`` or, with ``loss_fn=None``,
    for ``(step, sampler)``, shared by every ``fit`` call.

    Keyed on the function objects, so model families that build their loss (or
    step) and sampler once per config (see ``functools.cache`` in the models)
    compile once per shape for the whole process. With ``mesh``: the
    data-parallel program (state and data replicated on ``mesh``).
    """
    key = (loss_fn, step, sampler, k, mesh, microbatches)
    if key not in _COMPILED:
        if step is not None:
            _COMPILED[key] = (
                jax.jit(fuse_steps(step, sampler, k), donate_argnums=(0,)) if mesh is None
                else fuse_steps_data_parallel(step, sampler, k, mesh, split_data=False))
        elif mesh is None:
            _COMPILED[key] = jax.jit(make_fused_fn(loss_fn, sampler, k), donate_argnums=(0,))
        else:
            _COMPILED[key] = make_data_parallel_fused_steps(
                loss_fn, sampler, k, mesh, microbatches=microbatches, split_data=False)
    return _COMPILED[key]


def fit(
    state: TrainState | Any,
    data: Any,
    key: jax.Array,
    *,
    loss_fn: LossFn | None = None,
    step: Step | None = None,
    sampler: Sampler,
    num_steps: int,
    steps_per_call: int = 10,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    keep: int = 2,
    progress: bool = True,
    desc: str = "train",
    stop_after: int | None = None,
    mesh: Mesh | None = None,
    microbatches: int = 1,
) -> FitResult:
    """Trains ``state`` until ``state.step == num_steps``.

    Give exactly one of ``loss_fn`` (one optimiser update per step on its
    gradient, :func:`jtsgen.train.make_step_fn`) and ``step`` (a ready update,
    e.g. a GAN's alternating critic/generator step, ``step=rcgan.make_step(config)``).

    Args:
      state: initial state (ignored in favour of the newest checkpoint, if any); a
        :class:`TrainState` with ``loss_fn``; with ``step`` any pytree of arrays
        with an int ``step`` counter that the step advances by one (checkpoints
        save and restore the whole pytree).
      data: pytree of device arrays with a shared leading dim; ``sampler`` draws batches.
      key: the run's training key (batch and step keys derive from it).
      loss_fn: ``(params, batch, key) -> (loss, metrics)``.
      step: ``(state, batch, key) -> (state, metrics)``, pure (fit jits it);
        ``key`` is the same for every step, so the step folds in ``state.step``
        to draw fresh noise. Its metrics must include ``loss`` (the progress bar
        shows it); a step is non-finite if any metric is. Pass the same object
        to every ``fit`` (e.g. cached per config) to compile once.
      sampler: ``(key, data) -> batch``.
      num_steps: total optimiser steps (or calls of ``step``) of the run.
      steps_per_call: steps fused in one compiled call.
      checkpoint_dir: Orbax directory; None disables checkpointing.
      checkpoint_every: save interval in steps (rounded to whole calls); 0 = only at the end.
      stop_after: stop (after checkpointing) once this step is reached; for tests
        that simulate a killed run.
      mesh: train data parallel over this 1-D mesh's devices (``data_mesh()``):
        ``data`` is copied to every device, each device draws its own batch from
        all of it with ``sampler`` (the global batch is ``devices x`` the
        sampler's rows; a sampler of ``per_device_rows(batch, mesh)`` rows keeps
        the one-device batch) and its own noise, and the gradients are averaged
        over devices (:func:`jtsgen.train.make_data_parallel_fused_steps`). The
        returned state is replicated on ``mesh``; checkpoints resume on any mesh.
        With ``step``, each device folds its index into ``key`` (its own batches
        and noise) and the step must average its gradients and metrics over the
        devices with :func:`jtsgen.train.device_mean`
        (:func:`jtsgen.train.fuse_steps_data_parallel`).
      microbatches: with ``mesh`` and ``loss_fn``, each device accumulates its rows'
        gradients in this many chunks (the sampler's rows must divide by it).
    """
    if (loss_fn is None) == (step is None):
        raise InputError("loss_fn/step", "give exactly one of loss_fn= and step=")
    if mesh is None and microbatches != 1:
        raise InputError("microbatches", "only applies with a mesh (data parallel)")
    if step is not None and microbatches != 1:
        raise InputError("microbatches", "only applies with loss_fn= (a step computes its "
                                         "own gradients)")
    data, place = replicated_on(mesh, data)
    return drive(state, data, key,
                 program=lambda k: compiled_fused(loss_fn, sampler, k, mesh, microbatches,
                                                  step=step),
                 num_steps=num_steps, steps_per_call=steps_per_call,
                 checkpoint_dir=checkpoint_dir, checkpoint_every=checkpoint_every, keep=keep,
                 progress=progress, desc=desc, stop_after=stop_after, place=place)


def replicated_on(mesh: Mesh | None, data: Any) -> tuple[Any, Callable[[Any], Any] | None]:
    """``(data, place)`` for :func:`drive`: with a mesh, ``data`` replicated on it and a
    ``place`` that replicates the state there; without one, ``data`` as is and None."""
    if mesh is None:
        return data, None
    return replicate(data, mesh), lambda tree: replicate(tree, mesh)


def drive(
    state: Any,
    data: Any,
    key: jax.Array,
    *,
    program: Callable[[int], Callable],
    num_steps: int,
    steps_per_call: int = 10,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: int = 0,
    keep: int = 2,
    progress: bool = True,
    desc: str = "train",
    stop_after: int | None = None,
    postfix: Callable[[dict], dict] | None = None,
    place: Callable[[Any], Any] | None = None,
) -> FitResult:
    """The host loop shared by every model family's ``fit``.

    ``program(k)`` returns the compiled ``(state, data, key) -> (state, metrics_k)``
    that advances ``state.step`` by ``k`` (metrics: leaves ``[k]``); ``postfix``
    maps the last call's metrics to the progress bar's fields (default: ``loss``);
    ``place`` puts the starting state (given or restored) where ``program``
    expects it, once (e.g. replicated on a mesh).
    Checkpointing, resume, the NaN guard and the history are as in :func:`fit`;
    a step is non-finite if any of its metrics is.
    """
    mngr = checkpoint.manager(checkpoint_dir, keep=keep) if checkpoint_dir else None
    history: dict[str, list[float]] = {}
    resumed_from = None
    if mngr is not None:
        restored = checkpoint.restore_latest(mngr, state)
        if restored is not None:
            state, history = restored
            resumed_from = int(state.step)
    if place is not None:
        state = place(state)
    step = int(state.step)
    last_saved = resumed_from
    end = num_steps if stop_after is None else min(num_steps, stop_after)
    bar = tqdm(total=num_steps, initial=step, desc=desc, disable=not progress, leave=False)
    try:
        while step < end:
            k = min(steps_per_call, end - step)
            state, metrics = program(k)(state, data, key)
            metrics = jax.tree.map(np.asarray, metrics)
            finite = np.all([np.isfinite(np.ravel(v)) for v in metrics.values()], axis=0)
            if not np.all(finite):
                bad = step + int(np.argmax(~finite))
                where = f"step {last_saved}" if last_saved is not None else "none written"
                raise TrainingDiverged(
                    f"{desc}: loss became non-finite at step {bad}; last good checkpoint: "
                    f"{where}. Lower the learning rate or check the input data for NaN/inf."
                )
            for name, values in metrics.items():
                history.setdefault(name, []).extend(float(v) for v in np.ravel(values))
            step += k
            bar.update(k)
            fields = postfix(metrics) if postfix else {"loss": metrics["loss"]}
            bar.set_postfix({n: f"{float(np.ravel(v)[-1]):.4f}" for n, v in fields.items()})
            due = checkpoint_every and step % checkpoint_every < k
            if mngr is not None and (due or step == end):
                checkpoint.save(mngr, step, state, history)
                last_saved = step
    finally:
        bar.close()
        if mngr is not None:
            mngr.close()
    return FitResult(state=state, history=history, resumed_from=resumed_from)
