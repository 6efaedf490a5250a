"""DP-SGD for any loss trained through :mod:`jtsgen.train`, with ε from ``dp-accounting``.

One DP-SGD step (Abadi et al. 2016) on a batch of ``B`` examples:

1. per-example gradients ``g_i`` of ``loss_fn`` evaluated on the one-example batch
   ``x_i`` (``jax.vmap`` of ``jax.grad``; example ``i`` gets the key
   ``fold_in(step_key, i)``);
2. each clipped to L2 norm at most ``clip``: ``g_i * min(1, clip / |g_i|)`` (global
   norm over all parameters);
3. ``(sum_i clip(g_i) + N(0, (noise_multiplier * clip)² I)) / B`` handed to the
   optimiser (e.g. Adam) in place of the gradient.

The noise is drawn from the step key (``fold_in(key, state.step)``), so a run resumed
from a checkpoint replays the same noise. ``optax.contrib.differentially_private_aggregate``
computes steps 2-3 too, but keeps its own key in the optimiser state and hides the
per-example norms; here the step reports them, and the tests check this
implementation against optax's.

Privacy accounting (:func:`epsilon`): the RDP accountant of ``dp-accounting`` for
``steps`` compositions of the Poisson-subsampled Gaussian mechanism with sampling
rate ``q = B / N``. **Assumption:** that analysis is for Poisson sampling (each
example joins each batch independently with probability ``q``). :func:`fit_dp` with
:func:`jtsgen.train.sample_rows` draws fixed-size batches with replacement instead;
the reported ε is then the customary approximation, not a proof for that sampler.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
from flax.training.train_state import TrainState

from jtsgen.train.loop import FitResult, fit
from jtsgen.train.step import LossFn, Sampler


def per_example_grads(loss_fn: LossFn, params: Any, batch: Any, key: jax.Array):
    """``(losses_b [B], grads)``: each leaf of ``grads`` is ``[B, *param.shape]``, the
    gradient of ``loss_fn`` on the one-example batch ``batch[i:i+1]``."""
    n = jax.tree.leaves(batch)[0].shape[0]

    def loss_one(p, example, i):
        single = jax.tree.map(lambda a: a[None], example)
        return loss_fn(p, single, jax.random.fold_in(key, i))[0]

    return jax.vmap(jax.value_and_grad(loss_one), in_axes=(None, 0, 0))(
        params, batch, jnp.arange(n))


def global_norms(grads: Any) -> jax.Array:
    """L2 norm over all parameters of each example's gradient: ``[B]``."""
    leaves = jax.tree.leaves(grads)
    return jnp.sqrt(sum(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=1) for g in leaves))


def clip_per_example(grads: Any, clip: float) -> tuple[Any, jax.Array]:
    """``(clipped, norms_b)``: every example's gradient scaled to norm ``<= clip``
    (unchanged if already within it); ``norms_b [B]`` are the norms before clipping."""
    norms = global_norms(grads)
    scale = jnp.minimum(1.0, clip / jnp.maximum(norms, 1e-12))
    clipped = jax.tree.map(lambda g: g * scale.reshape((-1,) + (1,) * (g.ndim - 1)), grads)
    return clipped, norms


def noisy_mean(clipped: Any, clip: float, noise_multiplier: float, key: jax.Array) -> Any:
    """``(sum_i clipped_i + N(0, (noise_multiplier * clip)²)) / B`` leaf by leaf."""
    leaves, treedef = jax.tree.flatten(clipped)
    n = leaves[0].shape[0]
    keys = jax.random.split(key, len(leaves))
    std = noise_multiplier * clip
    out = [(g.sum(0) + std * jax.random.normal(k, g.shape[1:], g.dtype)) / n
           for g, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(treedef, out)


def make_dp_step_fn(loss_fn: LossFn, clip: float, noise_multiplier: float):
    """Pure DP-SGD step ``(state, batch, key) -> (state, metrics)`` for ``loss_fn``.

    Metrics: ``loss`` (mean per-example loss), ``grad_norm_max`` and
    ``grad_norm_mean`` (per-example norms before clipping), ``clipped_share``
    (fraction of examples whose gradient was clipped).
    """

    def step(state: TrainState, batch: Any, key: jax.Array):
        step_key = jax.random.fold_in(key, state.step)
        example_key, noise_key = jax.random.split(step_key)
        losses, grads = per_example_grads(loss_fn, state.params, batch, example_key)
        clipped, norms = clip_per_example(grads, clip)
        state = state.apply_gradients(
            grads=noisy_mean(clipped, clip, noise_multiplier, noise_key))
        metrics = {"loss": losses.mean(), "grad_norm_max": norms.max(),
                   "grad_norm_mean": norms.mean(), "clipped_share": jnp.mean(norms > clip)}
        return state, metrics

    return step


@functools.cache
def _dp_step(loss_fn: LossFn, clip: float, noise_multiplier: float):
    """One step object per setting, so that every :func:`fit_dp` call compiles once."""
    return make_dp_step_fn(loss_fn, clip, noise_multiplier)


def fit_dp(state: TrainState, data: Any, key: jax.Array, *, loss_fn: LossFn, sampler: Sampler,
           num_steps: int, clip: float, noise_multiplier: float, steps_per_call: int = 10,
           progress: bool = True, desc: str = "dp-sgd", **fit_kwargs) -> FitResult:
    """:func:`jtsgen.train.fit` with the DP-SGD step (``fit(step=make_dp_step_fn(...))``):
    same data, sampler, keys, NaN guard and (``checkpoint_dir=...``) checkpoints."""
    return fit(state, data, key, step=_dp_step(loss_fn, float(clip), float(noise_multiplier)),
               sampler=sampler, num_steps=num_steps, steps_per_call=steps_per_call,
               progress=progress, desc=desc, **fit_kwargs)


def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε of ``steps`` DP-SGD steps at ``delta``: RDP accountant (``dp-accounting``) for
    the Poisson-subsampled Gaussian mechanism with rate ``sample_rate = B / N``."""
    import dp_accounting

    accountant = dp_accounting.rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(
        sample_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    accountant.compose(event, int(steps))
    return float(accountant.get_epsilon(delta))
