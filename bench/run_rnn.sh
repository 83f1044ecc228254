#!/usr/bin/env bash
# Recurrent layers: Loom (fused and composed), PyTorch and, when Debian's libdnnl-dev is
# installed, oneDNN's fused LSTM and GRU (bench/onednn_rnn.cpp), interleaved in one run, 1 and 2
# threads, then the table. Needs a Release build in build/.
#   bash bench/run_rnn.sh          # ~8 minutes
# run_quant.sh runs the int8 benches through it (BENCH=quant: bench_quant, bench_quant.py,
# summarize_quant.py; the oneDNN rows belong to BENCH=rnn only).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${BENCH:-rnn}
BUILD=${BUILD:-build}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-bench/results/$BENCH-$(date +%Y-%m-%d-%H%M).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
. bench/machine.sh

# The oneDNN anchor: built once (again only when its source is newer), skipped without oneDNN.
onednn=""
if [ "$BENCH" = rnn ] && [ -f /usr/include/oneapi/dnnl/dnnl.hpp ]; then
  { [ "$BUILD/onednn_rnn" -nt bench/onednn_rnn.cpp ] && [ "$BUILD/onednn_rnn" -nt bench/median_ms.h ]; } ||
    g++ -O2 -std=c++17 -fopenmp -o "$BUILD/onednn_rnn" bench/onednn_rnn.cpp -ldnnl
  onednn="$BUILD/onednn_rnn"
elif [ "$BENCH" = rnn ]; then
  echo "run_rnn: oneDNN's headers are missing, so its rows are skipped (apt-get install -y libdnnl-dev)" >&2
fi

for round in $(seq "$ROUNDS"); do
  for threads in 1 2; do
    export OPENBLAS_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OMP_WAIT_POLICY=PASSIVE
    "$BUILD/bench_$BENCH" --threads "$threads" >> "$OUT"
    /usr/bin/python3 "bench/bench_$BENCH.py" --threads "$threads" >> "$OUT"
    # oneDNN at its fastest: libgomp's default wait policy (spinning first; PASSIVE made it
    # 1.2-3.5x slower in ../shared/anchors/onednn) on its one OpenMP pool
    [ -z "$onednn" ] || env -u OMP_WAIT_POLICY "$onednn" >> "$OUT"
  done
  sgemm_peak "$OUT" "$BUILD"
  echo "round $round done" >&2
done
stamp_machine "$OUT"
/usr/bin/python3 "bench/summarize_$BENCH.py" "$OUT"
