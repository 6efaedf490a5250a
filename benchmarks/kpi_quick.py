"""Wall time of one ``cgats_kpi`` run, stage by stage, against its 20-minute target.

``python -m benchmarks.kpi_quick --kpi-path PATH/phase2_train.csv.zip
[--profile tiny|full] [--out FILE]``

``full`` times what ``python -m experiments.cgats_kpi`` (quick profile) does in one
run, as a user runs it: one cold pass in a fresh process, compilation included. The
stages are the experiment's own (:func:`jtsgen.evaluate.framework_runner.run_once`
with :class:`benchmarks.pipeline.Stopwatch` as its stage hook): ``data`` (reading the
file, the KPIs' grids, splits and windows), ``augment NAME``, the generators'
training (``train stage 1`` / ``train stage 2`` of C-GATS, ``train baselines``),
``generate NAME``, then ``detector NAME`` per detector (its fits and test scores in
every framework and source). ``tiny`` (tests): the smoke profile with one rule
detector, Mixup and C-GATS, and one Table 9 baseline.

Summary: ``kpi_quick_s`` (the run's wall time), ``kpi_quick_target_ratio`` (that time
over the issue's target, 20 minutes on 2 CPU cores: below 1 meets it) and
``kpi_quick_generators_share`` / ``kpi_quick_detectors_share``.
"""

from __future__ import annotations

import dataclasses
import time

from benchmarks import harness
from benchmarks.pipeline import Stopwatch
from experiments import cgats_kpi
from jtsgen.evaluate import framework_runner
from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables

TARGET_S = 20 * 60
COLUMNS = ["stage", "seconds", "share"]


def _parser():
    parser = harness.base_argparser("kpi_quick")
    parser.add_argument("--kpi-path", required=True,
                        help="the KPI phase-2 CSV or phase2_train.csv.zip")
    return parser


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    if args.profile == "full":
        config = cgats_kpi.get_config("quick")
    else:
        config = dataclasses.replace(cgats_kpi.get_config("smoke"), detectors=("case2",),
                                     augmentations=("mixup", "cgats"),
                                     baseline_detectors=("case1",))
    config = dataclasses.replace(config, data_path=args.kpi_path)
    watch = Stopwatch()
    start = time.perf_counter()
    train, test, _ = watch("data", lambda: cgats_kpi.load_split(config))
    out = framework_runner.run_once(config, train, test, 0, None, progress=False, stage=watch)
    total = time.perf_counter() - start
    rows = [{"stage": s, "seconds": t, "share": t / total} for s, t in watch.times.items()]
    rows.append({"stage": "total", "seconds": total, "share": 1.0})

    def share(prefixes):
        return sum(t for s, t in watch.times.items() if s.startswith(prefixes)) / total

    summary = {"kpi_quick_s": total, "kpi_quick_target_ratio": total / TARGET_S,
               "kpi_quick_generators_share": share(("train", "generate")),
               "kpi_quick_detectors_share": share(("detector",))}
    harness.print_table(rows, COLUMNS)
    print("\nsummary:")
    for key, value in summary.items():
        print(f"  {key} = {value:.4g}")
    harness.write_report(args.out, config={"profile": args.profile, "experiment_config": config,
                                           "passes": "one cold pass (compilation included)",
                                           "target_s": TARGET_S, "f1": {
                                               f"{c['detector']} {c['framework']} "
                                               f"{c['source'] or 'real'}": c["f1"]
                                               for c in out["cells"]}},
                         rows=rows, summary=summary)
    print(f"wrote {args.out}")
    return summary


if __name__ == "__main__":
    emulate_cpu_devices()
    reexec_with_host_tunables()
    main()
