#!/usr/bin/env bash
# Faults in an MPI job end it, with a message naming the rank, instead of hanging:
# a rank killed with SIGKILL, a rank that throws, and a rank that hangs (the watchdog).
# The last checkpoint stays intact: a single process resumes from it.
#   faults.sh CHECK_PROGRAM MPIRUN [MPIRUN OPTIONS...]
set -euo pipefail
check=$1
shift
mpirun=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
limit=60  # seconds any faulty job may take to end

# Runs a job in the background; sets `job` and `log`.
start_job() {
  local name=$1
  shift
  mkdir -p "$dir/$name"
  log="$dir/$name.log"
  "${mpirun[@]}" -np 2 "$check" train "$dir/$name" "$@" > "$log" 2>&1 &
  job=$!
}

# Waits for the job to end within $limit seconds; it must fail and its output name `pattern`.
expect_failure() {
  local pattern=$1 start=$SECONDS
  while kill -0 "$job" 2> /dev/null; do
    if ((SECONDS - start > limit)); then
      echo "FAIL: the job still runs after $limit s"; kill -9 "$job"; cat "$log"; exit 1
    fi
    sleep 0.2
  done
  if wait "$job"; then echo "FAIL: the job succeeded"; cat "$log"; exit 1; fi
  if ! grep -q "$pattern" "$log"; then echo "FAIL: no '$pattern' in the output:"; cat "$log"; exit 1; fi
  echo "ended after $((SECONDS - start)) s, saying: $(grep -m1 "$pattern" "$log")"
}

echo "== rank 1 killed (SIGKILL) while training"
start_job killed 100000
for _ in $(seq 600); do [ -s "$dir/killed/last.safetensors" ] && [ -s "$dir/killed/rank1.pid" ] && break; sleep 0.1; done
test -s "$dir/killed/last.safetensors"
kill -9 "$(cat "$dir/killed/rank1.pid")"
expect_failure "rank 1"
echo "== the last checkpoint is intact: one process resumes from it"
epochs=$(python3 -c "import json,sys; print(len(open(sys.argv[1]).readlines()))" "$dir/killed/metrics.jsonl")
"$check" train "$dir/killed" $((epochs + 1))
test -s "$dir/killed/final.safetensors"

echo "== rank 1 throws in epoch 2"
start_job throws 5 --throw-on-rank 1
expect_failure "rank 1 of 2: an injected failure"

echo "== rank 1 hangs in epoch 2: rank 0's watchdog ends the job"
export LOOM_DISTRIBUTED_TIMEOUT=3
start_job hangs 5 --hang-on-rank 1
expect_failure "rank 0 of 2: .* did not complete within 3 s"
echo "distributed faults: OK"
