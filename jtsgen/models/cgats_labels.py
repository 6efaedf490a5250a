"""C-GATS label model p(Y^A), explicit label vectors, and the sample occlusion model.

Label model: fitted on the training anomaly labels ``y_bt``. Every contiguous run
of ones is a segment ``(start, length)``. Sampling draws a segment count from the
empirical counts of anomalous windows, then for each segment a start and a length
from the empirical starts and lengths (independently), and paints them into a
label vector. Everything is arrays, so sampling is jit-able and vmaps over keys.

Occlusion model: ``occlude(x_btc, y_bt)`` replaces the values at labelled steps by
zeros (C-GATS Eq. 3).

Shapes: labels ``[B, T]`` float32 in {0, 1}; series ``[B, T, C]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.data.labelled import segments_of
from jtsgen.data.validate import check_label_vectors
from jtsgen.errors import InputError


class LabelModel(NamedTuple):
    """Empirical anomaly statistics (a pytree of arrays)."""

    counts: jax.Array  # int32 [W]: segments per anomalous training window
    starts: jax.Array  # int32 [S]: segment starts
    lengths: jax.Array  # int32 [S]: segment lengths
    seq_len: int
    max_segments: int


def fit_label_model(y_bt: np.ndarray, source: str = "y_bt") -> LabelModel:
    """Fits p(Y^A) on training labels ``[B, T]``; needs at least one anomalous window."""
    y_bt = check_label_vectors(y_bt, source=source)
    counts, starts, lengths = [], [], []
    for y_t in y_bt:
        segs = segments_of(y_t)
        if segs:
            counts.append(len(segs))
            starts.extend(s for s, _ in segs)
            lengths.extend(n for _, n in segs)
    if not counts:
        raise InputError(source, "no anomalous time steps: the label model needs anomalies")
    return LabelModel(jnp.asarray(counts, jnp.int32), jnp.asarray(starts, jnp.int32),
                      jnp.asarray(lengths, jnp.int32), y_bt.shape[1], max(counts))


def sample_labels(model: LabelModel, key: jax.Array, n: int) -> jax.Array:
    """Draws ``n`` label vectors ``[n, T]`` from the label model."""

    def one(k):
        kc, ks, kl = jax.random.split(k, 3)
        count = jax.random.choice(kc, model.counts)
        starts = jax.random.choice(ks, model.starts, (model.max_segments,))
        lengths = jax.random.choice(kl, model.lengths, (model.max_segments,))
        t = jnp.arange(model.seq_len)
        active = jnp.arange(model.max_segments) < count
        inside = (t[None] >= starts[:, None]) & (t[None] < (starts + lengths)[:, None])
        return jnp.any(inside & active[:, None], axis=0).astype(jnp.float32)

    return jax.vmap(one)(jax.random.split(key, n))


def occlude(x_btc: jax.Array, y_bt: jax.Array) -> jax.Array:
    """Sample occlusion model: zeros where ``y_bt == 1``."""
    return x_btc * (1.0 - y_bt)[..., None]


def label_vector(
    seq_len: int,
    *,
    segments: Iterable[tuple[int, int]] = (),
    points: Iterable[int] = (),
) -> np.ndarray:
    """A user-specified label vector ``[T]``.

    ``segments`` are ``(start, end)`` pairs, end exclusive (a level shift at
    ``t = 100..140`` is ``(100, 141)``); ``points`` are single anomalous steps.
    """
    y = np.zeros(seq_len, np.float32)
    for start, end in segments:
        if not 0 <= start < end <= seq_len:
            raise InputError("segments", f"({start}, {end}) is not inside [0, {seq_len})")
        y[start:end] = 1.0
    for p in points:
        if not 0 <= p < seq_len:
            raise InputError("points", f"{p} is not inside [0, {seq_len})")
        y[p] = 1.0
    return y
