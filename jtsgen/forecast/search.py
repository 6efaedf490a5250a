"""Random hyper-parameter search where candidates that share shapes train together.

Candidates are dicts ``{"kind", "hidden", "learning_rate", "dropout",
"teacher_forcing"}``. Those with the same ``(kind, hidden)`` have the same parameter
shapes, so a group of ``K`` trains as one vmapped program
(:func:`jtsgen.train.fit_ensemble`): the learning rate sits in each replica's
optimiser state, dropout and teacher forcing in its own ``data["hp"]``. Within a
group every candidate starts from the same initial parameters and sees the same
batches (common random numbers), so validation differences come from the
hyper-parameters. Selection uses validation RMSE (original units); the caller
reports the winner on the test windows.

:func:`optuna_search` is the optional Optuna backend: a TPE study proposes the
shape-changing ``(kind, hidden)`` of each trial, and the trial's population of
random non-shape candidates trains as one vmapped group (optuna is an extra:
``pip install 'jtsgen[optuna]'``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jtsgen.errors import InputError
from jtsgen.models import forecast as fm
from jtsgen.train import create_state, fit_ensemble, init_replicas

SHAPE_KEYS = ("kind", "hidden")


def sample_candidates(seed: int, n_per_group: int, kinds: tuple[str, ...],
                      hiddens: tuple[int, ...], *, lr_range=(3e-4, 1e-2),
                      dropouts=(0.0, 0.1, 0.2)) -> list[dict[str, Any]]:
    """``n_per_group`` random candidates for every ``(kind, hidden)``: learning rate
    log-uniform in ``lr_range``, dropout from ``dropouts``, teacher forcing U[0, 1]."""
    rng = np.random.default_rng(seed)
    out = []
    for kind in kinds:
        for hidden in hiddens:
            for _ in range(n_per_group):
                out.append({"kind": kind, "hidden": int(hidden),
                            "learning_rate": float(np.exp(rng.uniform(*np.log(lr_range)))),
                            "dropout": float(rng.choice(dropouts)),
                            "teacher_forcing": float(rng.uniform(0.0, 1.0))})
    return out


def group_by_shape(candidates: list[dict]) -> dict[tuple, list[int]]:
    """Candidate indices per ``(kind, hidden)``, in first-seen order."""
    groups: dict[tuple, list[int]] = {}
    for i, c in enumerate(candidates):
        groups.setdefault(tuple(c[k] for k in SHAPE_KEYS), []).append(i)
    return groups


def init_state(config: fm.ForecastConfig, init_key: jax.Array, learning_rate) -> Any:
    """A fresh train state of ``config`` with Adam's learning rate ``learning_rate``."""
    state = create_state(fm.init_params(init_key, config), fm.OPTIMIZER)
    return fm.with_learning_rate(state, learning_rate)


def train_population(config: fm.ForecastConfig, candidates: list[dict], x_bic, y_bhc,
                     init_key: jax.Array, train_key: jax.Array, *, batch_size: int,
                     num_steps: int, steps_per_call: int = 50):
    """Trains ``K = len(candidates)`` candidates of one shape as one vmapped program.

    Returns ``(params_K, history)``: parameter leaves ``[K, ...]``, history leaves
    ``[K, num_steps]``."""
    k = len(candidates)
    lrs = jnp.asarray([c["learning_rate"] for c in candidates], jnp.float32)
    states = jax.jit(lambda lr: init_replicas(lambda r: init_state(config, init_key, r), lr))(lrs)
    hp = {name: jnp.asarray([c[name] for c in candidates], jnp.float32)
          for name in ("dropout", "teacher_forcing")}
    tile = tiled(k)
    data = {"x": tile(x_bic), "y": tile(y_bhc), "hp": hp}
    keys = jnp.stack([train_key] * k)
    states, history = fit_ensemble(states, data, keys, loss_fn=fm.make_loss_fn(config),
                                   sampler=fm.sample_windows(batch_size), num_steps=num_steps,
                                   steps_per_call=steps_per_call, shared_data=False)
    return states.params, history


