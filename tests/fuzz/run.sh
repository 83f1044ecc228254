#!/usr/bin/env bash
# Runs the fuzzers built in BUILD_DIR (default build-fuzz), two at a time:
#   bash tests/fuzz/run.sh --seconds 60            # CI: each target for 60 s
#   bash tests/fuzz/run.sh --runs 10000000         # a campaign: 10 million inputs per target
#   bash tests/fuzz/run.sh --runs 10000000 --seconds 3600   # ... or an hour, whichever comes first
#   bash tests/fuzz/run.sh --seconds 60 idx vocabulary
# Each starts from a copy of its seed corpus and past crash inputs (tests/fuzz/corpus/NAME and
# regressions/NAME; the copy grows, the repository's does not) and writes a crash input to OUT_DIR/NAME/. Prints one line per target
# (executions, executions per second, coverage, crashes) and fails when any target crashed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
BUILD_DIR=${BUILD_DIR:-build-fuzz}
OUT_DIR=${OUT_DIR:-$(mktemp -d)}
JOBS=${JOBS:-2}
limit=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) limit+=(-max_total_time="$2"); shift 2 ;;
    --runs) limit+=(-runs="$2"); shift 2 ;;
    *) break ;;
  esac
done
[ ${#limit[@]} -gt 0 ] || { echo "usage: $0 [--seconds N] [--runs N] [TARGET...]" >&2; exit 2; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors checkpoint metrics_log idx delimited vocabulary truecase run_config sentiment spam daily_closes bible
  cmudict labelled_idx utf8_text pgm wav spoken_digits subwords)

run_one() {
  local name=$1 out="$OUT_DIR/$1"
  mkdir -p "$out/corpus" "$out/crashes"
  cp "$here/corpus/$name/"* "$out/corpus/"
  # Inputs that once crashed a reader start every run too, under clang's full UBSan.
  [ ! -d "$here/regressions/$name" ] || cp "$here/regressions/$name/"* "$out/corpus/"
  # -rss_limit_mb: a reader that allocates what a header claims fails here as a crash.
  "$BUILD_DIR/fuzz_$name" "${limit[@]}" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/" "$out/corpus" > "$out/log" 2>&1 || true
  local executions speed coverage crashes
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/log" | grep -o '[0-9]*$' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$out/log" | grep -o '[0-9]*$' | tail -1)
  coverage=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$out/log" | tail -1)
  crashes=$(find "$out/crashes" -type f | wc -l)
  printf '%-12s %12s executions %8s exec/s  %s  corpus %s  crashes %s\n' "$name" "$executions" "$speed" \
    "$coverage" "$(find "$out/corpus" -type f | wc -l)" "$crashes"
  [ "$crashes" -eq 0 ] || { tail -40 "$out/log"; return 1; }
  [ "${executions:-0}" -gt 0 ] || { echo "fuzz_$name did not run:"; tail -20 "$out/log"; return 1; }
}

export -f run_one
export BUILD_DIR OUT_DIR here
export limit_args="${limit[*]}"
status=0
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'limit=($limit_args); run_one "$@"' _ {} || status=1
echo "fuzz logs, corpora and crash inputs: $OUT_DIR"
exit $status
