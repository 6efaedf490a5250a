"""Re-run only the cells a C-GATS setting changes, keep the rest of a saved experiment.

``python -m experiments.merge_runs BASE OVERLAY OUT``

``BASE`` and ``OVERLAY`` are workdirs of one four-framework experiment (their
``runs/run{r}.json``, as :func:`jtsgen.evaluate.framework_runner.run_all` saves them).
``OVERLAY`` ran with a setting of :data:`MAY_DIFFER` changed and, to save time, only
some of ``BASE``'s frameworks and sources; it must hold every cell whose training or test
data comes from C-GATS (source ``cgats``: T(R+S)TR with C-GATS, TRTS, TSTR), and its
TRTR cells must equal ``BASE``'s metric for metric — the proof that both ran on the same
split with the same detector keys (every run is deterministic on one machine). ``OUT``
gets, per run, ``BASE``'s cells with ``OVERLAY``'s C-GATS cells in their place and
``BASE``'s settings with the changed one, so the experiment run with the full settings
and ``--workdir OUT`` reads the merged runs back and writes the tables. Cells that use
no C-GATS sample (TRTR, the other sources) do not depend on these settings: their data,
keys and steps are the same either way.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jtsgen.config import write_json
from jtsgen.errors import InputError

# settings that only change the C-GATS set (its samples), never another cell
MAY_DIFFER = ("cgats_from",)
# settings the overlay may narrow (fewer frameworks or sources)
MAY_NARROW = ("frameworks", "augmentations")
IGNORED = ("fit_seconds",)


def _key(cell: dict) -> tuple:
    return cell["detector"], cell["framework"], cell["source"]


def _metrics(cell: dict) -> dict:
    return {k: v for k, v in cell.items() if k not in IGNORED}


def merge_run(base: dict, overlay: dict, where: str) -> dict:
    """``{"settings", "result"}`` of one run: ``base``'s with ``overlay``'s C-GATS cells."""
    b_set, o_set = base["settings"], overlay["settings"]
    for k in sorted(set(b_set) | set(o_set)):
        if k in MAY_DIFFER or k in MAY_NARROW or b_set.get(k) == o_set.get(k):
            continue
        if k not in b_set:  # a setting added after the base was saved: must be the old value
            continue
        raise InputError(where, f"setting {k!r} differs ({b_set.get(k)!r} in the base, "
                                f"{o_set.get(k)!r} in the overlay); only {MAY_DIFFER} may")
    b_res, o_res = base["result"], overlay["result"]
    if (b_res["n_train"], b_res["n_test"]) != (o_res["n_train"], o_res["n_test"]):
        raise InputError(where, "base and overlay ran on different splits")
    b_cells = {_key(c): c for c in b_res["cells"]}
    o_cells = {_key(c): c for c in o_res["cells"]}
    for key, cell in o_cells.items():
        if key not in b_cells:
            raise InputError(where, f"the overlay's cell {key} is not in the base")
        if cell["source"] is None and _metrics(cell) != _metrics(b_cells[key]):
            raise InputError(where, f"TRTR cell {key[0]} differs between base and overlay: "
                                    "not the same split, keys or machine")
    missing = [k for k in b_cells if k[2] == "cgats" and k not in o_cells]
    if missing:
        raise InputError(where, f"the overlay lacks the C-GATS cells {missing}")
    cells = [o_cells.get(k, c) for k, c in b_cells.items()]
    result = {**b_res, "cells": cells,
              "synthetic_anomaly_rate": {**b_res.get("synthetic_anomaly_rate", {}),
                                         **o_res.get("synthetic_anomaly_rate", {})}}
    if "realism" in o_res:
        result["realism"] = {**b_res.get("realism", {}),
                             **{k: v for k, v in o_res["realism"].items() if k != "real"}}
    settings = {**b_set, **{k: o_set[k] for k in MAY_DIFFER if k in o_set}}
    return {"settings": settings, "result": result}


def merge(base: Path, overlay: Path, out: Path) -> list[Path]:
    """Merges every run the overlay saved; returns the paths written under ``out/runs``."""
    runs = sorted((Path(overlay) / "runs").glob("run*.json"))
    if not runs:
        raise InputError("OVERLAY", f"{overlay} holds no runs/run*.json")
    written = []
    for path in runs:
        base_path = Path(base) / "runs" / path.name
        if not base_path.exists():
            raise InputError("BASE", f"{base_path} is missing (the overlay has {path.name})")
        merged = merge_run(json.loads(base_path.read_text()), json.loads(path.read_text()),
                           str(path))
        merged["merged"] = {"base": str(base_path), "overlay": str(path)}
        written.append(write_json(Path(out) / "runs" / path.name, merged))
    return written


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        raise SystemExit(__doc__.strip().splitlines()[2])
    try:
        for p in merge(*map(Path, argv)):
            print(f"merged {p}")
    except InputError as e:
        raise SystemExit(f"error: {e}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
