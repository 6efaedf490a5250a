#!/usr/bin/env bash
# The accelerator figures in one command: the speed benchmarks on whatever device JAX
# finds first (a GPU or TPU host; on a CPU it runs as everywhere else).
#
#   bash benchmarks/accelerator.sh [OUT_DIR] [PROFILE]
#
# OUT_DIR: where the JSON reports and one log go (default: $OUT, else
# runs/bench/accelerator); PROFILE: full (default) or tiny (seconds: a check of this
# script). Needs the package importable (installed, or run from the repository root,
# which this script puts on PYTHONPATH) and, for the reference rows, torch (run on
# the GPU when torch sees one: JTSGEN_BENCH_TORCH_DEVICE=cuda, unless already set);
# PYTHON picks the interpreter (default python3). Each benchmark has its own time limit, so
# one that hangs or fails does not cost the others (9.2 minutes at most in all, inside
# a 10-minute call; --max-rounds caps the rounds added for a precise median to fit);
# the exit status is 1 if any did.
# Writes 7 files: devices.txt, train_step.json, diffusion_sampling.json,
# ensemble.json, scaling_worker.txt (the data-parallel programs timed over every
# local device, no CPU emulation), pipeline.json (the cheaper experiments' own
# stages, cold and warm) and log.txt with every benchmark's output.
set -uo pipefail
out=${1:-${OUT:-runs/bench/accelerator}}
profile=${2:-full}
py=${PYTHON:-python3}
mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
log="$out/log.txt"
: > "$log"
status=0

limited() {  # limited SECONDS NAME ARGS...: run, append to the log, note a failure
  local limit=$1 name=$2
  shift 2
  echo "== $name (limit ${limit} s)" | tee -a "$log"
  if ! timeout "$limit" "$@" >> "$log" 2>&1; then
    echo "== $name: failed or timed out" | tee -a "$log"
    status=1
  fi
}

limited 30 devices "$py" -c "import jax; print(jax.__version__, jax.devices())"
# the PyTorch references run on the GPU too where torch sees one
if [ -z "${JTSGEN_BENCH_TORCH_DEVICE:-}" ] && "$py" -c \
    "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" >> "$log" 2>&1; then
  export JTSGEN_BENCH_TORCH_DEVICE=cuda
fi
echo "torch device: ${JTSGEN_BENCH_TORCH_DEVICE:-cpu}" | tee -a "$log"
cp "$log" "$out/devices.txt"
limited 200 train_step "$py" -m benchmarks.train_step --profile "$profile" \
  --max-rounds 10 --out "$out/train_step.json"
limited 80 diffusion_sampling "$py" -m benchmarks.diffusion_sampling --profile "$profile" \
  --max-rounds 10 --out "$out/diffusion_sampling.json"
limited 110 ensemble "$py" -m benchmarks.ensemble --profile "$profile" \
  --max-rounds 8 --out "$out/ensemble.json"
limited 40 scaling "$py" -m benchmarks.scaling --worker --profile "$profile"
grep '^SCALING_RESULT' "$log" > "$out/scaling_worker.txt" || status=1
limited 90 pipeline "$py" -m benchmarks.pipeline --profile "$profile" \
  --experiments lstm_vae,vae_anomaly,detectors_sines --out "$out/pipeline.json"
tail -n 40 "$log"
exit $status
