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
rate ``q = B / N``. That analysis is for Poisson sampling: each example joins each
batch independently with probability ``q``. :func:`poisson_rows` is that sampler (a
batch of at most ``capacity`` rows with a mask, the sum divided by the fixed
``q * N``, as the analysis assumes); with it ε holds for the sampler used, up to the
chance that more than ``capacity`` examples join one batch (then the extra ones are
left out, counted in the ``overflow`` metric; :func:`poisson_capacity` makes it
negligible). :func:`jtsgen.train.sample_rows` draws fixed-size batches with
replacement instead; the reported ε is then the customary approximation, not a proof
for that sampler.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax.training.train_state import TrainState

from jtsgen.train.ensemble import fit_ensemble
from jtsgen.train.loop import FitResult, fit
from jtsgen.train.step import LossFn, Sampler


class PoissonBatch(NamedTuple):
    """A Poisson-sampled batch: ``rows`` (a pytree, leading dim ``capacity``), ``mask_b``
    (1 = the row joined, 0 = padding), the fixed ``denominator`` ``q * N`` and
    ``overflow`` (joined rows left out because more than ``capacity`` joined)."""

    rows: Any
    mask_b: jax.Array
    denominator: jax.Array
    overflow: jax.Array


def poisson_capacity(n: int, sample_rate: float, sigmas: float = 6.0) -> int:
    """A batch capacity that more than this many joined rows exceed with probability
    below ~1e-9: ``q N + sigmas * sqrt(q N (1 - q))``, at least 1, at most ``n``."""
    mean = n * sample_rate
    return int(min(n, max(1, math.ceil(mean + sigmas * math.sqrt(mean * (1 - sample_rate))))))


def poisson_rows(sample_rate: float, capacity: int) -> Sampler:
    """Sampler of :class:`PoissonBatch`: every row of ``data`` (a pytree of arrays sharing
    their leading dim ``N``) joins independently with probability ``sample_rate``; the
    joined rows, in random order, fill the first places of ``capacity``."""
    if not 0.0 < sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate}")

    def sample(key: jax.Array, data: Any) -> PoissonBatch:
        n = jax.tree.leaves(data)[0].shape[0]
        join_key, order_key = jax.random.split(key)
        joined = jax.random.bernoulli(join_key, sample_rate, (n,))
        # joined rows get priorities in [0, 1), the rest 2: the first places go to joined
        priority = jnp.where(joined, jax.random.uniform(order_key, (n,)), 2.0)
        idx = jnp.argsort(priority)[:capacity]
        count = jnp.sum(joined)
        return PoissonBatch(jax.tree.map(lambda a: jnp.take(a, idx, axis=0), data),
                            joined[idx].astype(jnp.float32),
                            jnp.float32(sample_rate * n),
                            jnp.maximum(count - capacity, 0))

    return sample


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


