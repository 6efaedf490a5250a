#!/usr/bin/env bash
# One four-framework experiment's runs as parallel processes on one host, then its tables.
#
#   bash experiments/run_parallel.sh EXPERIMENT N_RUNS WORKDIR [ARGS...]
#
# Process r (0 .. N_RUNS - 1) runs `python -m experiments.EXPERIMENT --workdir WORKDIR
# --config.n_runs=N_RUNS --config.only_runs=r ARGS...` (its output in WORKDIR/run{r}.log);
# when all have finished, the same command without only_runs reads the runs back and
# writes the tables. EXPERIMENT: cgats_kpi, frameworks_sines or frameworks_nab.
# RUN_LIMIT=SECONDS caps each process. On a GPU host JAX's memory preallocation is
# turned off so that the processes share the device. PYTHON picks the interpreter.
# Exit status: 1 if a process failed (the tables are then not written).
set -uo pipefail
if [ $# -lt 3 ]; then
  echo "usage: bash experiments/run_parallel.sh EXPERIMENT N_RUNS WORKDIR [ARGS...]" >&2
  exit 2
fi
name=$1 n=$2 workdir=$3
shift 3
py=${PYTHON:-python3}
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
mkdir -p "$workdir"
pids=()
for ((r = 0; r < n; r++)); do
  ${RUN_LIMIT:+timeout "$RUN_LIMIT"} "$py" -m "experiments.$name" --workdir "$workdir" \
    --config.n_runs="$n" --config.only_runs="$r" "$@" > "$workdir/run$r.log" 2>&1 &
  pids+=($!)
done
status=0
for r in "${!pids[@]}"; do
  if ! wait "${pids[$r]}"; then
    echo "run $r failed: see $workdir/run$r.log" >&2
    status=1
  fi
done
[ $status -eq 0 ] || exit 1
"$py" -m "experiments.$name" --workdir "$workdir" --config.n_runs="$n" "$@"
