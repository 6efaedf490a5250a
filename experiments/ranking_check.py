"""Are a generator's anomalies anomalies to a detector of the real data?
``python -m experiments.ranking_check WORKDIR [--checkpoints DIR] [--runs 0,1,2]``

``WORKDIR`` holds a finished ``frameworks_sines``, ``cgats_kpi`` or ``frameworks_nab``
experiment (its ``config.json`` and the generators' checkpoints, by default
``WORKDIR/checkpoints/run{R}``). For every run and detector the detector is fitted on
the real training windows exactly as in the run's TRTR cell (same split, settings and
key) and scores

* the real test windows (the detector's own ranking quality), and
* each generator's synthetic set (as in the TRTS cell),

and the ROC AUC of its per-step scores against the labels is reported: 0.5 when the
scores rank labelled steps no higher than unlabelled ones, 1 when every labelled step
scores above every unlabelled one. Unlike F1 it needs no threshold and does not depend
on the labelled share, which differs between the test part and a label-model set. A
generator whose anomalies a detector of the real data ranks near 0.5 adds labelled
steps that look normal to that detector.

Writes ``WORKDIR/ranking.md`` (mean ± std over runs) and ``WORKDIR/ranking.json``
(per run, and whether each refit reproduced its TRTR cell: the same test-oracle F1).
Nothing here touches a test label but the test AUC and that check.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from jtsgen.config import (
    atomic_write_text,
    from_dict,
    to_dict,
    with_added_settings,
    write_json,
)
from jtsgen.data.labelled import Labelled
from jtsgen.detect import registry
from jtsgen.errors import InputError
from jtsgen.evaluate.framework_runner import (
    ADDED_SETTINGS,
    GENERATORS,
    detector_fit,
    detector_key,
    detector_plan,
    source_keys,
    synthetic_sets,
)
from jtsgen.metrics import best_f1_threshold


def step_auc(scores, y) -> float:
    """ROC AUC of per-step ``scores`` against labels ``y`` (any equal shapes; label
    > 0.5 is anomalous); NaN when either class is absent."""
    from sklearn.metrics import roc_auc_score

    s = np.asarray(scores, np.float64).ravel()
    t = np.asarray(y).ravel() > 0.5
    if s.shape != t.shape:
        raise InputError("scores", f"shape {np.shape(scores)} differs from the labels' "
                                   f"{np.shape(y)}")
    if t.all() or not t.any():
        return float("nan")
    return float(roc_auc_score(t, s))


def experiment_of(saved: dict, path: Path):
    """The experiment module the ``config.json`` at ``path`` (``saved``) belongs to, told by
    its own keys."""
    from experiments import cgats_kpi, frameworks_nab, frameworks_sines

    if "subsets" in saved:
        return frameworks_nab
    if "max_kpis" in saved:
        return cgats_kpi
    if "n_series" in saved:
        return frameworks_sines
    raise InputError(str(path), "is not a frameworks_sines, cgats_kpi or frameworks_nab "
                                "experiment's config")


def load_config(workdir: Path):
    """``(module, config, split)``: the experiment, its saved config (settings added since
    filled in as the saved runs ran them) and ``split(run) -> (train, test)``."""
    path = workdir / "config.json"
    if not path.is_file():
        raise InputError(str(path), "not found: WORKDIR must hold a finished experiment")
    saved = json.loads(path.read_text())
    module = experiment_of(saved, path)
    like = json.loads(json.dumps(to_dict(module.get_config("quick"))))
    config = from_dict(module.Config, with_added_settings(saved, like, ADDED_SETTINGS))
    if config.threshold_from == "real_holdout":
        raise InputError(str(path), "threshold_from='real_holdout' runs fit on part of the "
                                    "training windows; not supported here")
    if module.__name__.endswith("frameworks_sines"):
        data = module.make_data(config)
        return module, config, lambda run: module.split(config, data, run)
    train, test, _ = module.load_split(config)
    return module, config, lambda run: (train, test)


def rank_run(config, train: Labelled, test: Labelled, run: int,
             checkpoint_dir: Path) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """``({detector: {"real test": auc, generator: auc, ...}}, {detector: test-oracle
    F1})`` for run ``run``; the second, the TRTR cell's ``f1_test_oracle`` when the
    refit is that cell's detector (NaN for a detector without scores)."""
    wanted = set(config.augmentations) & set(GENERATORS)
    if wanted and not checkpoint_dir.is_dir():
        raise InputError(str(checkpoint_dir), "no generator checkpoints for this run")
    synth = synthetic_sets(config, train, wanted, source_keys(config.seed, run),
                           checkpoint_dir, progress=False)
    sets = {"real test": test, **{name: synth[name] for name in sorted(synth)}}
    aucs, oracles = {}, {}
    for d, (det, _) in enumerate(detector_plan(config)):
        fitted = detector_fit(config, det, train, "TRTR")(
            detector_key(config.seed, run, d), train.x_btc, train.y_bt)
        if not hasattr(fitted, "score"):  # a rule without scores: nothing to rank
            aucs[det] = dict.fromkeys(sets, float("nan"))
            oracles[det] = float("nan")
            continue
        scores = {name: np.asarray(fitted.score(s.x_btc), np.float32) for name, s in sets.items()}
        aucs[det] = {name: step_auc(scores[name], s.y_bt) for name, s in sets.items()}
        oracles[det] = float(best_f1_threshold(scores["real test"], test.y_bt)[1])
    return aucs, oracles


