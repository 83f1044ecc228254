#!/usr/bin/env bash
# Loom's array kernels against the same computation as xtensor expressions (bench_array_layer.cpp),
# one thread, then the table. Needs a Release build in build/ and an idle machine.
#   bash bench/run_array_layer.sh     # ~1 minute
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
OUT=${OUT:-bench/results/array-layer-$(date +%Y-%m-%d-%H%M).jsonl}
mkdir -p "$(dirname "$OUT")"
. bench/machine.sh
OPENBLAS_NUM_THREADS=1 "$BUILD/bench_array_layer" > "$OUT"
stamp_machine "$OUT"
/usr/bin/python3 - "$OUT" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print(f"{rows[0]['cpu']}; `{sys.argv[1]}`\n")
print("| op | shape | Loom ms | xtensor ms | xtensor / Loom |")
print("|---|---|---|---|---|")
for r in rows:
    print(f"| {r['op']} | {r['shape']} | {r['loom_ms']:.3f} | {r['xtensor_ms']:.3f} | {r['xtensor_over_loom']:.2f} |")
PY
