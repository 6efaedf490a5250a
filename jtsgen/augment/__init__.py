"""Label-aware time series augmentations (the C-GATS paper's DA baselines).

Every augmenter works on ONE series ``x_tc`` ``[time, channels]`` with labels
``y_t`` ``[time]`` and returns ``(x'_tc, y'_t)`` of the same shapes; use
:func:`augment_batch` for ``[batch, time, channels]``. :data:`AUGMENTERS` maps
the names a config can use to the functions.
"""

from __future__ import annotations

from collections.abc import Callable

from jtsgen.augment.batch import augment_batch, random_partners
from jtsgen.augment.classic import (
    combination,
    jitter,
    permutation,
    scaling,
    time_warp,
    warp_positions,
)
from jtsgen.augment.mixing import cutmix, mixup, sample_mix_ratio
from jtsgen.errors import InputError

AUGMENTERS: dict[str, Callable] = {
    "mixup": mixup,
    "cutmix": cutmix,
    "scaling": scaling,
    "jitter": jitter,
    "permutation": permutation,
    "time_warp": time_warp,
    "combination": combination,
}


def get_augmenter(name: str) -> Callable:
    """The augmenter registered under ``name`` (see :data:`AUGMENTERS`)."""
    if name not in AUGMENTERS:
        raise InputError("augmenter", f"unknown name {name!r}; choose one of {sorted(AUGMENTERS)}")
    return AUGMENTERS[name]


__all__ = [
    "AUGMENTERS",
    "augment_batch",
    "combination",
    "cutmix",
    "get_augmenter",
    "jitter",
    "mixup",
    "permutation",
    "random_partners",
    "sample_mix_ratio",
    "scaling",
    "time_warp",
    "warp_positions",
]
