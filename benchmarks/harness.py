"""Shared utilities for the benchmark scripts: timing, machine facts, reports.

Every benchmark times the post-compilation steady state of a zero-argument
callable (the caller makes it block, e.g. by wrapping ``jax.block_until_ready``),
prints a table and writes one JSON report with the keys ``machine``,
``versions``, ``config``, ``rows`` and ``summary``.

This module never imports torch; :func:`versions` only asks for its version.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

from jtsgen.errors import InputError

PROFILES = ("tiny", "full")

# Interleaved timing of the full profiles (keyword arguments of time_interleaved): 10
# rounds, then more (up to 30) until every paired ratio's median is known to within
# ±10 % (95 % confidence, median_uncertainty).
FULL_INTERLEAVE = dict(rounds=10, max_rounds=30, target_uncertainty=0.1, min_round_s=0.3,
                       min_calls=1)


def _relative_spread(times_s: Sequence[float]) -> float:
    """Interquartile range divided by the median (0 for a single sample)."""
    if len(times_s) < 2:
        return 0.0
    q1, _, q3 = statistics.quantiles(times_s, n=4, method="inclusive")
    median = statistics.median(times_s)
    return (q3 - q1) / median if median > 0 else 0.0


def time_fn(
    fn: Callable[[], Any],
    *,
    min_repeats: int = 5,
    max_repeats: int = 50,
    target_rel_spread: float = 0.05,
    min_time_s: float = 0.2,
    warmup: int = 1,
    max_time_s: float | None = None,
) -> dict[str, float | int]:
    """Time the steady state of ``fn`` (a zero-argument callable that blocks).

    ``warmup`` calls run first and are not counted (they absorb compilation).
    Then ``fn`` is called repeatedly, one timing per call, until at least
    ``min_repeats`` calls and ``min_time_s`` seconds of measured time have
    passed *and* the relative spread (IQR / median) is at most
    ``target_rel_spread``; or until ``max_repeats`` calls (or, if given,
    ``max_time_s`` seconds of measured time) are reached, whichever is first.

    Returns:
      dict with ``median_s``, ``mean_s``, ``std_s`` (sample std, 0 for one
      call), ``min_s``, ``n`` (timed calls), ``spread`` (IQR / median) and
      ``converged`` (1 if the spread target was met, else 0).
    """
    if min_repeats < 1:
        raise InputError("min_repeats", f"must be >= 1, got {min_repeats}")
    if max_repeats < min_repeats:
        raise InputError(
            "max_repeats", f"must be >= min_repeats ({min_repeats}), got {max_repeats}"
        )
    if warmup < 0:
        raise InputError("warmup", f"must be >= 0, got {warmup}")
    for _ in range(warmup):
        fn()
    times_s: list[float] = []
    total_s = 0.0
    converged = False
    while len(times_s) < max_repeats:
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        times_s.append(elapsed)
        total_s += elapsed
        if len(times_s) >= min_repeats and total_s >= min_time_s:
            if _relative_spread(times_s) <= target_rel_spread:
                converged = True
                break
        if max_time_s is not None and total_s >= max_time_s and len(times_s) >= min_repeats:
            break
    n = len(times_s)
    return {
        "median_s": statistics.median(times_s),
        "mean_s": statistics.fmean(times_s),
        "std_s": statistics.stdev(times_s) if n > 1 else 0.0,
        "min_s": min(times_s),
        "n": n,
        "spread": _relative_spread(times_s),
        "converged": int(converged),
    }


def median_uncertainty(spread: float, n: int) -> float:
    """Approximate 95 % confidence half-width of a median, relative to the median, from
    the relative spread (IQR / median) of its ``n`` samples: ``1.58 * spread / sqrt(n)``
    (the notches of McGill, Tukey and Larsen's box plots)."""
    if n < 1:
        raise InputError("n", f"must be >= 1, got {n}")
    return 1.58 * spread / math.sqrt(n)


def time_interleaved(
    fns: Mapping[str, Callable[[], Any]],
    *,
    rounds: int = 8,
    max_rounds: int | None = None,
    target_uncertainty: float | None = None,
    spread_of: Callable[[Mapping[str, Sequence[float]]], float] | None = None,
    min_round_s: float = 0.2,
    min_calls: int = 2,
    warmup: int = 1,
) -> dict[str, dict[str, Any]]:
    """Time several callables in interleaved rounds, so they share the machine's moods.

    On a shared VM the speed of the whole machine drifts by tens of percent over
    seconds; timing A for ten seconds and then B for ten seconds puts that drift
    into the ratio A/B. Here each round times every ``fn`` in turn (at least
    ``min_calls`` calls and ``min_round_s`` seconds each), after ``warmup``
    untimed calls of each. A ratio is then taken per round (:func:`paired_ratio`)
    and summarised by its median over rounds.

    Repetition: ``rounds`` rounds at least. With ``target_uncertainty``, rounds
    are added (up to ``max_rounds``, default ``3 * rounds``) until the medians
    are known well enough: :func:`median_uncertainty` of ``spread_of(round
    medians)`` over the rounds so far is at most ``target_uncertainty``.
    ``spread_of`` gets each name's per-round medians; by default it is the
    largest relative spread (IQR / median) of any callable's round medians; a
    benchmark that reports ratios passes the spread of its paired ratios
    (:func:`paired_spread_of`), which the machine's drift moves less. (The
    spread itself does not shrink with more rounds, the uncertainty of the
    median does.)

    Returns, per name: ``median_s`` (over all timed calls), ``min_s``, ``n``,
    ``spread`` (IQR / median over all calls), ``round_median_s`` (one median
    per round, in round order), ``rounds`` and ``converged`` (whether the
    uncertainty target was met; None without a target).
    """
    max_rounds = rounds if target_uncertainty is None else (
        3 * rounds if max_rounds is None else max_rounds)
    if rounds < 1:
        raise InputError("rounds", f"must be >= 1, got {rounds}")
    if max_rounds < rounds:
        raise InputError("max_rounds", f"must be >= rounds ({rounds}), got {max_rounds}")
    if min_calls < 1:
        raise InputError("min_calls", f"must be >= 1, got {min_calls}")
    if warmup < 0:
        raise InputError("warmup", f"must be >= 0, got {warmup}")
    if spread_of is None:
        def spread_of(per_round):
            return max(_relative_spread(t) for t in per_round.values())
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    per_round: dict[str, list[float]] = {name: [] for name in fns}
    converged = None
    for done in range(1, max_rounds + 1):
        for name, fn in fns.items():
            this_round: list[float] = []
            while len(this_round) < min_calls or sum(this_round) < min_round_s:
                start = time.perf_counter()
                fn()
                this_round.append(time.perf_counter() - start)
            times[name] += this_round
            per_round[name].append(statistics.median(this_round))
        if target_uncertainty is not None and done >= rounds:
            converged = median_uncertainty(spread_of(per_round), done) <= target_uncertainty
            if converged:
                break
    return {name: {"median_s": statistics.median(t), "min_s": min(t), "n": len(t),
                   "spread": _relative_spread(t), "round_median_s": per_round[name],
                   "rounds": len(per_round[name]), "converged": converged}
            for name, t in times.items()}


def paired_ratio(
    reference_rounds: Sequence[Sequence[float]], rounds: Sequence[float]
) -> dict[str, float]:
    """Speed-up of ``rounds`` over the fastest reference, paired round by round.

    Args:
      reference_rounds: one sequence of per-round times per reference setting
        (e.g. torch at N threads and at one thread), all of ``len(rounds)``.
      rounds: per-round times of the measured variant.

    Returns:
      ``ratio`` (median over rounds of ``min_ref_r / t_r``), ``uncertainty``
      (:func:`median_uncertainty` of the ratios, relative) and ``spread``
      (IQR / median of the per-round ratios).
    """
    if not reference_rounds:
        raise InputError("reference_rounds", "needs at least one reference")
    for ref in reference_rounds:
        if len(ref) != len(rounds):
            raise InputError("reference_rounds",
                             f"has {len(ref)} rounds, the measured variant {len(rounds)}")
    ratios = [min(ref[r] for ref in reference_rounds) / t for r, t in enumerate(rounds)]
    spread = _relative_spread(ratios)
    return {"ratio": statistics.median(ratios), "spread": spread,
            "uncertainty": median_uncertainty(spread, len(ratios))}


def paired_spread_of(references: Sequence[Hashable], measured: Sequence[Hashable]
                     ) -> Callable[[Mapping[Hashable, Sequence[float]]], float] | None:
    """A ``spread_of`` for :func:`time_interleaved`: the largest spread of the measured
    callables' paired ratios against the references (:func:`paired_ratio`); None
    (the default, each callable's own spread) when either list is empty."""
    if not references or not measured:
        return None

    def spread(per_round: Mapping[Hashable, Sequence[float]]) -> float:
        refs = [per_round[name] for name in references]
        return max(paired_ratio(refs, per_round[name])["spread"] for name in measured)

    return spread


def time_compile(fn: Callable[[], Any]) -> float:
    """Wall-clock seconds of one call of ``fn``: call it first to time compilation."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 2**20, 2)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_info() -> dict[str, Any]:
    """Facts about the machine: platform, CPU model, cores, memory, load average (1, 5,
    15 min, when the report is written: a busy shared host shows here), JAX devices."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_usable": usable,
        "memory_gib": _memory_gib(),
        "load_average": os.getloadavg(),
        "glibc_tunables": os.environ.get("GLIBC_TUNABLES", ""),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
    }
    try:
        import jax

        info["jax_backend"] = jax.default_backend()
        info["jax_devices"] = [str(d) for d in jax.devices()]
    except Exception as e:  # report, never fail, on a broken install
        info["jax_backend"] = f"unavailable ({type(e).__name__})"
        info["jax_devices"] = []
    return info


