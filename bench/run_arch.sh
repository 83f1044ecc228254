#!/usr/bin/env bash
# The default (portable: AVX2 + FMA) build against a -DLOOM_NATIVE=ON one, Loom alone, the two
# interleaved (the order flipped every round): bench_workloads' six cases at 2 threads, 3 rounds
# of 15 timed steps, then bench_core once each. Prints native/portable per case (below 1: native
# is faster). bench/README.md, "Native and portable builds", has the method and the table.
#   cmake -S . -B build-native -G Ninja -DLOOM_NATIVE=ON -DLOOM_BUILD_TESTS=OFF
#   cmake --build build-native --target bench_core bench_workloads
#   bash bench/run_arch.sh                      # ~2 minutes quiet
set -euo pipefail
cd "$(dirname "$0")/.."
PORTABLE=${PORTABLE:-build}
NATIVE=${NATIVE:-build-native}
OUT=${OUT:-bench/results/arch-$(date +%Y-%m-%d-%H%M).jsonl}
mkdir -p "$(dirname "$OUT")"
: > "$OUT"
. bench/machine.sh  # the CPU, in every line: the figures hold for it alone
export OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE OPENBLAS_THREAD_TIMEOUT=4
cases=("charlm --hidden 512" "charlm --hidden 128" "charlm --hidden 512 --mode infer" "classifier"
       "seq2seq --attention dot" "caption")
for round in 1 2 3; do
  builds=("$PORTABLE" "$NATIVE")
  [ $((round % 2)) = 0 ] && builds=("$NATIVE" "$PORTABLE")
  for build in "${builds[@]}"; do
    for c in "${cases[@]}"; do
      # shellcheck disable=SC2086  # a case is several arguments
      line=$("$build/bench_workloads" --workload $c --threads 2 --steps 15)
      echo "{\"build\": \"$build\", \"round\": $round, \"load1\": $(cut -d' ' -f1 /proc/loadavg), \"r\": $line}" >> "$OUT"
    done
  done
done
for build in "$PORTABLE" "$NATIVE"; do
  "$build/bench_core" --threads 2 | sed "s|^|{\"build\": \"$build\", \"r\": |; s|\$|}|" >> "$OUT"
done
stamp_machine "$OUT"
/usr/bin/python3 - "$OUT" "$PORTABLE" "$NATIVE" <<'PY'
import collections, json, statistics, sys
out, portable, native = sys.argv[1:]
ms = collections.defaultdict(lambda: collections.defaultdict(list))
loads = []
for row in map(json.loads, open(out)):
    r = row["r"]
    if "workload" in r:
        name = f"{r['workload']} {r['mode']} H={r['hidden']}" + (" attention" if r["attention"] == "dot" else "")
        ms[name][row["build"]].append(r["ms_step_median"])
        loads.append(row["load1"])
    else:
        ms[f"{r['op']} {r['shape']}"][row["build"]].append(r["ms"])
print(f"| case | portable ms | native ms | native / portable |  (load {min(loads)}-{max(loads)})")
print("|---|---|---|---|")
for name, by_build in ms.items():
    p, n = statistics.median(by_build[portable]), statistics.median(by_build[native])
    print(f"| {name} | {p:.3f} | {n:.3f} | {n / p:.2f} |")
PY
