"""Seed 000 Exercise 1 (issue 23): padded steps never change a loss or a metric."""

from __future__ import annotations

import dataclasses
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments import lab_variable_length as lab
from jtsgen.errors import InputError
from jtsgen.evaluate import fidelity as F
from jtsgen.models import lstm_vae

CFG = lstm_vae.LSTMVAEConfig(seq_len=12, hidden=8, length_conditioned=True)
LENGTHS = np.array([5, 12, 8, 3])


def _padded(x_real_bt, lengths, pad_len, fill, seed=0):
    """Left-aligned series ``[B, pad_len, 1]`` with real steps from ``x_real_bt`` and the
    padding filled with zeros (``fill="zeros"``) or large random numbers."""
    b = len(lengths)
    m = (np.arange(pad_len)[None, :] < lengths[:, None]).astype(np.float32)
    pad = (np.zeros((b, pad_len)) if fill == "zeros"
           else np.random.default_rng(seed).normal(0.0, 1e4, (b, pad_len)))
    x = np.where(m > 0, np.pad(x_real_bt, ((0, 0), (0, pad_len - x_real_bt.shape[1]))), pad)
    return x[..., None].astype(np.float32), m


@pytest.fixture(scope="module")
def vae():
    params = lstm_vae.init_params(jax.random.key(0), CFG)
    real = np.random.default_rng(1).normal(size=(len(LENGTHS), CFG.seq_len))
    return params, real


def _loss_and_grad(params, x, m, config):
    loss_fn = lstm_vae.make_loss_fn(config)
    (loss, _), grads = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(
        params, (jnp.asarray(x), jnp.asarray(m)), jax.random.key(3))
    return float(loss), grads


def test_padded_steps_never_change_the_loss_or_its_gradients(vae):
    params, real = vae
    long_cfg = dataclasses.replace(CFG, seq_len=20)
    runs = [_loss_and_grad(params, *_padded(real, LENGTHS, t, fill, seed), cfg)
            for t, cfg in ((12, CFG), (20, long_cfg))
            for fill, seed in (("zeros", 0), ("random", 1), ("random", 2))]
    loss0, grads0 = runs[0]
    assert np.isfinite(loss0)
    for loss, grads in runs[1:]:
        np.testing.assert_allclose(loss, loss0, rtol=1e-6)
        for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(grads0), strict=True):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)
    # the mask matters: changing a real step (not a padded one) changes the loss
    x, m = _padded(real, LENGTHS, 12, "zeros")
    x[0, 0, 0] += 1.0
    assert abs(_loss_and_grad(params, x, m, CFG)[0] - loss0) > 1e-4


def test_a_fully_real_mask_reproduces_the_unmasked_loss(vae):
    params, real = vae
    x = jnp.asarray(real[..., None], jnp.float32)
    loss_fn, key = lstm_vae.make_loss_fn(CFG), jax.random.key(3)
    plain, _ = loss_fn(params, x, key)
    masked, _ = loss_fn(params, (x, jnp.ones(real.shape)), key)
    np.testing.assert_allclose(float(masked), float(plain), rtol=1e-6)
    # and a real mask does change it (the test can fail)
    partial, _ = loss_fn(params, (x, jnp.asarray(_padded(real, LENGTHS, 12, "zeros")[1])), key)
    assert abs(float(partial) - float(plain)) > 1e-4


def test_generate_masked_returns_the_pool_lengths_with_zero_padding(vae):
    params, _ = vae
    x, m = lstm_vae.generate_masked(params, jax.random.key(4), 64, CFG, jnp.array([3, 12]))
    lengths = np.asarray(m).sum(1)
    assert set(lengths.tolist()) == {3, 12}
    assert np.all(np.asarray(x)[np.asarray(m) == 0] == 0.0)


MASKED_METRICS = {
    "acf_distance": lambda r, f, **k: F.acf_distance(r, f, 4, **k),
    "trend_distance": F.trend_distance,
    "std_ratio": F.std_ratio,
    "mmd2": F.mmd2,
}


