"""Compiled training core: jitted/fused steps, fit loop, checkpoints, ensembles, sharding."""

from jtsgen.train.dp import (
    clip_per_example,
    epsilon,
    fit_dp,
    make_dp_step_fn,
    per_example_grads,
)
from jtsgen.train.ensemble import (
    fit_ensemble,
    init_replicas,
    make_ensemble_fused_steps,
    shard_replicas,
)
from jtsgen.train.loop import FitResult, TrainingDiverged, fit
from jtsgen.train.packed import PackedLayout, make_packed_train_step
from jtsgen.train.parallel import (
    data_mesh,
    for_one_device,
    local_mesh,
    make_data_parallel_fused_steps,
    make_data_parallel_step,
    make_sharded_train_step,
    per_device_rows,
    replicate,
    shard_batch,
    to_default_device,
)
from jtsgen.train.step import (
    adam,
    create_state,
    make_fused_fn,
    make_fused_steps,
    make_step_fn,
    make_train_step,
    sample_rows,
)

__all__ = [
    "adam",
    "clip_per_example",
    "epsilon",
    "fit_dp",
    "make_dp_step_fn",
    "per_example_grads",
    "FitResult",
    "PackedLayout",
    "TrainingDiverged",
    "create_state",
    "data_mesh",
    "fit",
    "fit_ensemble",
    "for_one_device",
    "init_replicas",
    "local_mesh",
    "make_ensemble_fused_steps",
    "make_fused_fn",
    "make_fused_steps",
    "make_packed_train_step",
    "make_data_parallel_fused_steps",
    "make_data_parallel_step",
    "make_sharded_train_step",
    "make_step_fn",
    "make_train_step",
    "per_device_rows",
    "replicate",
    "sample_rows",
    "shard_batch",
    "shard_replicas",
    "to_default_device",
]