def reproduced(workdir: Path, run: int, oracles: dict[str, float]) -> dict[str, bool]:
    """Per detector: whether the refit's test-oracle F1 equals the saved TRTR cell's (to
    1e-4), i.e. the ranking is of the very detector the run's TRTR cell tested."""
    path = workdir / "runs" / f"run{run}.json"
    if not path.is_file():
        raise InputError(str(path), f"not found: run {run} has not finished in this experiment")
    saved = json.loads(path.read_text())["result"]["cells"]
    trtr = {c["detector"]: c["f1_test_oracle"] for c in saved if c["framework"] == "TRTR"}
    return {det: bool(det in trtr and abs(trtr[det] - f1) <= 1e-4)
            for det, f1 in oracles.items()}


def ranking_markdown(per_run: dict[int, dict], same: dict[int, dict[str, bool]]) -> str:
    """Mean ± std over runs, one row per detector; ``same``: :func:`reproduced` per run."""
    runs = list(per_run.values())
    dets = list(runs[0])
    cols = list(runs[0][dets[0]])
    names = {"real test": "real test windows", **GENERATORS}
    lines = ["| Detector | " + " | ".join(f"AUC on {names.get(c, c)}" for c in cols) + " |",
             "|---" * (len(cols) + 1) + "|"]
    for det in dets:
        cells = []
        for c in cols:
            v = np.asarray([r[det][c] for r in runs], np.float64)
            cells.append(f"{v.mean():.3f} ± {v.std():.3f}")
        lines.append(f"| {registry.LABELS[det]} | " + " | ".join(cells) + " |")
    lines += ["", f"ROC AUC of each detector's per-step scores against the labels "
                  f"({len(runs)} run(s): {', '.join(map(str, per_run))}); the detector "
                  "fitted on the real training windows as in the TRTR cell, scoring the "
                  "real test windows and each generator's synthetic set (its labels). "
                  "0.5: labelled steps rank no higher than unlabelled ones. Refits "
                  "reproducing the run's TRTR cell (its test-oracle F1 to 1e-4): "
                  f"{sum(map(sum, (v.values() for v in same.values())))} of "
                  f"{sum(map(len, same.values()))}. experiments.ranking_check."]
    return "\n".join(lines) + "\n"


def run(workdir: str | Path, checkpoints: str | Path | None = None,
        runs: tuple[int, ...] | None = None) -> dict[int, dict]:
    """Ranks every chosen run (default: every run saved under ``WORKDIR/runs``) and
    writes ``ranking.md`` and ``ranking.json`` beside the experiment's tables."""
    workdir = Path(workdir)
    _, config, split = load_config(workdir)
    checkpoints = Path(checkpoints) if checkpoints else workdir / "checkpoints"
    if runs is None:
        runs = tuple(sorted(int(p.stem[3:]) for p in (workdir / "runs").glob("run*.json")))
    if not runs:
        raise InputError(str(workdir / "runs"), "no finished runs")
    per_run, same = {}, {}
    for r in runs:
        per_run[r], oracles = rank_run(config, *split(r), r, checkpoints / f"run{r}")
        same[r] = reproduced(workdir, r, oracles)
        print(f"run {r}: " + "; ".join(
            f"{registry.LABELS[d]} " + ", ".join(f"{k} {v:.3f}" for k, v in row.items())
            for d, row in per_run[r].items()), flush=True)
    write_json(workdir / "ranking.json", {"auc": {str(r): v for r, v in per_run.items()},
                                          "trtr_cell_reproduced": {str(r): v for r, v
                                                                   in same.items()}})
    atomic_write_text(workdir / "ranking.md", ranking_markdown(per_run, same))
    return per_run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m experiments.ranking_check")
    parser.add_argument("workdir", help="a finished four-framework experiment's directory")
    parser.add_argument("--checkpoints", default=None,
                        help="the generators' checkpoints (default WORKDIR/checkpoints)")
    parser.add_argument("--runs", default=None, help="comma-separated runs (default: all)")
    args = parser.parse_args(argv)
    try:
        runs = None
        if args.runs:
            try:
                runs = tuple(int(r) for r in args.runs.split(","))
            except ValueError:
                raise InputError("--runs", f"must be comma-separated integers, got "
                                           f"{args.runs!r}") from None
        run(args.workdir, args.checkpoints, runs)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
