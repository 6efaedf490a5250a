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
    check_profile,
    save_config,
)
from jtsgen.errors import InputError
from jtsgen.runtime import emulate_cpu_devices, reexec_with_host_tunables


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


def run_fixed_split(config: Any, workdir: str | Path, load_split: Callable,
                    note: Callable[[dict, Any, Any], str], *, dataset: str = "data",
                    info_key: str | None = None) -> dict:
    """A four-framework experiment whose runs share one split: ``load_split(config) ->
    (train, test, info)`` before the work directory is made, then every run
    (:func:`jtsgen.evaluate.framework_runner.run_all`) and the tables, their data note
    ``note(info, train, test)``; ``info`` is saved in ``results.json`` under ``info_key``."""
    from jtsgen.evaluate.framework_runner import run_all, write_tables

    train, test, info = load_split(config)
    workdir = prepare_workdir(config, workdir)
    runs = run_all(config, workdir, lambda r: (train, test))
    return write_tables(config, workdir, runs, note(info, train, test), dataset=dataset,
                        extra={info_key: info} if info_key else None)


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
