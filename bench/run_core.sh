#!/usr/bin/env bash
# Core microbenchmarks, Loom and PyTorch/numpy interleaved in one run (3 rounds x 1 and 2
# threads), then the markdown table. Needs a Release build in build/ (see README).
#   bash bench/run_core.sh            # ~8 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
OUT=${OUT:-bench/results/core-$(date +%Y-%m-%d-%H%M).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
. bench/machine.sh
# The C OpenBLAS reference from ../shared/anchors, on the same shapes in the same run.
GEMM_SHAPES="128x128x128:128:128:128 512x512x512:512:512:512 1024x1024x1024:1024:1024:1024
  64x2048x512:64:2048:512 32x2048x512:32:2048:512 2048x2048x64:2048:2048:64"
gemm_bench_ready "$BUILD" || true  # without the anchors, no C column
for round in $(seq "$ROUNDS"); do
  for threads in 1 2; do
    # One thread pool, passive waiting: see ../shared/anchors/README.md "Threading pitfalls".
    export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE
    "$BUILD/bench_core" --threads "$threads" >> "$OUT"
    /usr/bin/python3 bench/bench_core.py --threads "$threads" >> "$OUT"
    if [ -x "$BUILD/gemm_bench" ]; then
      # shellcheck disable=SC2086
      "$BUILD/gemm_bench" --threads "$threads" --reps 5 --min-time 0.1 $GEMM_SHAPES 2> /dev/null >> "$OUT"
    fi
  done
  sgemm_peak "$OUT" "$BUILD"
  echo "round $round done" >&2
done
stamp_machine "$OUT"
/usr/bin/python3 bench/summarize_core.py "$OUT"