@pytest.fixture(scope="module")
def metric_sets():
    rng = np.random.default_rng(5)
    t = np.arange(16)
    real = np.sin(t / 2.0)[None] + 0.3 * rng.normal(size=(24, 16))
    fake = np.cos(t / 3.0)[None] + 0.5 * rng.normal(size=(20, 16))
    return real, rng.integers(6, 17, 24), fake, rng.integers(6, 17, 20)


@pytest.mark.parametrize("name", list(MASKED_METRICS))
def test_padded_steps_never_change_a_metric(name, metric_sets):
    metric = MASKED_METRICS[name]
    real, len_r, fake, len_f = metric_sets
    values = []
    for pad_len in (16, 25):
        for fill, seed in (("zeros", 0), ("random", 7)):
            xr, mr = _padded(real, len_r, pad_len, fill, seed)
            xf, mf = _padded(fake, len_f, pad_len, fill, seed + 1)
            values.append(metric(xr, xf, real_mask=mr, fake_mask=mf))
    assert np.isfinite(values[0])
    np.testing.assert_allclose(values, values[0], rtol=1e-9, atol=1e-12)
    # the unmasked metric of the same padded arrays does see the padding
    xr, mr = _padded(real, len_r, 25, "random", 7)
    xf, mf = _padded(fake, len_f, 25, "random", 8)
    assert abs(metric(xr, xf) - values[0]) > 1e-3


@pytest.mark.parametrize("name", list(MASKED_METRICS))
def test_a_fully_real_mask_reproduces_the_unmasked_metric(name, metric_sets):
    metric = MASKED_METRICS[name]
    real, _, fake, _ = metric_sets
    ones_r, ones_f = np.ones(real.shape), np.ones(fake.shape)
    np.testing.assert_allclose(metric(real, fake, real_mask=ones_r, fake_mask=ones_f),
                               metric(real, fake), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", list(MASKED_METRICS))
def test_one_length_group_equals_the_metric_of_the_truncated_series(name, metric_sets):
    metric = MASKED_METRICS[name]
    real, _, fake, _ = metric_sets
    # (the padded arrays are float32: agreement to float32 rounding)
    xr, mr = _padded(real[:, :10], np.full(len(real), 10), 16, "random", 1)
    xf, mf = _padded(fake[:, :10], np.full(len(fake), 10), 16, "random", 2)
    np.testing.assert_allclose(metric(xr, xf, real_mask=mr, fake_mask=mf),
                               metric(real[:, :10], fake[:, :10]), rtol=1e-6, atol=1e-9)


def test_bad_masks_raise_input_error(metric_sets):
    real, _, fake, _ = metric_sets
    with pytest.raises(InputError, match="real_mask"):
        F.std_ratio(real, fake, real_mask=np.ones((3, 16)))
    with pytest.raises(InputError, match="fake_mask"):
        F.mmd2(real, fake, fake_mask=np.full(fake.shape, 0.5))


def test_smoke_run_writes_its_files(tmp_path):
    results = lab.run(lab.get_config("smoke"), tmp_path / "run")
    for name in ("config.json", "results.json", "table.md"):
        assert (tmp_path / "run" / name).stat().st_size > 0
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert set(saved["rows"]) == set(lab.SOURCES)
    assert set(saved["rows"]["lstm_vae"]) == {"all", "8", "12", "16"}
    # every real series is z-normalised over its real steps: the train reference's std is 1
    assert saved["rows"]["train"]["all"]["std_ratio"] == pytest.approx(1.0, abs=0.1)
    assert sum(results["length_shares"]["generated"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("override, flag", [
    ({"lengths": (50, 200)}, "--config.lengths"),
    ({"lengths": ()}, "--config.lengths"),
    ({"pad_len": 10}, "--config.lengths"),
    ({"batch_size": 1000}, "--config.batch_size"),
])
def test_bad_config_raises_before_the_workdir_exists(tmp_path, override, flag):
    config = dataclasses.replace(lab.get_config("smoke"), **override)
    with pytest.raises(InputError, match=flag):
        lab.run(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bad_config_on_the_command_line_exits_with_the_flag(tmp_path, capsys):
    with pytest.raises(SystemExit):
        lab.main("lab_variable_length", lab.get_config, lab.run,
                 ["--profile", "smoke", "--workdir", str(tmp_path / "run"),
                  "--config.lengths=(8,40)"])
    assert "--config.lengths" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
