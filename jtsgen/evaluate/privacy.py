"""Does a generator leak its training records? Distances to a real hold-out set.

A generator is trained on ``train [N, T(, C)]``; ``holdout [H, T(, C)]`` are real
records from the same source it never saw; ``synth [M, T(, C)]`` are its samples.
Records are compared as flat vectors (Euclidean distance over all ``T * C`` values):

* **DCR** (distance to closest record): for every synthetic record its distance to
  the nearest training record and to the nearest hold-out record. A generator that
  learned the distribution, not the records, is as close to the hold-out as to the
  training set: ``dcr_ratio = median DCR(train) / median DCR(holdout)`` near 1
  (below 1: synthetic records sit nearer the training data), and
  ``share_closer_to_train`` near 0.5 (the training set is first subsampled to the
  hold-out's size, so both reference sets have equally many records); a copied
  training record has DCR 0.
* **NNDR** (nearest-neighbour distance ratio): nearest / second-nearest training
  distance of each synthetic record, in [0, 1]; values near 0 mean a synthetic
  record sits on one training record rather than between several. Reported as the
  median over synthetic records, with the same number against the hold-out for
  reference.
* **Membership inference AUC**: an attacker who sees only the synthetic set scores
  each candidate record by minus its distance to the closest synthetic record;
  ROC AUC of that score for members (training records) against non-members
  (hold-out records). 0.5 = no better than guessing (best), 1 = every member found.
"""

from __future__ import annotations

import numpy as np


def flat(x) -> np.ndarray:
    """``[N, T]`` or ``[N, T, C]`` -> ``[N, T * C]`` float64."""
    x = np.asarray(x, np.float64)
    return x.reshape(x.shape[0], -1)


def pairwise_distances(a, b) -> np.ndarray:
    """Euclidean distances ``[len(a), len(b)]`` between flattened records."""
    a, b = flat(a), flat(b)
    sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(sq, 0.0))


def closest_distances(a, b, k: int = 1, *, exclude_self: bool = False) -> np.ndarray:
    """Distances from each record of ``a`` to its ``k`` nearest records of ``b``,
    ascending: ``[len(a), k]``. ``exclude_self`` (``a is b``) skips the diagonal."""
    d = pairwise_distances(a, b)
    if exclude_self:
        np.fill_diagonal(d, np.inf)
    return np.sort(np.partition(d, k - 1, axis=1)[:, :k], axis=1)


def nndr(synth, reference) -> np.ndarray:
    """Nearest / second-nearest distance to ``reference`` of every synthetic record ``[M]``."""
    d = closest_distances(synth, reference, 2)
    return d[:, 0] / np.maximum(d[:, 1], 1e-12)


def membership_auc(train, holdout, synth) -> float:
    """ROC AUC of the distance attack: members = ``train``, non-members = ``holdout``,
    score = -(distance to the closest synthetic record)."""
    from sklearn.metrics import roc_auc_score

    score = -np.concatenate([closest_distances(train, synth)[:, 0],
                             closest_distances(holdout, synth)[:, 0]])
    member = np.concatenate([np.ones(len(train)), np.zeros(len(holdout))])
    return float(roc_auc_score(member, score))


def privacy_report(train, holdout, synth, *, seed: int = 0) -> dict[str, float]:
    """DCR to train and to hold-out, their ratio, the share of synthetic records closer
    to train, NNDR (vs train and vs hold-out) and the membership-inference AUC."""
    train, holdout, synth = flat(train), flat(holdout), flat(synth)
    d_train = closest_distances(synth, train)[:, 0]
    d_holdout = closest_distances(synth, holdout)[:, 0]
    rng = np.random.default_rng(seed)
    same_size = train[rng.permutation(len(train))[: len(holdout)]]
    d_same = closest_distances(synth, same_size)[:, 0]
    return {
        "dcr_train_median": float(np.median(d_train)),
        "dcr_holdout_median": float(np.median(d_holdout)),
        "dcr_train_min": float(d_train.min()),
        "dcr_ratio": float(np.median(d_train) / max(np.median(d_holdout), 1e-12)),
        "share_closer_to_train": float(np.mean(d_same < d_holdout)),
        "nndr_train_median": float(np.median(nndr(synth, train))),
        "nndr_holdout_median": float(np.median(nndr(synth, holdout))),
        "membership_auc": membership_auc(train, holdout, synth),
    }
