#!/usr/bin/env bash
# Loom against PyTorch on the four workloads of ../shared/anchors, interleaved in one run (each
# case runs Loom then torch, the order flipping every round), every run in its own process so the
# peak RSS is per workload. Then the T = 32..512 sweep of (a) H=512. Prints one JSON line per
# workload and the markdown table (bench/summarize_compare.py); raw lines go to $OUT.
#   bash scripts/setup.sh && bash scripts/build.sh && bash bench/compare.sh     # ~8 minutes
# ROUNDS (3), STEPS (timed steps per run, 21), SWEEP=0 to skip the T sweep, BUILD (build).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-21}
SWEEP=${SWEEP:-1}
OUT=${OUT:-bench/results/compare-$(date +%Y-%m-%d-%H%M).jsonl}
PYTHON=/usr/bin/python3  # Debian's interpreter: the one with python3-torch
[ -x "$BUILD/bench_workloads" ] || { echo "compare.sh: $BUILD/bench_workloads missing: run scripts/build.sh" >&2; exit 2; }
"$PYTHON" -c "import torch" || { echo "compare.sh: $PYTHON cannot import torch: run scripts/setup.sh" >&2; exit 2; }
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
# The machine and its SGEMM peak go into every line (bench/machine.sh): the peak is measured
# once per round, so GFLOP/s can be read against what the cores give today (a VM's clock moves:
# 2048^3 ran at 102 GFLOP/s a core for the anchors and 83 on 2026-11-28).
. bench/machine.sh

# One case: "label threads flags..."; the 1-thread H=512 run gives the 1 -> 2 thread speed-up.
cases=(
  "charlm_h512_train 2 --workload charlm --hidden 512"
  "charlm_h512_train 1 --workload charlm --hidden 512"
  "charlm_h128_train 2 --workload charlm --hidden 128"
  "charlm_h512_infer 2 --workload charlm --hidden 512 --mode infer"
  "charlm_h128_infer 2 --workload charlm --hidden 128 --mode infer"
  "classifier_train 2 --workload classifier"
  "seq2seq_train 2 --workload seq2seq"
  "seq2seq_dot_train 2 --workload seq2seq --attention dot"
  "caption_train 2 --workload caption"
)

# run IMPL LABEL THREADS STEPS FLAGS...: one process, its JSON line tagged with the case label.
run() {
  local impl=$1 label=$2 threads=$3 steps=$4
  shift 4
  # OPENBLAS_THREAD_TIMEOUT=4: OpenBLAS's idle workers sleep at once instead of spinning on
  # sched_yield for ~0.1 s (2^28 cycles) after every call (bench/README.md, "Threads"). It helps
  # torch, whose GEMMs run on OpenBLAS's pool; Loom keeps OpenBLAS at one thread. Both get it.
  export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE \
    OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
  local line
  if [ "$impl" = loom ]; then
    line=$("$BUILD/bench_workloads" "$@" --threads "$threads" --steps "$steps")
  else
    line=$("$PYTHON" bench/bench_workloads.py "$@" --threads "$threads" --steps "$steps")
  fi
  echo "{\"case\": \"$label\", \"load1\": $(cut -d' ' -f1 /proc/loadavg), ${line#\{}" >> "$OUT"
}

echo "compare.sh: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), writing $OUT" >&2
for round in $(seq "$ROUNDS"); do
  for spec in "${cases[@]}"; do
    read -r label threads flags <<< "$spec"
    if [ $((round % 2)) -eq 1 ]; then order="loom torch"; else order="torch loom"; fi
    for impl in $order; do
      # shellcheck disable=SC2086  # flags are words on purpose
      run "$impl" "$label" "$threads" "$STEPS" $flags
    done
  done
  sgemm_peak "$OUT" "$BUILD"
  echo "round $round/$ROUNDS done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
if [ "$SWEEP" = 1 ]; then
  for seq_len in 32 64 128 256 512; do
    for impl in loom torch; do
      run "$impl" "charlm_h512_T${seq_len}_train" 2 7 --workload charlm --hidden 512 --seq-len "$seq_len" --warmup 2
    done
  done
  echo "T sweep done" >&2
fi
stamp_machine "$OUT"
"$PYTHON" bench/summarize_compare.py "$OUT"
