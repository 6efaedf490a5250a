"""RCGAN baseline: LSTM generator conditioned on per-step labels, WGAN-GP critic with pac.

Sources: the RCGAN baseline of the C-GATS paper (seed 004) and CTGAN's WGAN-GP
critic with pac (seed 002, Algorithm 1). The architecture is that of
``benchmarks/reference/rcgan.py``, so that benchmarks compare like with like:

* generator: ``concat(noise_t [noise_dim], y_t) -> LSTM(hidden) -> Dense(C)`` per step;
* packing: per-sample features ``f = concat(x, y)`` ``[B, T, C+1]``; samples
  ``gP .. gP+P-1`` form group ``g`` and their features sit side by side per step:
  ``[B/P, T, P*(C+1)] = [f_{gP}, f_{gP+1}, ...]`` along channels;
* critic: ``LSTM(hidden)`` over the packed input, ``Dense(1)`` on its last hidden
  state -> one score per group ``[B/P]``;
* critic loss: ``mean D(fake) - mean D(real) + gp_weight * GP`` (see
  :func:`gradient_penalty`); generator loss ``-mean D(fake)``; fakes use the real
  labels; Adam(lr, (b1, b2)) on each network.

Training state (a design choice): a GAN step is ``n_critic`` critic updates then
one generator update, which is not one gradient of one loss, so it cannot go
through :func:`jtsgen.train.make_step_fn`. :class:`GANState` holds two
:class:`~flax.training.train_state.TrainState` (``gen``, ``critic``) and the GAN
step counter; :func:`make_train_step` fuses the critic updates in a
``lax.scan``. Training is the library's one loop, given the GAN step::

    from jtsgen.train import fit
    result = fit(rcgan.init_state(k_init, config), (x_ntc, y_nt), k_fit,
                 step=rcgan.make_step(config),
                 sampler=rcgan.make_sampler(config, batch_size, mesh),
                 num_steps=num_steps, mesh=mesh, checkpoint_dir=...)

(fused steps per call, NaN guard, Orbax resume; history keys ``loss`` (critic),
``d_loss``, ``wasserstein``, ``gp``, ``g_loss``, one float per GAN step). With
``mesh`` (e.g. ``jtsgen.train.local_mesh(2)``) each device draws
``batch_size / devices`` rows (a multiple of ``pac``) from all of the data with its
own noise, and every critic and generator update averages the devices' gradients
(:func:`jtsgen.train.device_mean`); the returned state is replicated on ``mesh``
(``jtsgen.train.for_one_device(params, mesh)`` for one-device code), checkpoints
resume on any mesh, and noise draws depend on the number of devices. Each loss
is a pure function; each step is jitted once.

Shapes: ``x_btc [B, T, C]``, ``y_bt [B, T]`` in {0, 1}, ``noise_btn [B, T, noise_dim]``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax import struct
from flax.training.train_state import TrainState
from jax.sharding import Mesh

from jtsgen.errors import InputError
from jtsgen.nn.lstm import LSTM, Dense
from jtsgen.train import adam, create_state, device_mean, per_device_rows, sample_rows


@dataclasses.dataclass(frozen=True)
class RCGANConfig:
    """Static configuration (defaults: the benchmark/reference architecture)."""

    seq_len: int = 240
    channels: int = 1
    noise_dim: int = 8
    hidden: int = 64
    pac: int = 4
    gp_weight: float = 10.0
    n_critic: int = 5
    lr: float = 2e-4
    b1: float = 0.5
    b2: float = 0.9
    unroll: int = 1

    def __post_init__(self):
        for name in ("seq_len", "channels", "noise_dim", "hidden", "pac", "n_critic", "unroll"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise InputError(name, f"must be a positive integer, got {value!r}")
        if self.gp_weight < 0 or self.lr <= 0:
            raise InputError("gp_weight/lr", "gp_weight must be >= 0 and lr > 0")


class Generator(nn.Module):
    """``(noise_btn, y_bt) -> x_btc``."""

    hidden: int
    channels: int
    unroll: int = 1

    @nn.compact
    def __call__(self, noise_btn: jax.Array, y_bt: jax.Array) -> jax.Array:
        inp = jnp.concatenate([noise_btn, y_bt[..., None].astype(noise_btn.dtype)], axis=-1)
        h_bth, _ = LSTM(self.hidden, unroll=self.unroll, name="lstm")(inp)
        return Dense(self.channels, name="out")(h_bth)


class Critic(nn.Module):
    """Packed input ``[G, T, P*(C+1)]`` -> scores ``[G]``."""

    hidden: int
    unroll: int = 1

    @nn.compact
    def __call__(self, packed_gtf: jax.Array) -> jax.Array:
        _, (h_gh, _) = LSTM(self.hidden, unroll=self.unroll, name="lstm")(packed_gtf)
        return Dense(1, name="out")(h_gh)[:, 0]


class GANState(struct.PyTreeNode):
    """``step``: GAN steps done; ``gen`` / ``critic``: each network's TrainState."""

    step: jax.Array
    gen: TrainState
    critic: TrainState


