"""Specification of the generator interface: every generator of the registry answers
``generate(state, key, labels_bt) -> x_btc`` the same way."""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from jtsgen.data.sines import make_sines
from jtsgen.errors import InputError
from jtsgen.models import generators, lstm_vae
from jtsgen.models.cgats_labels import label_vector
from jtsgen.models.generators import GENERATORS, GeneratorKeys, Trained
from jtsgen.train import adam, create_state, fit, sample_rows

T = 48


@pytest.fixture(scope="module")
def states():
    """Every generator, trained a few steps on Synthetic Sines windows of 48."""
    d = make_sines(80, 0, length=T, freq_range=(0.0, 0.1))
    smoke = generators.settings_for("smoke")
    settings = dataclasses.replace(smoke, baseline_steps=4, model=dataclasses.replace(
        smoke.model, stage1_steps=4, stage2_steps=4, steps_per_call=2))
    keys = GeneratorKeys(*jax.random.split(jax.random.key(0), 4))
    out, histories = generators.train_generators(generators.TRAINABLE, keys, d.x_btc, d.y_bt,
                                                 settings, progress=False)
    assert set(histories) == {"cgats", "cvae", "cond_first", "rcgan", "ddpm"}
    cfg = lstm_vae.LSTMVAEConfig(seq_len=T, hidden=8, latent=4)
    r = fit(create_state(lstm_vae.init_params(jax.random.key(1), cfg), adam(1e-3)),
            d.x_btc, jax.random.key(2), loss_fn=lstm_vae.make_loss_fn(cfg),
            sampler=sample_rows(8), num_steps=2, steps_per_call=2, progress=False)
    out["lstm_vae"] = Trained(r.state.params, cfg)
    return out


def _labels(n: int) -> np.ndarray:
    return np.stack([label_vector(T, points=[5 + i % 30], segments=[(20, 20 + 3 + i % 9)])
                     for i in range(n)])


def _compiles(fn) -> int:
    """How many XLA programs ``fn()`` compiles."""
    names: list[str] = []

    def listen(name, secs, **kw):
        names.append(name)

    jax.monitoring.register_event_duration_secs_listener(listen)
    try:
        fn()
    finally:
        jax.monitoring.unregister_event_duration_listener(listen)
    return sum("backend_compile" in n for n in names)


def test_the_registry_names_every_generator_once():
    assert set(GENERATORS) == {"cgats", "cvae", "cgats_first", "rcgan", "ddpm", "lstm_vae"}
    displays = [g.display for g in GENERATORS.values()]
    assert len(set(displays)) == len(displays)
    with pytest.raises(InputError, match="unknown"):
        generators.generate("timegan", None, jax.random.key(0), _labels(1))
    with pytest.raises(InputError, match="names"):
        generators.train_generators(("timegan",), None, None, None, generators.settings_for(
            "smoke"))


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generate_has_the_labels_shape_is_finite_and_depends_only_on_the_key(states, name):
    labels = np.zeros((5, T), np.float32) if name == "lstm_vae" else _labels(5)
    x = generators.generate(name, states[name], jax.random.key(3), labels)
    assert x.shape == (5, T, 1) and x.dtype == np.float32 and np.all(np.isfinite(x))
    again = generators.generate(name, states[name], jax.random.key(3), labels)
    np.testing.assert_array_equal(x, again)
    other = generators.generate(name, states[name], jax.random.key(4), labels)
    assert not np.allclose(x, other)


@pytest.mark.parametrize("name", sorted(set(GENERATORS) - {"lstm_vae"}))
def test_conditional_generators_read_the_labels(states, name):
    """Same key, labelled vs all-zero vectors: the outputs differ (the condition reaches
    the output)."""
    y = _labels(4)
    key = jax.random.key(5)
    with_labels = generators.generate(name, states[name], key, y)
    without = generators.generate(name, states[name], key, np.zeros_like(y))
    assert np.abs(with_labels - without).max() > 1e-4


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_a_second_batch_of_the_same_shape_compiles_nothing(states, name):
    labels = np.zeros((6, T), np.float32) if name == "lstm_vae" else _labels(6)
    generators.generate(name, states[name], jax.random.key(6), labels)
    assert _compiles(lambda: generators.generate(
        name, states[name], jax.random.key(7), labels[::-1].copy())) == 0


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_bad_label_vectors_are_refused(states, name):
    with pytest.raises(InputError, match="labels_bt"):
        generators.generate(name, states[name], jax.random.key(0), np.zeros((2, T + 1)))
    with pytest.raises(InputError, match="labels_bt"):
        generators.generate(name, states[name], jax.random.key(0), np.full((2, T), 0.5))


def test_the_unconditional_lstm_vae_refuses_anomalous_labels(states):
    with pytest.raises(InputError, match="unconditional"):
        generators.generate("lstm_vae", states["lstm_vae"], jax.random.key(0), _labels(2))
