"""Synthetic Sines with inserted anomalies (C-GATS paper, section 6.2).

Each clean series is ``x(t) = sin(2π η t + θ)`` for integer ``t`` in ``[0, T)``,
with ``η ~ U[freq_range]`` (paper: ``U[0, 1]``) and ``θ ~ U[-π, π]``. With
probability ``anomaly_prob`` an anomaly is inserted: a kind (point or level
shift), a position ``p ~ U{0..T-1}``, a length ``l`` and a direction
``d ∈ {+1, -1}``; then ``x[p:p+l] += d * magnitude``. Labels are 1 exactly on
the changed steps (``[p, min(p+l, T))``).

* point anomaly (paper's ``l ~ range(10)``): ``l ~ U{1..10}``, i.e. shifted by
  one so that an anomaly has at least one point, and a spike magnitude;
* level shift: a longer segment, ``l ~ U{20..60}`` by default, and its own
  magnitude range.

With ``kinds=("point",)``, 64000 series give about 171k anomalous points, in line
with the paper's Table 4. With ``η ~ U[0, 1]`` and integer ``t``, frequencies
above the Nyquist rate 0.5 alias (the paper's recipe, kept as the default);
pass e.g. ``freq_range=(0.0, 0.1)`` for smooth sines.

Shapes: ``x_btc`` float32 ``[n, T, 1]``, ``y_bt`` float32 ``[n, T]`` in {0, 1}.
Everything is vectorised over series; ``make_sines(64000, seed)`` takes well
under a second.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jtsgen.data.validate import require_positive_int
from jtsgen.errors import InputError

KINDS = ("point", "level_shift")
NO_ANOMALY = -1  # kind code of a series without an anomaly


class SinesMeta(NamedTuple):
    """Per-series generation parameters, each an array of shape ``[n]``.

    ``kind`` indexes :data:`KINDS` (``-1``: no anomaly). For series without an
    anomaly ``position``, ``length``, ``direction`` and ``magnitude`` are 0.
    ``length`` is the sampled length; the labelled span is clipped at ``T``.
    """

    freq: np.ndarray  # float64, η
    phase: np.ndarray  # float64, θ
    kind: np.ndarray  # int8
    position: np.ndarray  # int32
    length: np.ndarray  # int32
    direction: np.ndarray  # int8 in {-1, 0, +1}
    magnitude: np.ndarray  # float64, >= 0


class SinesData(NamedTuple):
    """Synthetic Sines: ``x_btc`` float32 ``[n, T, 1]``, ``y_bt`` float32 ``[n, T]``."""

    x_btc: np.ndarray
    y_bt: np.ndarray
    meta: SinesMeta


def _range(value: float | tuple[float, float], name: str) -> tuple[float, float]:
    low, high = (value, value) if np.isscalar(value) else tuple(value)
    if not 0.0 < low <= high:
        raise InputError(name, f"must be a positive number or a range 0 < low <= high, got {value}")
    return float(low), float(high)


def _int_range(value: tuple[int, int], name: str) -> tuple[int, int]:
    low, high = value
    if not (isinstance(low, (int, np.integer)) and isinstance(high, (int, np.integer))):
        raise InputError(name, f"must be a pair of integers, got {value}")
    if not 1 <= low <= high:
        raise InputError(name, f"must satisfy 1 <= low <= high, got {value}")
    return int(low), int(high)


def clean_sines(freq_b: np.ndarray, phase_b: np.ndarray, length: int) -> np.ndarray:
    """The anomaly-free sines, float64 ``[n, length]``: ``sin(2π η t + θ)``."""
    t = np.arange(length, dtype=np.float64)
    return np.sin(2.0 * np.pi * freq_b[:, None] * t[None, :] + phase_b[:, None])


def anomaly_mask(meta: SinesMeta, length: int) -> np.ndarray:
    """Boolean ``[n, length]``: the steps an anomaly changed (the expected labels)."""
    t = np.arange(length)[None, :]
    start = meta.position[:, None]
    has = (meta.kind != NO_ANOMALY)[:, None]
    return has & (t >= start) & (t < start + meta.length[:, None])


def make_sines(
    n: int,
    seed: int,
    *,
    length: int = 240,
    anomaly_prob: float = 0.5,
    kinds: tuple[str, ...] = KINDS,
    kind_probs: tuple[float, ...] | None = None,
    freq_range: tuple[float, float] = (0.0, 1.0),
    point_length: tuple[int, int] = (1, 10),
    level_length: tuple[int, int] = (20, 60),
    point_magnitude: float | tuple[float, float] = (1.0, 2.0),
    level_magnitude: float | tuple[float, float] = (0.5, 1.5),
) -> SinesData:
    """Generates ``n`` Synthetic Sines series with labelled anomalies.

    Args:
      n: number of series.
      seed: seed of ``numpy.random.default_rng``; same seed, same arrays.
      length: time steps per series (paper: 240).
      anomaly_prob: probability that a series gets an anomaly (paper: 0.5).
      kinds: anomaly kinds to draw from, a subset of :data:`KINDS`.
      kind_probs: probabilities of ``kinds`` (default: uniform).
      freq_range: ``(low, high)`` of the uniform frequency η (paper: (0, 1)).
      point_length / level_length: inclusive integer length ranges per kind.
      point_magnitude / level_magnitude: a fixed magnitude or a uniform range.

    Returns:
      :class:`SinesData` with ``x_btc`` ``[n, length, 1]``, ``y_bt`` ``[n, length]``.
    """
    n = require_positive_int(n, "n")
    length = require_positive_int(length, "length")
    if not 0.0 <= anomaly_prob <= 1.0:
        raise InputError("anomaly_prob", f"must lie in [0, 1], got {anomaly_prob}")
    if not kinds or any(k not in KINDS for k in kinds) or len(set(kinds)) != len(kinds):
        raise InputError("kinds", f"must be distinct names from {KINDS}, got {kinds}")
    if kind_probs is None:
        kind_probs = tuple(1.0 / len(kinds) for _ in kinds)
    probs = np.asarray(kind_probs, dtype=np.float64)
    if probs.shape != (len(kinds),) or (probs < 0).any() or not np.isclose(probs.sum(), 1.0):
        raise InputError("kind_probs", f"must be {len(kinds)} non-negative numbers summing to 1")
    f_low, f_high = freq_range
    if not 0.0 <= f_low <= f_high:
        raise InputError("freq_range", f"must satisfy 0 <= low <= high, got {freq_range}")
    lengths = {"point": _int_range(point_length, "point_length"),
               "level_shift": _int_range(level_length, "level_length")}
    mags = {"point": _range(point_magnitude, "point_magnitude"),
            "level_shift": _range(level_magnitude, "level_magnitude")}

    rng = np.random.default_rng(seed)
    freq = rng.uniform(f_low, f_high, size=n)
    phase = rng.uniform(-np.pi, np.pi, size=n)
    has = rng.random(n) < anomaly_prob
    kind_idx = rng.choice(len(kinds), size=n, p=probs)
    position = rng.integers(0, length, size=n)
    unit = rng.random(n)  # shared uniforms, mapped into each kind's ranges below
    direction = rng.choice(np.array([-1, 1]), size=n)
    mag_unit = rng.random(n)

    kind_code = np.array([KINDS.index(k) for k in kinds])[kind_idx]
    len_lo = np.choose(kind_code, [lengths[k][0] for k in KINDS])
    len_hi = np.choose(kind_code, [lengths[k][1] for k in KINDS])
    seg_len = len_lo + np.floor(unit * (len_hi - len_lo + 1)).astype(np.int64)
    mag_lo = np.choose(kind_code, [mags[k][0] for k in KINDS])
    mag_hi = np.choose(kind_code, [mags[k][1] for k in KINDS])
    magnitude = mag_lo + mag_unit * (mag_hi - mag_lo)

    meta = SinesMeta(
        freq=freq,
        phase=phase,
        kind=np.where(has, kind_code, NO_ANOMALY).astype(np.int8),
        position=np.where(has, position, 0).astype(np.int32),
        length=np.where(has, seg_len, 0).astype(np.int32),
        direction=np.where(has, direction, 0).astype(np.int8),
        magnitude=np.where(has, magnitude, 0.0),
    )
    mask_bt = anomaly_mask(meta, length)
    x_bt = clean_sines(freq, phase, length)
    np.add(x_bt, (meta.direction * meta.magnitude)[:, None], out=x_bt, where=mask_bt)
    return SinesData(
        x_btc=x_bt.astype(np.float32)[:, :, None],
        y_bt=mask_bt.astype(np.float32),
        meta=meta,
    )