def pack(x_btc: jax.Array, y_bt: jax.Array, pac: int) -> jax.Array:
    """``[B, T, C]``, ``[B, T]`` -> ``[B/P, T, P*(C+1)]``: group members side by side per step."""
    feats = jnp.concatenate([x_btc, y_bt[..., None].astype(x_btc.dtype)], axis=-1)
    batch, seq_len, width = feats.shape
    if batch % pac:
        raise InputError("batch", f"batch size {batch} is not a multiple of pac ({pac})")
    grouped = feats.reshape(batch // pac, pac, seq_len, width).transpose(0, 2, 1, 3)
    return grouped.reshape(batch // pac, seq_len, pac * width)


def interpolate(real_btc: jax.Array, fake_btc: jax.Array, key: jax.Array, pac: int) -> jax.Array:
    """``eps_g * real + (1 - eps_g) * fake`` with ``eps = uniform(key, (B/P, 1, 1))`` per group."""
    eps_g = jax.random.uniform(key, (real_btc.shape[0] // pac, 1, 1), real_btc.dtype)
    eps_b = jnp.repeat(eps_g, pac, axis=0)
    return eps_b * real_btc + (1.0 - eps_b) * fake_btc


def penalty_from_grad(grad_gtf: jax.Array) -> jax.Array:
    """``mean_g (||grad_g||_2 - 1)^2`` over groups; the norm is over a group's ``[T, F]``."""
    norm_g = jnp.sqrt(jnp.sum(grad_gtf**2, axis=(1, 2)) + 1e-12)  # floor: finite 2nd grad
    return jnp.mean((norm_g - 1.0) ** 2)


def gradient_penalty(
    critic_apply: Callable[[Any, jax.Array], jax.Array],
    params: Any,
    real_btc: jax.Array,
    fake_btc: jax.Array,
    y_bt: jax.Array,
    key: jax.Array,
    *,
    pac: int,
) -> jax.Array:
    """WGAN-GP penalty with pac: ``mean_g (||∇ D(x̂_g)||_2 - 1)^2``.

    ``x̂ = eps_g * real + (1 - eps_g) * fake`` on the x channels (:func:`interpolate`),
    one ``eps_g ~ U[0, 1]`` per pac group; the labels are ``y_bt`` for both. The
    gradient is taken w.r.t. group g's whole packed input ``[T, P*(C+1)]`` (labels
    included), as in the reference. ``critic_apply(params, packed_gtf) -> [G]``
    must score groups independently.
    """
    packed = pack(interpolate(real_btc, fake_btc, key, pac), y_bt, pac)
    return penalty_from_grad(jax.grad(lambda p: jnp.sum(critic_apply(params, p)))(packed))


def _models(config: RCGANConfig) -> tuple[Generator, Critic]:
    return (Generator(config.hidden, config.channels, unroll=config.unroll),
            Critic(config.hidden, unroll=config.unroll))


def _check_batch(config: RCGANConfig, x_btc: jax.Array, y_bt: jax.Array) -> None:
    want = (config.seq_len, config.channels)
    if x_btc.ndim != 3 or x_btc.shape[1:] != want or y_bt.shape != x_btc.shape[:2]:
        raise InputError("batch", f"expected x [B, {want[0]}, {want[1]}] and y [B, {want[0]}], "
                                  f"got {x_btc.shape} and {y_bt.shape}")
    if x_btc.shape[0] % config.pac:
        raise InputError("batch", f"batch size {x_btc.shape[0]} is not a multiple of pac "
                                  f"({config.pac})")


def init_state(key: jax.Array, config: RCGANConfig) -> GANState:
    """Fresh generator and critic parameters with their Adam states; step 0."""
    gen_params, critic_params = _init_params(key, config)
    tx = adam(config.lr, config.b1, config.b2)  # cached: fresh states share a treedef
    return GANState(
        step=_zero_step(),
        gen=create_state(gen_params, tx).replace(step=_zero_step()),
        critic=create_state(critic_params, tx).replace(step=_zero_step()),
    )


def _zero_step() -> jax.Array:
    # A strong int32 (not a Python int) so fresh and restored states trace alike;
    # a separate buffer per counter so the state can be donated.
    return jnp.zeros((), jnp.int32)


@functools.partial(jax.jit, static_argnames=("config",))
def _init_params(key: jax.Array, config: RCGANConfig):
    gen, critic = _models(config)
    k_gen, k_critic = jax.random.split(key)
    noise = jnp.zeros((1, config.seq_len, config.noise_dim), jnp.float32)
    y = jnp.zeros((1, config.seq_len), jnp.float32)
    packed = jnp.zeros((1, config.seq_len, config.pac * (config.channels + 1)), jnp.float32)
    return gen.init(k_gen, noise, y)["params"], critic.init(k_critic, packed)["params"]


def make_losses(config: RCGANConfig):
    """``(critic_loss, generator_loss)``, pure functions differentiable in their first arg.

    The critic loss scores real, fake and interpolated groups in one critic pass
    (one LSTM scan over ``3B/P`` groups): it equals ``mean D(fake) - mean D(real) +
    gp_weight * gradient_penalty(...)`` with ``k_noise, k_gp = split(key)``
    (fake noise from ``k_noise``, ``eps`` from ``k_gp``).

    ``critic_loss(critic_params, gen_params, (x_btc, y_bt), key) -> (loss, metrics)``;
    ``generator_loss(gen_params, critic_params, y_bt, key) -> (loss, metrics)``.
    """
    gen, critic = _models(config)
    critic_apply = lambda p, packed: critic.apply({"params": p}, packed)  # noqa: E731

    def fake(gen_params, y_bt, key):
        noise = jax.random.normal(key, (*y_bt.shape, config.noise_dim), jnp.float32)
        return gen.apply({"params": gen_params}, noise, y_bt)

    def critic_loss(critic_params, gen_params, batch, key):
        x_btc, y_bt = batch
        _check_batch(config, x_btc, y_bt)
        k_noise, k_gp = jax.random.split(key)
        x_fake = jax.lax.stop_gradient(fake(gen_params, y_bt, k_noise))
        x_hat = interpolate(x_btc, x_fake, k_gp, config.pac)
        packed_rf = jnp.concatenate([pack(x_btc, y_bt, config.pac),
                                     pack(x_fake, y_bt, config.pac)])
        groups = x_btc.shape[0] // config.pac

        def hat_scores(packed_hat):  # one critic pass over [real; fake; x_hat] groups
            d = critic_apply(critic_params, jnp.concatenate([packed_rf, packed_hat]))
            return jnp.sum(d[2 * groups:]), d

        grad_hat, d = jax.grad(hat_scores, has_aux=True)(pack(x_hat, y_bt, config.pac))
        d_real, d_fake = d[:groups], d[groups:2 * groups]
        gp = penalty_from_grad(grad_hat)
        wasserstein = jnp.mean(d_real) - jnp.mean(d_fake)
        return -wasserstein + config.gp_weight * gp, {"wasserstein": wasserstein, "gp": gp}

    def generator_loss(gen_params, critic_params, y_bt, key):
        d_fake = critic_apply(critic_params, pack(fake(gen_params, y_bt, key), y_bt, config.pac))
        return -jnp.mean(d_fake), {}

    return critic_loss, generator_loss


def make_critic_step(config: RCGANConfig, axis_name: str | None = None):
    """Pure ``(state, (x_btc, y_bt), key) -> (state, metrics)``: one critic Adam update.

    Data parallel (inside ``shard_map`` over mesh axis ``axis_name``, or, without
    one, inside ``jtsgen.train.fit(..., mesh=)``, see
    :func:`jtsgen.train.device_mean`) the loss, metrics and gradients are averaged
    over the devices before the update, so every device applies the same update:
    the data-parallel step over all devices' rows (each device's loss is a mean
    over its own pac groups).
    """
    critic_loss, _ = make_losses(config)

    def critic_step(state: GANState, batch, key):
        (loss, aux), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            state.critic.params, state.gen.params, batch, key)
        loss, aux, grads = device_mean((loss, aux, grads), axis_name)
        state = state.replace(critic=state.critic.apply_gradients(grads=grads))
        return state, {"d_loss": loss, **aux}

    return critic_step


def make_generator_step(config: RCGANConfig, axis_name: str | None = None):
    """Pure ``(state, y_bt, key) -> (state, metrics)``: one generator Adam update
    (``axis_name``: averaged over devices as in :func:`make_critic_step`)."""
    _, generator_loss = make_losses(config)

    def generator_step(state: GANState, y_bt, key):
        (loss, _), grads = jax.value_and_grad(generator_loss, has_aux=True)(
            state.gen.params, state.critic.params, y_bt, key)
        loss, grads = device_mean((loss, grads), axis_name)
        return state.replace(gen=state.gen.apply_gradients(grads=grads)), {"g_loss": loss}

    return generator_step


def make_train_step(config: RCGANConfig, axis_name: str | None = None):
    """Pure ``(state, (x_nbtc, y_nbt), key) -> (state, metrics)``: one GAN step.

    The batch holds ``n = n_critic`` real batches: critic update ``i`` uses batch
    ``i`` and key ``fold_in(k, i)``, then the generator update uses the labels of
    the last batch and ``fold_in(k, n)``, where ``k = fold_in(key, state.step)``.
    Metrics: ``loss`` (= ``d_loss``, mean over the critic updates), ``d_loss``,
    ``wasserstein``, ``gp`` (means) and ``g_loss``. Data parallel every update
    averages over the devices (:func:`make_critic_step`); each device passes its
    own rows and key.
    """
    critic_step = make_critic_step(config, axis_name)
    generator_step = make_generator_step(config, axis_name)
    n = config.n_critic

    def train_step(state: GANState, batches, key):
        x_nbtc, y_nbt = batches
        if x_nbtc.ndim != 4 or x_nbtc.shape[0] != n:
            raise InputError("batch", f"expected {n} stacked batches [n_critic, B, T, C], "
                                      f"got x of shape {x_nbtc.shape}")
        k = jax.random.fold_in(key, state.step)

        def body(s, inp):
            x_btc, y_bt, i = inp
            return critic_step(s, (x_btc, y_bt), jax.random.fold_in(k, i))

        state, cm = jax.lax.scan(body, state, (x_nbtc, y_nbt, jnp.arange(n)))
        state, gm = generator_step(state, y_nbt[-1], jax.random.fold_in(k, n))
        metrics = {name: jnp.mean(v) for name, v in cm.items()}
        return state.replace(step=state.step + 1), {"loss": metrics["d_loss"], **metrics, **gm}

    return train_step


@functools.lru_cache(maxsize=16)
def make_step(config: RCGANConfig):
    """The GAN step for ``jtsgen.train.fit(..., step=make_step(config))``:
    :func:`make_train_step`, one object per config so that repeated fits share one
    compiled program. Under ``fit(..., mesh=)`` every update averages over the
    devices."""
    return make_train_step(config)


@functools.lru_cache(maxsize=16)
def critic_batches(batch_size: int, n_critic: int):
    """Sampler ``(key, (x_ntc, y_nt)) -> (x [n_critic, B, T, C], y [n_critic, B, T])``."""
    rows = sample_rows(batch_size * n_critic)

    def sample(key: jax.Array, data: Any):
        return jax.tree.map(lambda a: a.reshape(n_critic, batch_size, *a.shape[1:]),
                            rows(key, data))

    return sample


@functools.lru_cache(maxsize=64)
def make_sampler(config: RCGANConfig, batch_size: int, mesh: Mesh | None = None):
    """The sampler for ``fit(..., step=make_step(config))``: ``n_critic`` batches of
    ``batch_size`` rows in all, i.e. ``batch_size / devices`` rows per device of
    ``mesh`` (a positive multiple of ``pac``), drawn from ``data = (x_ntc [N, T, C],
    y_nt [N, T])`` (checked when the program is traced). Cached, so repeated fits
    share one compiled program."""
    rows = per_device_rows(batch_size, mesh)
    if rows < 1 or rows % config.pac:
        per = "" if rows == batch_size else f" ({rows} rows per device of the mesh)"
        raise InputError("batch_size", f"each device needs a positive multiple of pac "
                                       f"({config.pac}) rows, got {batch_size}{per}")
    batches = critic_batches(rows, config.n_critic)

    def sample(key: jax.Array, data: Any):
        _check_data(data, config)
        return batches(key, data)

    return sample


def _check_data(data: Any, config: RCGANConfig) -> None:
    ok = isinstance(data, (tuple, list)) and len(data) == 2
    if ok:
        x, y = data
        want = (config.seq_len, config.channels)
        ok = x.ndim == 3 and x.shape[1:] == want and y.shape == x.shape[:2] and len(x) > 0
    if not ok:
        raise InputError("data", f"expected (x [N, {config.seq_len}, {config.channels}], "
                                 f"y [N, {config.seq_len}]) with N > 0")


class RCGANSteps(NamedTuple):
    """The three updates under ``jax.jit`` (state donated when built with ``donate``)."""

    critic_step: Callable
    generator_step: Callable
    train_step: Callable


@functools.lru_cache(maxsize=16)
def compile_steps(config: RCGANConfig, *, donate: bool = True) -> RCGANSteps:
    """Jitted :func:`make_critic_step`, :func:`make_generator_step`, :func:`make_train_step`."""
    argnums = (0,) if donate else ()
    return RCGANSteps(*(jax.jit(f(config), donate_argnums=argnums) for f in
                        (make_critic_step, make_generator_step, make_train_step)))


def generate(gen_params, key: jax.Array, labels_bt: jax.Array, config: RCGANConfig) -> jax.Array:
    """Series ``[B, T, C]`` conditioned on per-step labels ``labels_bt [B, T]``."""
    labels_bt = jnp.asarray(labels_bt, jnp.float32)
    if labels_bt.ndim != 2 or labels_bt.shape[1] != config.seq_len:
        raise InputError("labels_bt", f"expected shape [B, {config.seq_len}], "
                                      f"got {labels_bt.shape}")
    return _generate(gen_params, key, labels_bt, config)


@functools.partial(jax.jit, static_argnames=("config",))
def _generate(gen_params, key, labels_bt, config: RCGANConfig):
    noise = jax.random.normal(key, (*labels_bt.shape, config.noise_dim), jnp.float32)
    return _models(config)[0].apply({"params": gen_params}, noise, labels_bt)
