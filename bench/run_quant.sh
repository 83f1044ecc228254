#!/usr/bin/env bash
# Float32 against int8 inference (loom::quantize_dynamic, torch's quantize_dynamic), Loom and
# PyTorch interleaved in one run, 1 and 2 threads, then the table. Needs a Release build in build/.
#   bash bench/run_quant.sh          # ~3 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-bench/results/quant-$(date +%Y-%m-%d).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
. bench/machine.sh
for round in $(seq "$ROUNDS"); do
  for threads in 1 2; do
    export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE
    "$BUILD/bench_quant" --threads "$threads" >> "$OUT"
    /usr/bin/python3 bench/bench_quant.py --threads "$threads" 2>/dev/null >> "$OUT"
  done
  echo "round $round done" >&2
done
stamp_machine "$OUT"
/usr/bin/python3 bench/summarize_quant.py "$OUT"
