"""C-GATS on Synthetic Sines over several seeds: the faithfulness table as mean ± sd.

``python -m experiments.cgats_sines_seeds [--profile smoke|quick|paper] [--workdir DIR]
[--config.seeds=0,1,2] [--config.base.KEY=VALUE ...]``

Runs :mod:`experiments.cgats_sines` once per seed (``base`` is that experiment's
config for the profile; ``seed`` replaced by each entry of ``seeds``, which changes
the data, the split, every initialisation and every noise draw) into
``DIR/seed{S}/`` with all its usual outputs. A seed directory that already holds
``results.json`` from the same config is read back instead of run again (an
interrupted run resumes from its checkpoints); one from a different config is an
error, so runs of different configs are never mixed. Then writes, next to the
resolved ``config.json``:

* ``seeds.json`` — per generator: ``on_label_share`` (and ``lift``, ``dev_on``,
  ``dev_off``) for every seed, their mean and sample standard deviation;
* ``seeds.md`` / ``seeds.csv`` — the table.

One run of the quick profile takes about ten minutes on a 2-core CPU.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from experiments import cgats_sines
from experiments.common import main, prepare_workdir
from jtsgen.config import to_dict, write_outputs
from jtsgen.errors import InputError

MEASURES = ("on_label_share", "lift", "dev_on", "dev_off")


@dataclasses.dataclass(frozen=True)
class Config:
    profile: str = "quick"
    seeds: tuple[int, ...] = (0, 1, 2)
    base: cgats_sines.Config = cgats_sines.Config()


def get_config(profile: str = "quick") -> Config:
    """The seeds 0, 1, 2 around :func:`experiments.cgats_sines.get_config` of ``profile``."""
    return Config(profile=profile, base=cgats_sines.get_config(profile))


def summarise(per_seed: dict[int, dict]) -> list[dict]:
    """One row per generator from ``{seed: results}`` (``results.json`` of each run):
    every measure's per-seed values (in seed order), mean and sample sd (0 for one seed)."""
    seeds = sorted(per_seed)
    generators = list(per_seed[seeds[0]]["faithfulness"])
    rows = []
    for name in generators:
        row: dict = {"generator": name, "seeds": seeds}
        for m in MEASURES:
            values = np.asarray([per_seed[s]["faithfulness"][name][m] for s in seeds])
            row[m] = values.tolist()
            row[f"{m}_mean"] = float(values.mean())
            row[f"{m}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def markdown(rows: list[dict]) -> str:
    seeds = " / ".join(str(s) for s in rows[0]["seeds"])
    lines = [f"| generator | on_label_share, seeds {seeds} | mean ± sd | lift (mean) "
             "| dev_on (mean) | dev_off (mean) |", "|---|---|---|---|---|---|"]
    for r in rows:
        per = " / ".join(f"{v:.3f}" for v in r["on_label_share"])
        lines.append(f"| {r['generator']} | {per} | {r['on_label_share_mean']:.3f} ± "
                     f"{r['on_label_share_sd']:.3f} | {r['lift_mean']:.2f} | "
                     f"{r['dev_on_mean']:.3f} | {r['dev_off_mean']:.3f} |")
    return "\n".join(lines) + "\n"


def csv(rows: list[dict]) -> str:
    cols = [f"{m}_{s}" for m in MEASURES for s in ("mean", "sd")]
    lines = ["generator,seeds," + ",".join(cols)]
    for r in rows:
        seeds = " ".join(str(s) for s in r["seeds"])
        lines.append(f'"{r["generator"]}","{seeds}",' + ",".join(f"{r[c]:.6g}" for c in cols))
    return "\n".join(lines) + "\n"


def _seed_results(base: cgats_sines.Config, seed_dir: Path) -> dict:
    """The seed's results: read back when ``seed_dir`` already holds a finished run of
    ``base``, else run (resuming from any checkpoints there)."""
    config_file, results_file = seed_dir / "config.json", seed_dir / "results.json"
    if config_file.exists():
        try:
            stored = json.loads(config_file.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise InputError(str(config_file), f"cannot be read ({e})") from None
        if stored != json.loads(json.dumps(to_dict(base))):
            raise InputError(str(config_file), "holds a run with a different config; delete "
                             "that directory or choose another --workdir")
        if results_file.exists():
            print(f"seed {base.seed}: reusing {results_file}")
            return json.loads(results_file.read_text())
    return cgats_sines.run(base, seed_dir)


def run(config: Config, workdir: str | Path) -> dict:
    """Runs (or reads back) every seed and writes the summary; returns ``seeds.json``."""
    if not config.seeds or len(set(config.seeds)) != len(config.seeds):
        raise InputError("--config.seeds", f"needs distinct seeds, got {config.seeds}")
    workdir = prepare_workdir(config, workdir)
    per_seed = {s: _seed_results(dataclasses.replace(config.base, seed=s), workdir / f"seed{s}")
                for s in config.seeds}
    rows = summarise(per_seed)
    summary = {"rows": rows, "seeds": list(config.seeds),
               "sd": "sample standard deviation over seeds (ddof = 1)",
               "runs": {str(s): str(workdir / f"seed{s}") for s in config.seeds}}
    table = markdown(rows)
    write_outputs(workdir, {"seeds.json": summary},
                  {"seeds.csv": csv(rows), "seeds.md": table}, show=table)
    return summary


if __name__ == "__main__":
    main("cgats_sines_seeds", get_config, run)
