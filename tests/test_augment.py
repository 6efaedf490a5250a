"""Specification of the label-aware augmenters in jtsgen.augment.

Property tests build series as a smooth base in [-1, 1] plus spikes of +10
exactly where the label is 1, so anomalous values are recognisable after the
augmentation. The augmenters are jitted (parameters static); the batch tests
check that new data never causes a retrace.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from jtsgen.augment import (
    AUGMENTERS,
    augment_batch,
    combination,
    cutmix,
    get_augmenter,
    jitter,
    mixup,
    permutation,
    random_partners,
    sample_mix_ratio,
    scaling,
    time_warp,
    warp_positions,
)
from jtsgen.errors import InputError

T, C, SPIKE, EXAMPLES = 64, 3, 10.0, 25
SINGLE = ["scaling", "jitter", "permutation", "time_warp", "combination"]
PAIRWISE = ["mixup", "cutmix"]


def _series(seed):
    """Smooth base [T, C] in [-1, 1], labels [T] with runs separated by >= 3 normal points."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)[:, None]
    base = 0.9 * np.sin(2 * np.pi * rng.uniform(0.01, 0.1, C) * t + rng.uniform(-3, 3, C))
    y = np.zeros(T, np.float32)
    pos = 1
    while True:
        pos += int(rng.integers(3, 15))
        length = int(rng.integers(1, 4))
        if pos + length >= T:
            break
        y[pos : pos + length] = 1.0
        pos += length
    x = base + SPIKE * y[:, None]
    return jnp.asarray(x, jnp.float32), jnp.asarray(y), jnp.asarray(base, jnp.float32)


def _jit_once(fn):
    """``jax.jit(fn)`` that fails if it is traced more than once (i.e. recompiled)."""
    traces = []

    def traced_once(*args):
        traces.append(1)
        assert len(traces) == 1, f"retraced: {fn!r}"
        return fn(*args)

    return jax.jit(traced_once)


def _runs(y):
    """Number of maximal runs of ones in a 0/1 vector."""
    y = np.asarray(y) > 0
    return int(np.sum(y & ~np.concatenate([[False], y[:-1]])))


# --- labels unchanged by value-only augmenters ---------------------------------------------


def test_scaling_multiplies_each_channel_and_keeps_labels():
    aug = functools.partial(scaling, sigma=0.2)
    for i in range(EXAMPLES):
        x, y, _ = _series(i)
        x2, y2 = aug(jax.random.key(i), x, y)
        np.testing.assert_array_equal(y2, y)
        factor_c = np.asarray(x2 / x)
        np.testing.assert_allclose(factor_c, factor_c[:1].repeat(T, 0), rtol=1e-5)
        assert ((np.abs(x2) > 5 * np.abs(factor_c)) == (np.asarray(y)[:, None] > 0)).all()


def test_jitter_adds_small_noise_and_keeps_labels():
    aug = functools.partial(jitter, sigma=0.05)
    noise = []
    for i in range(EXAMPLES):
        x, y, _ = _series(i)
        x2, y2 = aug(jax.random.key(i), x, y)
        np.testing.assert_array_equal(y2, y)
        noise.append(np.asarray(x2 - x))
    assert abs(np.std(noise) - 0.05) < 0.005


# --- augmenters that move values in time ---------------------------------------------------


@pytest.mark.parametrize("random_cuts", [True, False])
def test_permutation_moves_labels_with_their_values(random_cuts):
    aug = functools.partial(permutation, num_segments=5, random_cuts=random_cuts)
    for i in range(EXAMPLES):
        x, y, _ = _series(i)
        x2, y2 = aug(jax.random.key(i), x, y)
        assert ((np.abs(x2[:, 0]) > 5) == (np.asarray(y2) > 0)).all()
        # Every output row is an input row (with its label): recover the source index.
        src = np.argmin(np.abs(np.asarray(x2[:, :1]) - np.asarray(x[:, 0])[None, :]), axis=1)
        np.testing.assert_array_equal(x2, np.asarray(x)[src])
        np.testing.assert_array_equal(y2, np.asarray(y)[src])
        assert sorted(src) == list(range(T))
        # ... in at most 5 contiguous pieces.
        assert np.sum(np.diff(src) != 1) <= 4
        if not random_cuts:
            assert {s for s, d in zip(src[1:], np.diff(src), strict=True) if d != 1} <= {
                0, 12, 25, 38, 51}


def test_time_warp_positions_are_monotone_and_bounded():
    for i in range(EXAMPLES):
        tau = np.asarray(warp_positions(jax.random.key(i), T, sigma=0.5, max_ratio=1.9))
        assert tau[0] == 0 and abs(tau[-1] - (T - 1)) < 1e-4
        steps = np.diff(tau)
        assert (steps > 0).all() and (steps < 1.9 + 2e-3).all()
        frac = np.abs(tau - np.round(tau))
        assert ((frac == 0) | (frac >= 1e-3)).all()