def noisy_mean(clipped: Any, clip: float, noise_multiplier: float, key: jax.Array,
               mask_b: jax.Array | None = None, denominator: Any = None) -> Any:
    """``(sum_i clipped_i + N(0, (noise_multiplier * clip)²)) / B`` leaf by leaf; with
    ``mask_b [B]`` only the masked-in examples are summed, and ``denominator`` (e.g.
    Poisson sampling's fixed ``q * N``) replaces ``B``."""
    leaves, treedef = jax.tree.flatten(clipped)
    n = leaves[0].shape[0] if denominator is None else denominator
    keys = jax.random.split(key, len(leaves))
    std = noise_multiplier * clip

    def total(g):
        if mask_b is None:
            return g.sum(0)
        return jnp.tensordot(mask_b.astype(g.dtype), g, axes=1)

    out = [(total(g) + std * jax.random.normal(k, g.shape[1:], g.dtype)) / n
           for g, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(treedef, out)


def _mean(v_b: jax.Array, mask_b: jax.Array | None) -> jax.Array:
    """Mean of ``v_b [B]``, over the masked-in entries when ``mask_b`` is given."""
    if mask_b is None:
        return jnp.mean(v_b)
    return jnp.sum(v_b * mask_b) / jnp.maximum(mask_b.sum(), 1.0)


def make_dp_step_fn(loss_fn: LossFn, clip: float, noise_multiplier: float):
    """Pure DP-SGD step ``(state, batch, key) -> (state, metrics)`` for ``loss_fn``.

    Metrics: ``loss`` (mean per-example loss), ``grad_norm_max`` and
    ``grad_norm_mean`` (per-example norms before clipping), ``clipped_share``
    (fraction of examples whose gradient was clipped). A :class:`PoissonBatch`
    (:func:`poisson_rows`) counts its joined rows only, divides by its fixed
    denominator and adds ``batch_size`` (rows that joined) and ``overflow``.
    """

    def step(state: TrainState, batch: Any, key: jax.Array):
        step_key = jax.random.fold_in(key, state.step)
        example_key, noise_key = jax.random.split(step_key)
        poisson = isinstance(batch, PoissonBatch)
        mask = batch.mask_b if poisson else None
        losses, grads = per_example_grads(loss_fn, state.params,
                                          batch.rows if poisson else batch, example_key)
        clipped, norms = clip_per_example(grads, clip)
        state = state.apply_gradients(grads=noisy_mean(
            clipped, clip, noise_multiplier, noise_key, mask,
            batch.denominator if poisson else None))
        metrics = {"loss": _mean(losses, mask),
                   "grad_norm_max": norms.max() if mask is None else jnp.max(norms * mask),
                   "grad_norm_mean": _mean(norms, mask),
                   "clipped_share": _mean(norms > clip, mask)}
        if poisson:
            metrics |= {"batch_size": mask.sum(), "overflow": batch.overflow}
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


class DPSettings(NamedTuple):
    """Per-replica DP-SGD settings of :func:`fit_dp_sweep`: ``clip [K]`` (the L2 bound) and
    ``noise_multiplier [K]`` (σ), float32."""

    clip: jax.Array
    noise_multiplier: jax.Array


def fit_dp_sweep(states: Any, data: Any, keys: jax.Array, settings: DPSettings, *,
                 loss_fn: LossFn, sampler: Sampler, num_steps: int, steps_per_call: int = 10,
                 programs: dict | None = None) -> tuple[Any, dict[str, np.ndarray]]:
    """K DP-SGD runs, one per entry of ``settings``, trained as one vmapped program
    (:func:`jtsgen.train.fit_ensemble` with :func:`make_dp_step_fn`'s step per replica).

    ``states`` and ``keys`` carry the leading K axis (``init_replicas``); replica k
    clips to ``settings.clip[k]`` and adds noise of std ``settings.noise_multiplier[k] *
    settings.clip[k]``, and equals :func:`fit_dp` with those settings (up to float
    rounding). History leaves are ``[K, num_steps]``; keep ``programs`` (a dict) between
    calls to train on in segments without compiling again.
    """
    settings = DPSettings(*(jnp.asarray(v, jnp.float32) for v in settings))
    return fit_ensemble(states, data, keys, sampler=sampler, num_steps=num_steps,
                        steps_per_call=steps_per_call, settings=settings, programs=programs,
                        step_for=lambda s: make_dp_step_fn(loss_fn, s.clip, s.noise_multiplier))


def epsilon(noise_multiplier: float, sample_rate: float, steps: int, delta: float) -> float:
    """ε of ``steps`` DP-SGD steps at ``delta``: RDP accountant (``dp-accounting``) for
    the Poisson-subsampled Gaussian mechanism with rate ``sample_rate = B / N``."""
    import dp_accounting

    accountant = dp_accounting.rdp.RdpAccountant()
    event = dp_accounting.PoissonSampledDpEvent(
        sample_rate, dp_accounting.GaussianDpEvent(noise_multiplier))
    accountant.compose(event, int(steps))
    return float(accountant.get_epsilon(delta))
