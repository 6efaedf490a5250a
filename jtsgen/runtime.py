"""Host settings that make large jitted steps faster on a CPU (Linux, glibc).

XLA:CPU allocates each call's temporaries as one block (for the LSTM-VAE train
step at batch 256: 82 MB of saved per-step activations) with ``posix_memalign``
from its worker threads. A block that large is a fresh ``mmap`` on every call
and is unmapped when the call ends, so each call first-touches it one 4 KiB
page at a time: ~20,000 page faults, a third of the step
(``benchmarks.train_step``). With glibc's ``glibc.malloc.hugetlb=1`` tunable,
malloc asks for transparent huge pages for such blocks (~200 faults per step; the
step times are in ``docs/performance.md``). Small steps are unaffected (their blocks
stay in malloc's heap).

Tunables are read when a process starts, so a running process cannot switch
this on. :func:`reexec_with_host_tunables` re-executes the current command once
with the tunable added to ``GLIBC_TUNABLES``; jtsgen's command-line entry
points (``python -m experiments.*``, ``python -m benchmarks.*``) call it first.
From your own code: ``GLIBC_TUNABLES=glibc.malloc.hugetlb=1 python train.py``.
Set ``JTSGEN_HOST_TUNABLES=0`` to leave the environment alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# ``stage(name, fn)`` runs ``fn`` as the step called ``name`` of a pipeline (training a
# generator, fitting a detector); ``benchmarks.pipeline`` passes a stopwatch, everything
# else :func:`untimed`
Stage = Callable[[str, Callable[[], Any]], Any]


def untimed(name: str, fn: Callable[[], Any]) -> Any:
    """The default :data:`Stage`: runs ``fn()``."""
    return fn()


HUGEPAGE_TUNABLE = "glibc.malloc.hugetlb=1"
_THP_SETTING = Path("/sys/kernel/mm/transparent_hugepage/enabled")


def transparent_hugepages_available(setting_file: Path = _THP_SETTING) -> bool:
    """The kernel grants transparent huge pages on request (``always`` or ``madvise``)."""
    try:
        text = setting_file.read_text()
    except OSError:
        return False
    return "[never]" not in text and "[" in text


def tuned_environment(environ: Mapping[str, str]) -> dict[str, str] | None:
    """``environ`` with :data:`HUGEPAGE_TUNABLE` added to ``GLIBC_TUNABLES``, or
    None when nothing should change (already set, or switched off by
    ``JTSGEN_HOST_TUNABLES=0``)."""
    if environ.get("JTSGEN_HOST_TUNABLES", "1") == "0":
        return None
    current = environ.get("GLIBC_TUNABLES", "")
    if "glibc.malloc.hugetlb" in current:
        return None
    tunables = f"{current}:{HUGEPAGE_TUNABLE}" if current else HUGEPAGE_TUNABLE
    return {**environ, "GLIBC_TUNABLES": tunables}


def reexec_with_host_tunables() -> None:
    """Re-executes this command (``sys.orig_argv``) with the huge-page tunable.

    Does nothing off Linux, where transparent huge pages are off, when the
    tunable is already set (so it runs at most once) or when
    ``JTSGEN_HOST_TUNABLES=0``. Call it first thing in a ``__main__`` block,
    before JAX starts; never from library code (it replaces the process).
    """
    if not sys.platform.startswith("linux") or not transparent_hugepages_available():
        return
    env = tuned_environment(os.environ)
    argv = getattr(sys, "orig_argv", None)
    if env is None or not argv:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *argv[1:]], env)


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def emulate_cpu_devices() -> None:
    """Asks XLA for one CPU device per usable core, unless ``XLA_FLAGS`` sets a count.

    Only the CPU backend reads the flag (accelerators are unaffected); call it
    before JAX starts. One-device code still runs on the first device; training
    over several (``fit(..., mesh=local_mesh(n))``) then uses n cores.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in flags:
        count = f"--xla_force_host_platform_device_count={usable_cores()}"
        os.environ["XLA_FLAGS"] = f"{flags} {count}".strip()
