"""Suite-wide fixtures.

Each pytest-xdist worker is one long-lived process that runs many test files, and
every program XLA:CPU compiles keeps its own memory mappings. Kept for the whole
session they reach the kernel's ``vm.max_map_count`` (65,530 here; a worker was
measured at 55,000 late in the suite) and the next compilation aborts the worker.
Dropping JAX's compiled programs after each test file keeps a worker's mappings
near those of one file (three detector/augment files: 4,543 mappings without,
1,415 with); module-scoped fixtures keep their arrays.
"""

import gc

import jax
import pytest


@pytest.fixture(autouse=True, scope="module")
def _drop_compiled_programs():
    yield
    jax.clear_caches()
    gc.collect()
