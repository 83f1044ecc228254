#!/usr/bin/env bash
# The Trainer over MPI: 2 ranks train like 1 process with the whole batch, validation figures
# agree, only rank 0 writes, and a run resumes with a different number of ranks (2 -> 1, 1 -> 2).
#   trainer.sh CHECK_PROGRAM MPIRUN [MPIRUN OPTIONS...]
set -euo pipefail
check=$1
shift
mpirun=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/one" "$dir/two" "$dir/two-one" "$dir/one-two"

"$check" train "$dir/one" 3                                  # 1 process, 3 epochs
"${mpirun[@]}" -np 2 "$check" train "$dir/two" 3              # 2 ranks, 3 epochs
"${mpirun[@]}" -np 2 "$check" train "$dir/two-one" 2          # 2 ranks for 2 epochs,
"$check" train "$dir/two-one" 3                               # then resumed by 1 process
"$check" train "$dir/one-two" 1                               # 1 process for 1 epoch,
"${mpirun[@]}" -np 2 "$check" train "$dir/one-two" 3          # then resumed by 2 ranks

for run in two two-one one-two; do
  echo "$run against one process:"
  "$check" compare "$dir/$run/final.safetensors" "$dir/one/final.safetensors" 1e-5
done
# Every epoch logged once, by rank 0, with a validation loss averaged over both ranks' halves.
python3 - "$dir" <<'PY'
import json, sys
runs = {r: [json.loads(l) for l in open(f"{sys.argv[1]}/{r}/metrics.jsonl")] for r in ("one", "two", "two-one", "one-two")}
for name, log in runs.items():
    assert [e["epoch"] for e in log] == [1, 2, 3], (name, [e["epoch"] for e in log])
    for mine, ref in zip(log, runs["one"]):
        for key in ("val_loss", "train_loss"):
            a, b = mine["values"][key], ref["values"][key]
            assert abs(a - b) <= 1e-5 * abs(b), (name, key, a, b)
    assert all(e["values"]["val_examples"] == 40 for e in log), name
print("metrics.jsonl: 3 epochs each; train and validation losses agree within 1e-5")
PY
echo "distributed trainer: OK"
