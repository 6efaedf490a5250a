"""The ``jtsgen`` command: fit a generator on your labelled metrics, generate, evaluate.

``jtsgen fit DATA --workdir W``, ``jtsgen generate W --out synth.csv``, ``jtsgen
evaluate W``, ``jtsgen report W``; ``jtsgen example OUT.csv`` writes data to try them
on; ``jtsgen SUBCOMMAND --help`` for the options. The work happens in
:mod:`jtsgen.app.api`; bad input stops with one line naming the file or flag (exit
code 2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from jtsgen.app import LABELS_FROM, MODELS
from jtsgen.config import PROFILES
from jtsgen.errors import InputError

EPILOG = "Docs: README.md, section 'Use your own data'."


def _ints(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.split(",") if p.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected steps like 30,180, got {text!r}") from None


def _segment(text: str) -> tuple[int, int]:
    start, sep, end = text.partition(":")
    try:
        if not sep:
            raise ValueError
        return int(start), int(end)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END (end exclusive), got {text!r}") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",") if p.strip())


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="jtsgen", epilog=EPILOG,
        description="Generate labelled anomalous time-series windows from your own data "
                    "and measure whether they make anomaly detectors better.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    fit = sub.add_parser("fit", help="train a generator on labelled series", epilog=EPILOG,
                         description="Reads DATA, splits each series in time, scales and "
                                     "windows it, and trains the generator; checkpoints in "
                                     "the work directory (running it again resumes).")
    fit.add_argument("data", metavar="DATA", help="a CSV/Parquet file or a folder of them")
    fit.add_argument("--workdir", required=True, help="where everything is written")
    fit.add_argument("--label-col", default="label", help="0/1 anomaly label column "
                                                          "(default: label)")
    fit.add_argument("--time-col", default="", help="timestamp column (optional; must "
                                                    "increase within each series)")
    fit.add_argument("--series-col", default="", help="series id column (optional; else "
                                                      "one series per file)")
    fit.add_argument("--value-col", default="", help="value column (default: the one "
                                                     "numeric column left)")
    fit.add_argument("--model", default="cgats", choices=MODELS,
                     help="generator (default: cgats; C-GATS always trains too)")
    fit.add_argument("--profile", default="quick", choices=PROFILES,
                     help="smoke (seconds), quick (CPU minutes, default), paper")

    gen = sub.add_parser("generate", help="write synthetic labelled windows", epilog=EPILOG,
                         description="Writes N generated windows with their labels in the "
                                     "input's long format plus a window id, and a PNG "
                                     "preview beside the CSV.")
    gen.add_argument("workdir", metavar="W", help="a work directory made by `jtsgen fit`")
    gen.add_argument("--n", type=int, default=1000, help="number of windows (default 1000)")
    gen.add_argument("--labels-from", default="label-model", choices=LABELS_FROM,
                     help="label vectors: drawn from the label model fitted on the "
                          "training anomalies (default) or the training windows' own")
    gen.add_argument("--points", type=_ints, default=(),
                     help="anomalous steps of every window, e.g. 30,180")
    gen.add_argument("--segment", type=_segment, action="append", default=[],
                     help="an anomalous run START:END (end exclusive) in every window; "
                          "repeatable")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--out", required=True, help="CSV to write (the PNG goes beside it)")

    ev = sub.add_parser("evaluate", help="four-framework and augmentation tables",
                        epilog=EPILOG,
                        description="Trains and tests detectors in TRTR, T(R+S)TR, TRTS and "
                                    "TSTR and with each augmentation source on your data; "
                                    "prints the tables and writes them to W/evaluate.")
    ev.add_argument("workdir", metavar="W", help="a work directory made by `jtsgen fit`")
    ev.add_argument("--detector", type=_names, action="append", default=[],
                    help="detector(s), repeatable or comma-separated (default: robusttad, "
                         "sr_cnn, ncad); see jtsgen.detect.registry.DETECTORS")
    ev.add_argument("--framework", default="all",
                    help="all (default) or a comma-separated subset of TRTR,T(R+S)TR,TRTS,TSTR")
    ev.add_argument("--runs", type=int, default=None, help="runs (mean ± std); default "
                                                           "the profile's")

    ex = sub.add_parser("example", help="write an example CSV to try the commands on",
                        epilog=EPILOG, description="Writes two hosts' CPU load (columns time, "
                        "host, cpu, label) with labelled spikes and level shifts.")
    ex.add_argument("out", metavar="OUT", help="CSV to write")

    rep = sub.add_parser("report", help="fidelity and realism of the generated windows",
                         epilog=EPILOG, description="Compares generated with real training "
                         "windows; writes W/report.")
    rep.add_argument("workdir", metavar="W", help="a work directory made by `jtsgen fit`")
    return top


def run(argv: Sequence[str]) -> dict | object:
    """Parses ``argv`` and runs the sub-command; returns its result."""
    args, rest = parser().parse_known_args(argv)
    if args.command == "example":
        from jtsgen.app.example import example_frame
        from jtsgen.config import atomic_write_text

        atomic_write_text(args.out, example_frame().to_csv(index=False))
        print(f"example data in {args.out}: jtsgen fit {args.out} --series-col host "
              "--time-col time --workdir runs/mine")
        return {"out": args.out}
    from jtsgen.app import api  # after parsing: --help needs no JAX

    if args.command == "fit":
        return api.fit(args.data, args.workdir, label_col=args.label_col,
                       time_col=args.time_col, series_col=args.series_col,
                       value_col=args.value_col, model=args.model, profile=args.profile,
                       config=rest)
    if rest:
        raise InputError(rest[0], f"unknown argument for `jtsgen {args.command}`")
    if args.command == "generate":
        return api.generate(args.workdir, args.n, labels_from=args.labels_from,
                            points=args.points, segments=args.segment, seed=args.seed,
                            out=args.out)
    if args.command == "evaluate":
        frameworks = None if args.framework == "all" else _names(args.framework)
        detectors = [d for group in args.detector for d in group] or None
        return api.evaluate(args.workdir, detectors=detectors, frameworks=frameworks,
                            runs=args.runs)
    return api.report(args.workdir)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; exit code 0, or 2 with one line on bad input."""
    if argv is None:
        from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables

        emulate_cpu_devices()
        reexec_with_host_tunables()
    try:
        run(sys.argv[1:] if argv is None else argv)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
