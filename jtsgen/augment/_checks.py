"""Static (shape/dtype) checks shared by the augmenters.

Shapes and dtypes are static under ``jax.jit`` and ``jax.vmap``, so these checks
run at trace time and raise :class:`~jtsgen.errors.InputError` before any JAX
code is staged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jtsgen.errors import InputError


def check_series(x_tc: jax.Array, y_t: jax.Array, x_name: str = "x_tc", y_name: str = "y_t"):
    """Validates one series ``[time, channels]`` (floating) and its labels ``[time]``."""
    x_tc = jnp.asarray(x_tc)
    y_t = jnp.asarray(y_t)
    if x_tc.ndim != 2:
        raise InputError(x_name, f"must be [time, channels], got shape {x_tc.shape}")
    if not jnp.issubdtype(x_tc.dtype, jnp.floating):
        raise InputError(x_name, f"must have a floating dtype, got {x_tc.dtype}")
    if x_tc.shape[0] < 1:
        raise InputError(x_name, "has no timesteps")
    if y_t.shape != x_tc.shape[:1]:
        raise InputError(y_name, f"must be [time] = {x_tc.shape[:1]}, got shape {y_t.shape}")
    return x_tc, y_t


def check_pair(x_tc, y_t, x2_tc, y2_t):
    """Validates two series that are mixed together: same shapes and dtypes."""
    x_tc, y_t = check_series(x_tc, y_t)
    x2_tc, y2_t = check_series(x2_tc, y2_t, "x2_tc", "y2_t")
    if x2_tc.shape != x_tc.shape:
        raise InputError("x2_tc", f"has shape {x2_tc.shape} but x_tc has shape {x_tc.shape}")
    x2_tc = x2_tc.astype(x_tc.dtype)
    y2_t = y2_t.astype(y_t.dtype)
    return x_tc, y_t, x2_tc, y2_t


def check_positive(name: str, value) -> None:
    """Rejects a concrete parameter that is not > 0 (traced values are not checked)."""
    if not isinstance(value, jax.core.Tracer) and not value > 0:
        raise InputError(name, f"must be > 0, got {value}")


def check_nonnegative(name: str, value) -> None:
    """Rejects a concrete parameter that is not >= 0 (traced values are not checked)."""
    if not isinstance(value, jax.core.Tracer) and not value >= 0:
        raise InputError(name, f"must be >= 0, got {value}")