def test_time_warp_neither_loses_nor_invents_anomalies():
    aug = functools.partial(time_warp, sigma=0.5)
    warped_any = False
    for i in range(EXAMPLES):
        x, y, base = _series(i)
        key = jax.random.key(i)
        x2, y2 = aug(key, x, y)
        base2, _ = aug(key, base, y)  # the same warp applied to the base alone
        spike_part = np.asarray(x2 - base2)[:, 0]
        labelled = np.asarray(y2) > 0
        assert (spike_part[labelled] > 1e-3).all(), "a label without anomalous signal"
        assert (np.abs(spike_part[~labelled]) < 1e-5).all(), "anomalous signal without label"
        assert (np.abs(np.asarray(x2)[~labelled]) <= 1.0).all()
        assert _runs(y2) == _runs(y), "an anomalous run was lost or split"
        warped_any |= not np.allclose(base2, base, atol=1e-3)
    assert warped_any


def test_time_warp_with_zero_sigma_is_identity():
    x, y, _ = _series(0)
    x2, y2 = time_warp(jax.random.key(0), x, y, sigma=0.0)
    np.testing.assert_allclose(x2, x, atol=1e-5)
    np.testing.assert_array_equal(y2, y)


# --- mixing two series ---------------------------------------------------------------------


def test_cutmix_pastes_a_contiguous_segment_with_its_labels():
    aug = cutmix
    for i in range(EXAMPLES):
        x, y, _ = _series(i)
        x_b, y_b, _ = _series(1000 + i)
        x2, y2 = aug(jax.random.key(i), x, y, x_b, y_b)
        assert ((np.abs(x2[:, 0]) > 5) == (np.asarray(y2) > 0)).all()
        from_b = np.all(np.asarray(x2) == np.asarray(x_b), axis=1) & np.any(x != x_b, axis=1)
        from_a = np.all(np.asarray(x2) == np.asarray(x), axis=1)
        assert (from_a | from_b).all()
        np.testing.assert_array_equal(y2, np.where(from_b, y_b, y))
        idx = np.flatnonzero(from_b)
        if idx.size:
            assert idx[-1] - idx[0] + 1 == idx.size  # one contiguous segment


def test_mixup_mixes_values_and_soft_labels_with_the_same_lambda():
    aug = mixup  # alpha = 0.2 by default
    aug_hard = functools.partial(mixup, hard=True)
    for i in range(EXAMPLES):
        x, y, _ = _series(i)
        x_b, y_b, _ = _series(1000 + i)
        key = jax.random.key(i)
        x2, y2 = aug(key, x, y, x_b, y_b)
        d = np.asarray(x - x_b, np.float64)
        lam = float(np.sum(np.asarray(x2 - x_b) * d) / np.sum(d * d))  # least squares
        assert -1e-6 <= lam <= 1 + 1e-6
        np.testing.assert_allclose(x2, lam * x + (1 - lam) * x_b, atol=1e-4)
        np.testing.assert_allclose(y2, lam * y + (1 - lam) * y_b, atol=1e-5)
        _, y_hard = aug_hard(key, x, y.astype(jnp.int32), x_b, y_b.astype(jnp.int32))
        assert y_hard.dtype == jnp.int32  # hard labels keep integer dtypes
        np.testing.assert_array_equal(y_hard, (np.asarray(y2) >= 0.5).astype(np.int32))


def test_mixup_lambda_follows_beta_alpha():
    keys = jax.random.split(jax.random.key(0), 1000)
    one = jnp.ones((T, C), jnp.float32)
    y = jnp.zeros(T, jnp.float32)
    lam = jax.vmap(lambda k: mixup(k, one, y, 0 * one, y)[0][0, 0])(keys)  # x=1, x2=0
    assert stats.kstest(np.asarray(lam), stats.beta(0.2, 0.2).cdf).pvalue > 1e-3
    lam_uniform = jax.vmap(lambda k: sample_mix_ratio(k, 1.0))(keys)
    assert stats.kstest(np.asarray(lam_uniform), stats.uniform().cdf).pvalue > 1e-3
    assert stats.kstest(np.asarray(lam), stats.uniform().cdf).pvalue < 1e-6


def test_combination_applies_one_classic_augmenter_per_series():
    chosen = set()
    for i in range(EXAMPLES + 15):
        x, y, _ = _series(i)
        key = jax.random.key(i)
        x2, y2 = combination(key, x, y)
        sub_key = jax.random.split(key)[1]
        candidates = {name: AUGMENTERS[name](sub_key, x, y) for name in SINGLE[:4]}
        matches = [name for name, (xc, yc) in candidates.items()
                   if np.allclose(xc, x2, atol=1e-5) and np.array_equal(yc, y2)]
        assert len(matches) == 1
        chosen.add(matches[0])
    assert chosen == {"scaling", "jitter", "permutation", "time_warp"}


# --- generic contract: shapes, dtypes, determinism, vmap, jit ------------------------------


def _apply(name, key, x, y, x_b=None, y_b=None):
    fn = AUGMENTERS[name]
    return fn(key, x, y, x_b, y_b) if name in PAIRWISE else fn(key, x, y)


