"""Shared command line of the experiments: ``--profile``, ``--workdir``, ``--config.k=v``.

Each experiment module defines ``get_config(profile)`` and ``run(config, workdir)``
and calls :func:`main` from its ``__main__`` block. ``run`` is importable, so tests
call it with the ``smoke`` profile.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jtsgen.config import (
    PROFILES,
    apply_overrides,
    atomic_write_text,
    check_profile,
    save_config,
    write_json,
)
from jtsgen.errors import InputError
from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables

# ``stage(name, fn)`` runs ``fn`` as the step called ``name`` (benchmarks.pipeline passes
# a stopwatch); experiments default to :func:`untimed`
Stage = Callable[[str, Callable[[], Any]], Any]


def untimed(name: str, fn: Callable[[], Any]) -> Any:
    """The default :data:`Stage`: runs ``fn()``."""
    return fn()


def check_choices(arg: str, given: tuple, allowed: tuple, *, allow_empty: bool = False) -> None:
    """InputError naming ``arg`` when ``given`` has a value outside ``allowed`` (or is
    empty, unless ``allow_empty``)."""
    unknown = [v for v in given if v not in allowed]
    if unknown or (not given and not allow_empty):
        raise InputError(arg, f"unknown or empty {unknown}; choose from {list(allowed)}")


def parse_args(name: str, argv: list[str] | None) -> tuple[str, Path, list[str]]:
    """Returns ``(profile, workdir, overrides)``; overrides are the ``--config.*`` args."""
    parser = argparse.ArgumentParser(prog=f"python -m experiments.{name}")
    parser.add_argument("--profile", default="quick", help=f"one of {PROFILES} (default quick)")
    parser.add_argument("--workdir", default=f"runs/{name}", help="where results are written")
    args, rest = parser.parse_known_args(argv)
    return check_profile(args.profile), Path(args.workdir), rest


def prepare_workdir(config: Any, workdir: str | Path) -> Path:
    """Creates ``workdir`` and writes the resolved config as ``config.json``."""
    workdir = Path(workdir)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(str(workdir), f"cannot create the work directory ({e.strerror})") from None
    save_config(config, workdir / "config.json")
    return workdir


def write_outputs(workdir: Path, json_files: dict[str, Any], text_files: dict[str, str],
                  show: str) -> None:
    """Writes each ``{name: object}`` as JSON and each ``{name: text}`` into ``workdir``
    (every file atomically), then prints ``show`` and where the results are."""
    for name, obj in json_files.items():
        write_json(workdir / name, obj)
    for name, text in text_files.items():
        atomic_write_text(workdir / name, text)
    print(show)
    print(f"results in {workdir}")


def main(
    name: str,
    get_config: Callable[[str], Any],
    run: Callable[[Any, Path], dict],
    argv: list[str] | None = None,
) -> dict:
    """Parses the command line, runs the experiment, prints a one-line error on bad input.

    Called without ``argv`` (from a ``__main__`` block) it first asks XLA for one
    CPU device per core (for ``--config.devices``) and re-executes the command
    with the host tunables of :mod:`jtsgen.runtime`.
    """
    if argv is None:
        emulate_cpu_devices()
        reexec_with_host_tunables()
    try:
        profile, workdir, overrides = parse_args(name, argv)
        config = apply_overrides(get_config(profile), overrides)
        return run(config, workdir)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(2) from None