def versions() -> dict[str, str]:
    """Versions of Python and the numerical stack; "not installed" where absent."""
    out = {"python": sys.version.split()[0]}
    for name in ("jax", "jaxlib", "flax", "optax", "numpy", "torch"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _to_jsonable(obj: Any) -> Any:
    """Fallback for json.dump: numpy scalars/arrays, paths, dataclass-like objects."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "__dataclass_fields__"):
        return {k: getattr(obj, k) for k in obj.__dataclass_fields__}
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_report(
    path: str | os.PathLike,
    *,
    config: Mapping[str, Any],
    rows: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Any],
) -> dict[str, Any]:
    """Write the benchmark report as JSON, atomically; returns the written dict.

    Parent directories are created. The file is written to a temporary file in
    the same directory and moved into place with ``os.replace``, so a reader
    never sees a half-written report. NaN/inf values are written as null.
    """
    path = Path(path)
    report = {
        "machine": machine_info(),
        "versions": versions(),
        "config": dict(config),
        "rows": [dict(r) for r in rows],
        "summary": dict(summary),
    }
    text = json.dumps(_finite(report), indent=2, default=_to_jsonable, allow_nan=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return report


def _finite(obj: Any) -> Any:
    """Replace non-finite floats by None, recursively (JSON has no NaN)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}"
    return "" if value is None else str(value)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Render ``rows`` as a Markdown table with the given column keys."""
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    out = [line(columns), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in cells]
    return "\n".join(out)


def print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Print ``rows`` as a Markdown table (missing keys print empty)."""
    print(format_table(rows, columns), flush=True)


