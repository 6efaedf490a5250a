"""PyTorch reference implementations used as baselines by the benchmarks.

torch is not a dependency of jtsgen. This package's ``__init__`` never imports
it; the submodules (``lstm_vae``, ``ddpm``, ``cgats``, ``rcgan``) import torch
at module level, so import them only after :func:`torch_available` returns True
(the benchmarks then report the reference as skipped).

All references build their models and tensors on torch's default device, in
float32: the CPU, unless the benchmarks run them through :func:`on_device`
(``JTSGEN_BENCH_TORCH_DEVICE=cuda``, set by ``benchmarks/accelerator.sh`` on a
GPU host). ``torch.set_num_threads`` is left to the caller. Each builder seeds
torch's global generator with its ``seed`` argument so that weights and the
fixed batch are reproducible.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from typing import Any

from jtsgen.errors import InputError

DEVICE_VARIABLE = "JTSGEN_BENCH_TORCH_DEVICE"


def torch_available() -> bool:
    """True when ``import torch`` would find a torch installation."""
    return importlib.util.find_spec("torch") is not None


def torch_device() -> str | None:
    """The device the references run on, from ``JTSGEN_BENCH_TORCH_DEVICE`` (e.g.
    ``cuda``); None when unset (torch's default, the CPU)."""
    name = os.environ.get(DEVICE_VARIABLE, "").strip()
    if not name:
        return None
    import torch

    try:
        device = torch.device(name)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as err:
        raise InputError(DEVICE_VARIABLE, f"torch cannot use device {name!r}: {err}") from err
    return name


def on_device(make_step: Callable[[], Callable[[], Any]],
              device: str | None) -> Callable[[], Any]:
    """``make_step()`` built and every call of its step run with ``device`` as torch's
    default device (so the references' factory calls allocate there); on a CUDA
    device each call ends with ``torch.cuda.synchronize()``, so a timed call
    includes its kernels. ``device=None``: ``make_step()`` as it is."""
    if device is None:
        return make_step()
    import torch

    with torch.device(device):
        step = make_step()
    sync = torch.cuda.synchronize if torch.device(device).type == "cuda" else None

    def run() -> Any:
        with torch.device(device):
            out = step()
        if sync is not None:
            sync()
        return out

    return run