def tiled(k: int):
    """``a -> [K, *a.shape]`` copies (the population's per-replica data)."""
    return lambda a: jnp.broadcast_to(jnp.asarray(a, jnp.float32), (k, *np.shape(a)))


def predict_population(params_k: Any, x_bic, config: fm.ForecastConfig) -> np.ndarray:
    """Evaluation forecasts of every candidate: ``[K, B, H, C]`` (one candidate at a time
    through :func:`jtsgen.models.forecast.predict`, whose compiled program is shared)."""
    k = jax.tree.leaves(params_k)[0].shape[0]
    return np.stack([fm.predict(jax.tree.map(lambda a, j=j: a[j], params_k), x_bic, config)[0]
                     for j in range(k)])


def run_search(candidates: list[dict], base: fm.ForecastConfig, x_train, y_train, x_val,
               score, key: jax.Array, *, batch_size: int, num_steps: int,
               steps_per_call: int = 50):
    """Trains every shape group and scores each candidate on validation.

    ``score(pred_bhc) -> float`` (lower is better, e.g. RMSE in original units).
    Returns ``(records, best)``: ``records`` are the candidates with ``"val_score"`` and
    ``"final_loss"`` added; ``best = (index, config, params)`` of the lowest score.
    """
    init_key, train_key = jax.random.split(key)
    records = [dict(c) for c in candidates]
    best = (None, None, None)
    for (kind, hidden), idx in group_by_shape(candidates).items():
        config = dataclasses.replace(base, kind=kind, hidden=hidden)
        params_k, history = train_population(
            config, [candidates[i] for i in idx], x_train, y_train, init_key, train_key,
            batch_size=batch_size, num_steps=num_steps, steps_per_call=steps_per_call)
        preds = predict_population(params_k, x_val, config)
        for j, i in enumerate(idx):
            records[i]["val_score"] = float(score(preds[j]))
            records[i]["final_loss"] = float(np.mean(history["loss"][j, -20:]))
            if best[0] is None or records[i]["val_score"] < records[best[0]]["val_score"]:
                best = (i, config, jax.tree.map(lambda a, j=j: a[j], params_k))
    return records, best


def import_optuna():
    """The ``optuna`` module, or an :class:`InputError` naming the flag that asked for it."""
    try:
        import optuna
    except ImportError:
        raise InputError("--config.search_backend",
                         "the optuna backend needs Optuna, which is not installed: "
                         "pip install 'jtsgen[optuna]'") from None
    return optuna


def optuna_search(evaluate, kinds: tuple[str, ...], hiddens: tuple[int, ...], *,
                  n_trials: int, n_per_group: int, seed: int):
    """Optuna backend: a TPE study (seeded by ``seed``) picks ``(kind, hidden)`` per trial.

    Each trial's ``n_per_group`` random non-shape candidates (:func:`sample_candidates`
    with seed ``seed + 1 + trial number``) share the proposed shape and go to
    ``evaluate(candidates) -> (records, (index, config, params))`` — e.g.
    :func:`run_search` with its data bound — as one population; the trial's value is
    that group's best validation score. TPE's random start-up is half the trials (at
    most 10). Returns ``(records, best)`` as :func:`run_search`: the records of all
    trials in trial order (``n_trials * n_per_group`` of them), ``best`` the lowest
    validation score over all trials, its index into ``records``.
    """
    optuna = import_optuna()
    sampler = optuna.samplers.TPESampler(seed=seed,
                                         n_startup_trials=max(1, min(10, n_trials // 2)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    records: list[dict] = []
    best = (None, None, None)

    def objective(trial) -> float:
        nonlocal best
        kind = trial.suggest_categorical("kind", list(kinds))
        hidden = trial.suggest_categorical("hidden", [int(h) for h in hiddens])
        group, (i, config, params) = evaluate(
            sample_candidates(seed + 1 + trial.number, n_per_group, (kind,), (hidden,)))
        if best[0] is None or group[i]["val_score"] < records[best[0]]["val_score"]:
            best = (len(records) + i, config, params)
        records.extend(group)
        return group[i]["val_score"]

    study.optimize(objective, n_trials=n_trials)
    return records, best