@pytest.mark.parametrize("name", SINGLE + PAIRWISE)
def test_shapes_dtypes_and_determinism(name):
    x, y, _ = _series(3)
    x_b, y_b, _ = _series(4)
    a = _apply(name, jax.random.key(5), x, y, x_b, y_b)
    b = _apply(name, jax.random.key(5), x, y, x_b, y_b)
    assert a[0].shape == (T, C) and a[0].dtype == jnp.float32
    assert a[1].shape == (T,) and a[1].dtype == jnp.float32
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    others = [_apply(name, jax.random.key(k), x, y, x_b, y_b)[0] for k in range(6, 9)]
    assert any(not np.array_equal(a[0], o) for o in others)


@pytest.mark.parametrize("name", ["time_warp", "cutmix"])
def test_integer_labels_keep_their_dtype(name):
    x, y, _ = _series(3)
    y_int = y.astype(jnp.int32)
    _, y2 = _apply(name, jax.random.key(0), x, y_int, x, y_int)
    assert y2.dtype == jnp.int32


@pytest.mark.parametrize("name", SINGLE)
def test_augment_batch_equals_per_series_with_split_keys_and_compiles_once(name):
    batch_aug = _jit_once(functools.partial(augment_batch, AUGMENTERS[name]))
    for rep in range(3):
        xs, ys, _ = zip(*[_series(4 * rep + i) for i in range(4)], strict=True)
        x_btc, y_bt = jnp.stack(xs), jnp.stack(ys)
        key = jax.random.key(rep)
        x2, y2 = batch_aug(key, x_btc, y_bt)
        keys = jax.random.split(key, 5)[1:]
        for b in range(4):
            xb, yb = AUGMENTERS[name](keys[b], x_btc[b], y_bt[b])
            np.testing.assert_allclose(x2[b], xb, atol=1e-5)
            np.testing.assert_array_equal(y2[b], yb)


@pytest.mark.parametrize("name", PAIRWISE)
def test_augment_batch_pairs_each_series_with_another(name):
    xs, ys, _ = zip(*[_series(i) for i in range(5)], strict=True)
    x_btc, y_bt = np.stack(xs), np.stack(ys)
    batch_aug = _jit_once(functools.partial(augment_batch, AUGMENTERS[name]))
    for i in range(5):
        x2, y2 = map(np.asarray, batch_aug(jax.random.key(i), x_btc, y_bt))
        assert x2.shape == x_btc.shape and y2.shape == y_bt.shape
        for b in range(5):
            # x2[b] = lam * x[b] + (1 - lam) * x[j] (cutmix: per timestep) for some j != b.
            partner_ok = []
            for j in set(range(5)) - {b}:
                d = x_btc[b] - x_btc[j]
                lam = np.sum((x2[b] - x_btc[j]) * d, axis=1) / np.sum(d * d, axis=1)
                if name == "mixup":
                    lam = np.full(T, np.mean(lam))
                fit = lam[:, None] * x_btc[b] + (1 - lam[:, None]) * x_btc[j]
                if np.allclose(fit, x2[b], atol=1e-4):
                    np.testing.assert_allclose(y2[b], lam * y_bt[b] + (1 - lam) * y_bt[j],
                                               atol=1e-4)
                    partner_ok.append(j)
            assert partner_ok, f"series {b} is not mixed with any other series"


def test_random_partners_are_uniform_over_the_other_series():
    partners_kb = np.stack([random_partners(jax.random.key(k), 5) for k in range(400)])
    counts = np.stack([np.bincount(partners_kb[:, b], minlength=5) for b in range(5)])
    assert (np.diag(counts) == 0).all()  # never paired with itself
    off_diagonal = counts[~np.eye(5, dtype=bool)]
    assert (off_diagonal > 60).all() and (off_diagonal < 140).all()  # about 100 each
    np.testing.assert_array_equal(random_partners(jax.random.key(0), 1), [0])


# --- bad input -----------------------------------------------------------------------------


def test_bad_input_raises_input_error():
    x, y, _ = _series(0)
    key = jax.random.key(0)
    with pytest.raises(InputError, match="x_tc"):
        jitter(key, x[:, 0], y)
    with pytest.raises(InputError, match="y_t"):
        scaling(key, x, y[:-1])
    with pytest.raises(InputError, match="floating"):
        jitter(key, x.astype(jnp.int32), y)
    with pytest.raises(InputError, match="x2_tc"):
        cutmix(key, x, y, x[:-1], y[:-1])
    with pytest.raises(InputError, match="soft"):
        mixup(key, x, y.astype(jnp.int32), x, y.astype(jnp.int32))
    with pytest.raises(InputError, match="max_ratio"):
        time_warp(key, x, y, max_ratio=2.5)
    with pytest.raises(InputError, match="num_segments"):
        permutation(key, x, y, num_segments=T + 1)
    with pytest.raises(InputError, match="sigma"):
        jitter(key, x, y, sigma=-1.0)
    with pytest.raises(InputError, match="y_bt"):
        augment_batch(jitter, key, x[None], y[None, :-1])
    with pytest.raises(InputError, match="unknown"):
        get_augmenter("rotate")
    assert get_augmenter("mixup") is mixup
