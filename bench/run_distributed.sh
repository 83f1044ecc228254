#!/usr/bin/env bash
# Data-parallel scaling of the char-LM (H=512, B=32, T=64) on this machine: 1 process with 1 and
# 2 threads against 2 MPI ranks with 1 thread each, interleaved in rounds, then the table.
# 2 ranks run the same global batch (16 rows each) and, for weak scaling, 32 rows each; overlap
# on/off shows how much of the all-reduce backward hides (also with 2 LSTM layers). Needs a
# Release build with MPI in build/.
#   bash bench/run_distributed.sh          # ~4 minutes on a quiet machine
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-20}
OUT=${OUT:-bench/results/distributed-$(date +%Y-%m-%d-%H%M).jsonl}
MPIRUN=(mpirun --allow-run-as-root --oversubscribe --bind-to none)  # unbound, as the 1-process runs
bench="$BUILD/bench_distributed"
test -x "$bench" || { echo "run_distributed: $bench is missing (configure with MPI: apt-get install libopenmpi-dev)"; exit 2; }
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
. bench/machine.sh
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
for round in $(seq "$ROUNDS"); do
  OPENBLAS_NUM_THREADS=1 "$bench" --threads 1 --batch 32 --steps "$STEPS" >> "$OUT"
  OPENBLAS_NUM_THREADS=2 "$bench" --threads 2 --batch 32 --steps "$STEPS" >> "$OUT"
  for overlap in on off; do
    for batch in 16 32; do
      OPENBLAS_NUM_THREADS=1 "${MPIRUN[@]}" -np 2 -x OPENBLAS_NUM_THREADS "$bench" --threads 1 --batch "$batch" \
        --steps "$STEPS" --overlap "$overlap" >> "$OUT"
    done
    # Two LSTM layers: the upper layer's gradients (half the bytes) can travel during the lower one's backward.
    OPENBLAS_NUM_THREADS=1 "${MPIRUN[@]}" -np 2 -x OPENBLAS_NUM_THREADS "$bench" --threads 1 --batch 16 --layers 2 \
      --steps "$STEPS" --overlap "$overlap" >> "$OUT"
  done
  OPENBLAS_NUM_THREADS=1 "$bench" --threads 1 --batch 32 --layers 2 --steps "$STEPS" >> "$OUT"
  sgemm_peak "$OUT" "$BUILD"
  echo "round $round done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
stamp_machine "$OUT"
/usr/bin/python3 bench/summarize_distributed.py "$OUT"