def base_argparser(name: str) -> argparse.ArgumentParser:
    """Argument parser shared by benchmarks: ``--profile tiny|full`` and ``--out FILE``."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    parser.add_argument(
        "--profile", choices=PROFILES, default="full",
        help="problem sizes: tiny (seconds, for tests) or full (default)",
    )
    parser.add_argument(
        "--out", default=os.path.join("runs", "bench", f"{name}.json"),
        help="JSON report path (default: %(default)s)",
    )
    return parser


def interleaved_argparser(name: str) -> argparse.ArgumentParser:
    """:func:`base_argparser` plus ``--max-rounds N`` for the benchmarks timed by
    :func:`time_interleaved` (caps the rounds added for a precise median)."""
    parser = base_argparser(name)
    parser.add_argument("--max-rounds", type=int, default=None,
                        help="most interleaved rounds (default: the profile's)")
    return parser


def with_max_rounds(interleave: dict, max_rounds: int | None) -> dict:
    """``interleave`` (keyword arguments of :func:`time_interleaved`) with its round cap
    lowered to ``max_rounds`` (None: unchanged); the minimum drops with it."""
    if max_rounds is None:
        return interleave
    if max_rounds < 1:
        raise InputError("--max-rounds", f"must be >= 1, got {max_rounds}")
    return {**interleave, "max_rounds": max_rounds,
            "rounds": min(interleave["rounds"], max_rounds)}


def profile_with_max_rounds(profile: Any, max_rounds: int | None) -> Any:
    """A benchmark's profile dataclass with its ``interleave`` passed through
    :func:`with_max_rounds` (the ``--max-rounds`` of :func:`interleaved_argparser`)."""
    return dataclasses.replace(profile,
                               interleave=with_max_rounds(profile.interleave, max_rounds))
