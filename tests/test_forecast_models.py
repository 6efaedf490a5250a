"""Seq2seq forecasters: the scanned decoder against a Python-loop reference, teacher
forcing, attention weights, a planted lag, and a vmapped population against K runs."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jtsgen.errors import InputError
from jtsgen.forecast.search import init_state, train_population
from jtsgen.models import forecast as fm
from jtsgen.train import fit


def _sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def _lstm_step(x, h, c, w_ih, w_hh, b):
    pre = x @ w_ih + h @ w_hh + b
    i, f, g, o = np.split(pre, 4, axis=-1)
    c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
    return _sigmoid(o) * np.tanh(c), c


def _reference(params, x_bic, cfg):
    """The forecaster written as plain Python loops over time (numpy, float64)."""
    p = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
    e = p["encoder"]
    batch = x_bic.shape[0]
    h = c = np.zeros((batch, cfg.hidden))
    states = []
    for t in range(cfg.input_len):
        h, c = _lstm_step(x_bic[:, t], h, c, e["w_ih"], e["w_hh"], e["b"])
        states.append(h)
    mem = np.stack(states, axis=1)  # [B, I, hid]
    y_prev, out, weights = x_bic[:, -1], [], []
    for _ in range(cfg.horizon):
        h, c = _lstm_step(y_prev, h, c, p["dec_w_ih"], p["dec_w_hh"], p["dec_b"])
        feat = h
        if cfg.kind == "attention":
            dk = cfg.hidden // cfg.heads
            keys = (mem + p["pos"]) @ p["w_k"]
            vals = (mem + p["pos"]) @ p["w_v"]
            q = h @ p["w_q"]
            ctx, w_step = [], []
            for n in range(cfg.heads):
                sl = slice(n * dk, (n + 1) * dk)
                s = np.einsum("bd,bid->bi", q[:, sl], keys[:, :, sl]) / np.sqrt(dk)
                w = np.exp(s - s.max(-1, keepdims=True))
                w /= w.sum(-1, keepdims=True)
                ctx.append(np.einsum("bi,bid->bd", w, vals[:, :, sl]))
                w_step.append(w)
            feat = np.concatenate([h, np.concatenate(ctx, -1)], -1)
            weights.append(np.stack(w_step, 1))  # [B, n, I]
        y_prev = feat @ p["out_w"] + p["out_b"]
        out.append(y_prev)
    attn = np.stack(weights, 2) if weights else None  # [B, n, H, I]
    return np.stack(out, 1), attn


@pytest.mark.parametrize("kind", fm.FAMILIES)
def test_scan_decoder_equals_python_loop_reference(kind):
    cfg = fm.ForecastConfig(kind=kind, input_len=7, horizon=4, channels=2, hidden=8, heads=2)
    params = fm.init_params(jax.random.key(3), cfg)
    x = np.random.default_rng(0).standard_normal((5, 7, 2)).astype(np.float32)
    y, attn = fm.predict(params, x, cfg)
    y_ref, attn_ref = _reference(params, x.astype(np.float64), cfg)
    np.testing.assert_allclose(y, y_ref, atol=2e-5)
    if kind == "lstm":
        assert attn is None
    else:
        assert attn.shape == (5, 2, 4, 7)
        np.testing.assert_allclose(attn, attn_ref, atol=2e-5)
        np.testing.assert_allclose(attn.sum(-1), 1.0, atol=1e-5)  # a softmax over lags
        assert (attn >= 0).all()


def test_teacher_forcing_feeds_the_true_previous_target():
    cfg = fm.ForecastConfig(kind="lstm", input_len=6, horizon=4, channels=1, hidden=8)
    params = fm.init_params(jax.random.key(0), cfg)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((3, 6, 1)), jnp.float32)
    run = jax.jit(lambda y, hp: fm.forecast(params, x, cfg, y_bhc=y, hp=hp,
                                            key=jax.random.key(5))[0])
    free = run(jnp.zeros((3, 4, 1)), fm.hparams())
    forced = fm.hparams(teacher_forcing=1.0)
    # fed its own forecasts as "truth", full teacher forcing changes nothing ...
    np.testing.assert_allclose(run(free, forced), free, atol=1e-6)
    # ... fed other targets, step 1 (which reads the last input) is unchanged, later steps move
    other = run(free + 1.0, forced)
    np.testing.assert_allclose(other[:, 0], free[:, 0], atol=1e-6)
    assert np.abs(np.asarray(other[:, 1:] - free[:, 1:])).min() > 1e-4


def test_attention_concentrates_on_a_planted_lag():
    """Targets copy the input at lag 6 (step h of the horizon = input I - 6 + h); after a
    short training the weight mass sits on those positions."""
    n_in, horizon, lag = 12, 3, 6
    cfg = fm.ForecastConfig(kind="attention", input_len=n_in, horizon=horizon, channels=1,
                            hidden=8, heads=1)
    x = np.random.default_rng(0).standard_normal((256, n_in, 1)).astype(np.float32)
    src = n_in - lag + np.arange(horizon)
    res = fit(init_state(cfg, jax.random.key(0), 2e-2), fm.train_data(x, x[:, src], fm.hparams()),
              jax.random.key(1), loss_fn=fm.make_loss_fn(cfg), sampler=fm.sample_windows(32),
              num_steps=300, steps_per_call=300, progress=False)
    assert np.mean(res.history["loss"][-10:]) < 0.1 * np.mean(res.history["loss"][:10])
    _, attn = fm.predict(res.state.params, x[:64], cfg)
    mean_hi = attn.mean(axis=(0, 1))
    planted = mean_hi[np.arange(horizon), src]
    np.testing.assert_array_equal(mean_hi.argmax(-1), src)
    assert planted.mean() > 0.6, planted
    # at initialisation the weights are spread out
    _, attn0 = fm.predict(fm.init_params(jax.random.key(0), cfg), x[:64], cfg)
    assert attn0.mean(axis=(0, 1))[np.arange(horizon), src].mean() < 0.3


def test_population_of_k_candidates_equals_k_separate_runs():
    cfg = fm.ForecastConfig(kind="lstm", input_len=8, horizon=3, channels=2, hidden=8)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 8, 2)), rng.standard_normal((40, 3, 2))
    cands = [{"learning_rate": 3e-3, "dropout": 0.0, "teacher_forcing": 0.5},
             {"learning_rate": 1e-2, "dropout": 0.2, "teacher_forcing": 0.0}]
    init_key, train_key = jax.random.key(7), jax.random.key(8)
    params_k, history = train_population(cfg, cands, x, y, init_key, train_key,
                                         batch_size=8, num_steps=12, steps_per_call=6)
    assert history["loss"].shape == (2, 12)
    for j, c in enumerate(cands):
        one = fit(init_state(cfg, init_key, c["learning_rate"]),
                  fm.train_data(x, y, fm.hparams(c["dropout"], c["teacher_forcing"])),
                  train_key, loss_fn=fm.make_loss_fn(cfg), sampler=fm.sample_windows(8),
                  num_steps=12, steps_per_call=6, progress=False)
        np.testing.assert_allclose(history["loss"][j], one.history["loss"], rtol=1e-5)
        jax.tree.map(lambda a, b, j=j: np.testing.assert_allclose(a[j], b, atol=1e-5),
                     params_k, one.state.params)
    # the candidates really differ (different hyper-parameters, same keys)
    assert not np.allclose(history["loss"][0], history["loss"][1])


def test_bad_model_settings_are_input_errors():
    with pytest.raises(InputError, match="divisible"):
        fm.ForecastConfig(kind="attention", hidden=10, heads=4)
    with pytest.raises(InputError, match="kind"):
        fm.ForecastConfig(kind="gru")
    with pytest.raises(InputError, match="dropout"):
        fm.hparams(dropout=1.0)
