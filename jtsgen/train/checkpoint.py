"""Orbax checkpointing of a training state, so a re-run resumes where it stopped.

A checkpoint holds the state pytree (step, params, optimiser state) and a small
JSON of the metrics history, so a resumed run reports its whole loss curve.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jtsgen.train.parallel import to_default_device


def manager(directory: str | os.PathLike, *, keep: int = 2) -> ocp.CheckpointManager:
    """A ``CheckpointManager`` over ``directory`` keeping the last ``keep`` checkpoints."""
    path = Path(directory).resolve()
    path.mkdir(parents=True, exist_ok=True)
    options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
    return ocp.CheckpointManager(
        path, options=options, item_names=("state", "history")
    )


def save(mngr: ocp.CheckpointManager, step: int, state: Any, history: dict) -> None:
    """Saves ``state`` and ``history`` (a JSON-able dict) at ``step`` and waits for it."""
    mngr.save(
        int(step),
        args=ocp.args.Composite(
            state=ocp.args.StandardSave(state), history=ocp.args.JsonSave(history)
        ),
        force=True,
    )
    mngr.wait_until_finished()


def restore_latest(mngr: ocp.CheckpointManager, like: Any) -> tuple[Any, dict] | None:
    """Restores the newest checkpoint into the structure of ``like``; None if there is none."""
    step = mngr.latest_step()
    if step is None:
        return None
    abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, like)
    out = mngr.restore(
        step,
        args=ocp.args.Composite(
            state=ocp.args.StandardRestore(abstract), history=ocp.args.JsonRestore()
        ),
    )
    # Through the host, so the restored arrays are placed like fresh ones and the
    # jitted step does not compile again for a different placement.
    return to_default_device(out.state), dict(out.history)
