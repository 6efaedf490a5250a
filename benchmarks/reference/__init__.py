"""PyTorch reference implementations used as baselines by the benchmarks.

torch is not a dependency of jtsgen. This package's ``__init__`` never imports
it; the submodules (``lstm_vae``, ``ddpm``, ``cgats``, ``rcgan``) import torch
at module level, so import them only after :func:`torch_available` returns True
(the benchmarks then report the reference as skipped).

All references run on CPU in float32; ``torch.set_num_threads`` is left to the
caller. Each builder seeds torch's global generator with its ``seed`` argument
so that weights and the fixed batch are reproducible.
"""

from __future__ import annotations

import importlib.util


def torch_available() -> bool:
    """True when ``import torch`` would find a torch installation."""
    return importlib.util.find_spec("torch") is not None
