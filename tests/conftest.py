"""Suite-wide settings and fixtures.

Compiled programs are cached on disk (JAX's persistent compilation cache): many test
files compile the same programs (the smoke profiles' C-GATS, detectors and steps),
and so do the two xdist workers and the command-line tests' subprocesses, which
inherit the setting through the environment. One file measured 115 s with an empty
cache, 57 s with a filled one. The cache is keyed by JAX version and program, so a
stale entry is never used; set ``JTSGEN_TEST_JAX_CACHE`` to move it, or to an empty
string to switch it off.

Each pytest-xdist worker is one long-lived process that runs many test files, and
every program XLA:CPU compiles keeps its own memory mappings. Kept for the whole
session they reach the kernel's ``vm.max_map_count`` (65,530 here; a worker was
measured at 55,000 late in the suite) and the next compilation aborts the worker.
Dropping JAX's compiled programs after each test file keeps a worker's mappings
near those of one file (three detector/augment files: 4,543 mappings without,
1,415 with); module-scoped fixtures keep their arrays.
"""

import gc
import os
import tempfile

_CACHE = os.environ.get("JTSGEN_TEST_JAX_CACHE",
                        os.path.join(tempfile.gettempdir(), f"jtsgen-test-jax-cache-{os.getuid()}"))
if _CACHE:
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")

import jax  # noqa: E402  (reads the cache settings above when it starts)
import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_programs():
    yield
    jax.clear_caches()
    gc.collect()
