"""Train/test splits (the paper's 80:20), by series or chronological.

* by series: a seeded shuffle of the items along axis 0 (series or windows), the
  first ``train_frac`` of the permutation is train;
* chronological: the first ``train_frac`` of axis 0 (time steps of one series,
  or windows in time order) is train, the rest test; ``gap`` items between the
  two are dropped so that overlapping windows cannot leak across the boundary
  (for windows of ``length`` with ``stride``, use ``gap = ceil(length/stride) - 1``).

Splits return index arrays (usable on any list) or, via ``split_arrays``, the
indexed arrays themselves.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from jtsgen.data.labelled import Labelled
from jtsgen.data.scalers import fit_standard_scaler
from jtsgen.data.validate import require_choice, require_fraction, require_positive_int
from jtsgen.errors import InputError

SPLIT_MODES = ("series", "time")


class SplitIndices(NamedTuple):
    """int64 index arrays into axis 0: ``train`` and ``test`` (disjoint)."""

    train: np.ndarray
    test: np.ndarray


class Split(NamedTuple):
    """``x_train``, ``y_train``, ``x_test``, ``y_test`` (axis 0 indexed by the split)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def train(self) -> Labelled:
        """The training part as one labelled set."""
        return Labelled(self.x_train, self.y_train)

    @property
    def test(self) -> Labelled:
        """The test part as one labelled set."""
        return Labelled(self.x_test, self.y_test)


def _n_train(n: int, train_frac: float) -> int:
    n = require_positive_int(n, "n")
    if n < 2:
        raise InputError("n", f"need at least 2 items to split, got {n}")
    train_frac = require_fraction(train_frac, "train_frac")
    return min(max(int(round(train_frac * n)), 1), n - 1)


def split_by_series(n: int, *, train_frac: float = 0.8, seed: int = 0) -> SplitIndices:
    """Shuffles ``range(n)`` with ``default_rng(seed)``; the first part is train.

    Both parts are returned sorted, and are non-empty.
    """
    n_train = _n_train(n, train_frac)
    perm = np.random.default_rng(seed).permutation(n)
    return SplitIndices(np.sort(perm[:n_train]), np.sort(perm[n_train:]))


def split_chronological(n: int, *, train_frac: float = 0.8, gap: int = 0) -> SplitIndices:
    """The first ``train_frac`` of ``range(n)`` is train; after ``gap`` dropped items, test."""
    n_train = _n_train(n, train_frac)
    if not isinstance(gap, (int, np.integer)) or gap < 0:
        raise InputError("gap", f"must be a non-negative integer, got {gap!r}")
    if n_train + gap >= n:
        raise InputError("gap", f"gap {gap} leaves no test items out of {n}")
    return SplitIndices(
        np.arange(n_train, dtype=np.int64), np.arange(n_train + gap, n, dtype=np.int64)
    )


def split_arrays(
    x: np.ndarray,
    y: np.ndarray,
    *,
    by: str = "series",
    train_frac: float = 0.8,
    seed: int = 0,
    gap: int = 0,
) -> Split:
    """Splits ``x`` and ``y`` (same length along axis 0) by series or by time."""
    require_choice(by, SPLIT_MODES, "by")
    x, y = np.asarray(x), np.asarray(y)
    if x.shape[0] != y.shape[0]:
        raise InputError("y", f"has {y.shape[0]} items along axis 0, x has {x.shape[0]}")
    if by == "series":
        idx = split_by_series(x.shape[0], train_frac=train_frac, seed=seed)
    else:
        idx = split_chronological(x.shape[0], train_frac=train_frac, gap=gap)
    return Split(x[idx.train], y[idx.train], x[idx.test], y[idx.test])


def scaled_split(x_btc: np.ndarray, y_bt: np.ndarray, *, train_frac: float = 0.8,
                 seed: int = 0) -> Split:
    """:func:`split_arrays` by series, both parts scaled by a standard scaler fitted on
    the training series only (the experiments' protocol)."""
    split = split_arrays(x_btc, y_bt, train_frac=train_frac, seed=seed)
    scaler = fit_standard_scaler(split.x_train)
    return Split(scaler.transform(split.x_train), split.y_train,
                 scaler.transform(split.x_test), split.y_test)
