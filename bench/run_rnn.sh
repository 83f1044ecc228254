#!/usr/bin/env bash
# Recurrent layers, Loom (fused and composed) and PyTorch interleaved in one run, 1 and 2
# threads, then the table. Needs a Release build in build/. run_quant.sh runs the int8 benches
# through it (BENCH=quant: bench_quant, bench_quant.py, summarize_quant.py).
#   bash bench/run_rnn.sh          # ~6 minutes
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-rnn}
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-bench/results/$BENCH-$(date +%Y-%m-%d).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
. bench/machine.sh
for round in $(seq "$ROUNDS"); do
  for threads in 1 2; do
    export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE
    "$BUILD/bench_$BENCH" --threads "$threads" >> "$OUT"
    /usr/bin/python3 "bench/bench_$BENCH.py" --threads "$threads" >> "$OUT"
  done
  sgemm_peak "$OUT" "$BUILD"
  echo "round $round done" >&2
done
stamp_machine "$OUT"
/usr/bin/python3 "bench/summarize_$BENCH.py" "$OUT"
