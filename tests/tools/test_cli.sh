#!/usr/bin/env bash
# The loom program end to end: a short run of the default task, eval / predict / generate on
# it, and bad input to every command, each of which must print one error line (plus CLI11's
# pointer to --help) and exit with code 2 — never crash, never succeed.
# Usage: test_cli.sh PATH/TO/loom
set -uo pipefail
loom=$1
work=$(mktemp -d)
trap 'umount "$work/tmpfs" 2> /dev/null; rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

error_lines=2  # the error, and CLI11's pointer to --help
source "$(dirname "$0")/expect_error.sh"

run="$work/sentiment"
"$loom" train sentiment --run-dir "$run" --epochs 2 --hidden 16 > "$work/train.out" 2> "$work/train.err" ||
  fail "train sentiment failed: $(tail -3 "$work/train.err")"
for file in config.json vocab.txt best.safetensors last.safetensors metrics.jsonl metrics.json report.html; do
  [[ -s "$run/$file" ]] || fail "the run folder lacks $file"
done
grep -q '"test_accuracy_amazon"' "$run/metrics.json" || fail "metrics.json lacks the per-source accuracy"
"$loom" eval "$run" | grep -q '"test_accuracy"' || fail "eval printed no accuracy"
# eval recomputes the test figures only: the training figures and the learning curves stay.
for field in best_epoch best_val_accuracy train_seconds; do
  grep -q "\"$field\"" "$run/metrics.json" || fail "eval dropped $field from metrics.json"
done
grep -q "Learning curves" "$run/report.html" || fail "eval dropped the learning curves from report.html"
predicted=$("$loom" predict "$run" "A wonderful film." "Awful.")
[[ $(echo "$predicted" | wc -l) == 2 ]] || fail "predict printed '$predicted' for two texts"
echo "$predicted" | grep -Eq '^(positive|negative) \([01]\.[0-9]{2}\)' || fail "predict output malformed: $predicted"
"$loom" predict "$run" -- "-- a review that starts with dashes" | grep -q "	-- a review" ||
  fail "predict of a text after -- failed"

# The bag of words (spam's default model) trains, reloads and predicts through the same folder.
"$loom" train sentiment --model bag --run-dir "$work/bag" --epochs 2 > /dev/null 2> "$work/bag.err" ||
  fail "train sentiment --model bag failed: $(tail -3 "$work/bag.err")"
grep -q '"model": "bag"' "$work/bag/config.json" || fail "the bag run's config does not say model bag"
"$loom" predict "$work/bag" "A wonderful film." | grep -Eq '^(positive|negative) \([01]\.[0-9]{2}\)' ||
  fail "predict with the bag run failed"

# The run folder resumes with its own options (more epochs are allowed), and refuses others.
"$loom" train sentiment --run-dir "$run" --epochs 3 --hidden 16 > /dev/null 2> "$work/resume.err" ||
  fail "resuming with more epochs failed: $(tail -2 "$work/resume.err")"
grep -q "resuming" "$work/resume.err" || fail "the second run did not resume"
[[ $(wc -l < "$run/metrics.jsonl") == 3 ]] || fail "the resumed run does not have 3 epochs in metrics.jsonl"
expect_error 'holds a run trained with other options (hidden: 16 -> 32)' train sentiment --run-dir "$run" --hidden 32

# A failed write stops the run with one error line and code 2, the last checkpoint intact.
# expect_train_error PATTERN RUN_DIR ARGS...: `loom train sentiment --run-dir RUN_DIR ARGS...` must
# exit with code 2, its last line on stderr matching PATTERN, and leave RUN_DIR's last checkpoint
# and its 3-line metrics log as they were.
expect_train_error() {
  local pattern="$1" dir="$2" code=0
  shift 2
  cp "$dir/last.safetensors" "$work/last.before"
  "$loom" train sentiment --run-dir "$dir" "$@" > /dev/null 2> "$work/err" || code=$?
  [[ $code == 2 ]] || fail "train into $dir: exit code $code, expected 2"
  tail -1 "$work/err" | grep -q -- "$pattern" || fail "train into $dir: expected '$pattern', got: $(tail -1 "$work/err")"
  cmp -s "$dir/last.safetensors" "$work/last.before" || fail "train into $dir changed last.safetensors"
  [[ $(wc -l 2> /dev/null < "$dir/metrics.jsonl") == 3 || -d "$dir/metrics.jsonl" ]] ||
    fail "train into $dir left $(wc -l < "$dir/metrics.jsonl") lines in metrics.jsonl, expected 3"
  ls "$dir" | grep -q '\.tmp\.' && fail "train into $dir left a temporary file: $(ls "$dir")"
}
cp -r "$run" "$work/blocked" && rm "$work/blocked/metrics.jsonl" && mkdir "$work/blocked/metrics.jsonl"
expect_train_error "save: cannot rename onto '$work/blocked/metrics.jsonl': Is a directory" "$work/blocked" --epochs 5 --hidden 16
# A full disk: room for the small files a run rewrites (vocabulary, config, log), not for a checkpoint.
mkdir "$work/tmpfs"
room=$(( $(du -sk "$run" | cut -f1) + $(du -k "$run/vocab.txt" | cut -f1) + 64 ))
if mount -t tmpfs -o size=${room}k tmpfs "$work/tmpfs" 2> /dev/null; then
  cp -r "$run" "$work/tmpfs/run"
  expect_train_error "No space left on device" "$work/tmpfs/run" --epochs 5 --hidden 16
else
  echo "SKIP: the full-disk check needs to mount a tmpfs (mount -t tmpfs), which is not permitted here"
fi

# A reader never leaves a lock file in a folder it was pointed at.
mkdir "$work/not-a-run"
"$loom" eval "$work/not-a-run" > /dev/null 2>&1 && fail "eval of an empty folder succeeded"
[[ -e "$work/not-a-run/.lock" ]] && fail "eval of an empty folder left $work/not-a-run/.lock"
# One trainer per run folder: a second one, and a reader, stop at once naming the holder.
"$loom" train sentiment --model bag --run-dir "$work/locked" --epochs 1000 > /dev/null 2>&1 &
holder=$!
for _ in $(seq 300); do [[ -s "$work/locked/.lock" ]] && break; sleep 0.1; done
[[ $(cat "$work/locked/.lock" 2> /dev/null) == "$holder" ]] || fail "the trainer did not write its PID $holder in .lock"
expect_error "train: the run folder $work/locked is in use by process $holder (it holds $work/locked/.lock); wait for it to end or pass another --run-dir" \
  train sentiment --model bag --run-dir "$work/locked"
expect_error "predict: the run folder $work/locked is being trained by process $holder" predict "$work/locked" "Fine."
kill -9 "$holder"
wait "$holder" 2> /dev/null
# The kernel released the killed trainer's lock: the folder trains again.
"$loom" train sentiment --model bag --run-dir "$work/locked" --epochs 1 > /dev/null 2> "$work/relock.err" ||
  fail "train after the holder was killed failed: $(tail -1 "$work/relock.err")"

# Seeds are unsigned 64-bit integers; nothing else is read as one.
expect_error "--seed: expected an integer in \[0, 18446744073709551615\], got '-1'" train sentiment --run-dir "$work/seed" --seed -1
expect_error "got '18446744073709551616'" train sentiment --run-dir "$work/seed" --seed 18446744073709551616
expect_error "got '12abc'" train sentiment --run-dir "$work/seed" --seed 12abc
expect_error "--seed: expected an integer" generate "$run" --seed -5

# The task registry: `loom tasks` lists every task and where its data comes from.
"$loom" tasks > "$work/tasks.out" || fail "loom tasks failed"
for task in sentiment spam fashion sp500 charlm g2p caption translate handwriting speech; do
  grep -q "^$task " "$work/tasks.out" || fail "loom tasks does not list $task: $(cat "$work/tasks.out")"
done
grep -q "data: bash scripts/fetch_data.sh spam" "$work/tasks.out" || fail "loom tasks does not say how to fetch spam's data"
# A run's options come from --config (the keys of config.json), under the command line, over the
# task's defaults; --dump-config prints them and trains nothing.
for task in sentiment spam fashion charlm translate; do
  "$loom" train $task --run-dir "$work/dumped" --dump-config > "$work/$task.json" || fail "$task --dump-config failed"
  "$loom" train $task --config "$work/$task.json" --dump-config > "$work/$task.again.json" ||
    fail "$task --config of its own dump failed"
  cmp -s "$work/$task.json" "$work/$task.again.json" ||
    fail "$task: --dump-config fed back to --config gives another config: $(diff "$work/$task.json" "$work/$task.again.json")"
done
[[ -e "$work/dumped" ]] && fail "--dump-config created the run folder"
grep -q '"hidden": 128,' "$work/fashion.json" || fail "fashion's dump lacks its default of 128 hidden units"
grep -q '"model": "bag",' "$work/spam.json" || fail "spam's dump lacks its default model"
grep -q '"time_limit": 115.0,' "$work/translate.json" || fail "translate's dump lacks its default time limit"
"$loom" train fashion --config "$work/fashion.json" --hidden 17 --seed 9 --dump-config > "$work/override.json"
[[ $(diff "$work/fashion.json" "$work/override.json" | grep -c '^>') == 2 ]] &&
  grep -q '"hidden": 17,' "$work/override.json" && grep -q '"seed": 9,' "$work/override.json" ||
  fail "the command line did not override --hidden and --seed alone: $(diff "$work/fashion.json" "$work/override.json")"
echo '{"hidden": 40, "model": "cnn"}' > "$work/partial.json"  # a key the file gives is not the task's to set
"$loom" train fashion --config "$work/partial.json" --dump-config > "$work/partial.out"
grep -q '"hidden": 40,' "$work/partial.out" && grep -q '"epochs": 5,' "$work/partial.out" ||
  fail "a partial --config: expected the file's hidden 40 and cnn's 5 epochs, got: $(cat "$work/partial.out")"
# Training with --config: the run's config.json holds the file's values, and takes the place of the file.
echo '{"epochs": 1, "hidden": 8, "embedding_dim": 8, "seed": 18446744073709551615}' > "$work/small.json"
"$loom" train sentiment --config "$work/small.json" --run-dir "$work/configured" > /dev/null 2> "$work/configured.err" ||
  fail "train sentiment --config failed: $(tail -2 "$work/configured.err")"
grep -q '"hidden": 8,' "$work/configured/config.json" && grep -q '"seed": 18446744073709551615,' "$work/configured/config.json" ||
  fail "the run trained with --config does not hold the file's options: $(cat "$work/configured/config.json")"
[[ $(wc -l < "$work/configured/metrics.jsonl") == 1 ]] || fail "the run trained with --config did not train 1 epoch"
"$loom" train sentiment --config "$work/configured/config.json" --dump-config | cmp -s - "$work/configured/config.json" ||
  fail "a run's config.json fed to --config gives another config"
# Bad files: one line naming the file and what is wrong.
printf '{"hidden": 32, "hiden": 3}' > "$work/bad.json"
expect_error "$work/bad.json: unknown key 'hiden'; the keys are those of a run's config.json: task, data_dir" \
  train sentiment --config "$work/bad.json"
for bad in '"hidden": 0/bad.json: expected hidden in \[1, 8192\], got 0' \
  '"epochs": 1.5/bad.json: expected epochs to be an integer' \
  '"cell": "transformer"/bad.json: expected cell to be one of lstm, gru' \
  '"task": "nope"/bad.json: expected task to be one of sentiment' \
  '"bidirectional": "yes"/bad.json is malformed: .*type must be boolean'; do
  echo "{${bad%%/*}}" > "$work/bad.json"
  expect_error "${bad#*/}" train sentiment --config "$work/bad.json"
done
echo '[1, 2]' > "$work/bad.json"
expect_error "bad.json: expected an object of config.json's keys, got array" train sentiment --config "$work/bad.json"
expect_error "cannot open '$work/none.json'" train sentiment --config "$work/none.json"
# A run folder of a task the run's command does not serve, or of no task loom knows.
mkdir "$work/other" && echo '{"task": "charlm"}' > "$work/other/config.json"
expect_error "predict needs a sentiment or spam run; $work/other is a charlm run" predict "$work/other" "Fine."
expect_error "eval: a charlm run keeps its held-out figures, final, in $work/other/metrics.json" eval "$work/other"
expect_error "predict: the run folder '$work/nowhere' does not exist" predict "$work/nowhere" "Fine."
echo '{"task": "chess"}' > "$work/other/config.json"
expect_error "$work/other/config.json: expected task to be one of sentiment, spam" eval "$work/other"

expect_error "A subcommand is required"
expect_error "task is required" train
expect_error "not in {sentiment" train unknown-task
expect_error "--epochs" train sentiment --epochs 0
expect_error "--cell" train sentiment --cell transformer
expect_error "--model: spam expects rnn or bag, got 'cnn'" train spam --model cnn
expect_error "--model: fashion expects rows or cnn, got 'bag'" train fashion --model bag
expect_error "--model: charlm has no model choice, got 'rnn'" train charlm --model rnn
expect_error "The following argument was not expected" train sentiment --no-such-option
expect_error "spam.tsv is missing" train spam --data-dir "$work/nowhere" --run-dir "$work/spam"
# A bad label in the user's spam.tsv is one line naming the file and line (it once freed memory
# twice for -1, wrote far out of bounds for 10^9, and said only "stoll" for abc).
mkdir -p "$work/spam-data"
for label in -1 1000000000 -1000000000000 abc; do
  printf 'group\tlabel\ttext\nspam-1\t1\tbuy now\neasy-ham-2\t%s\tlunch at noon?\n' "$label" > "$work/spam-data/spam.tsv"
  expect_error "spam.tsv:3: expected an integer in \[0, 1\] in column 'label', got '$label'" \
    train spam --data-dir "$work/spam-data" --run-dir "$work/spam"
done
printf 'date,close\n2000-01-03,1455.22\n2000-01-04,0\n' > "$work/sp500-2000.csv"
expect_error "sp500-2000.csv:3: expected a close above 0, got 0" train sp500 --data-dir "$work" --run-dir "$work/sp500"
expect_error "neither a text file" train charlm --data-dir "$work/nowhere.txt" --run-dir "$work/charlm"
truncate -s 300M "$work/huge.txt"  # sparse: refused by its size before anything is read
expect_error "is too large: expected at most 268435456 bytes, got 314572800" train charlm --data-dir "$work/huge.txt" --run-dir "$work/charlm"
expect_error "Directory does not exist" eval "$work/nowhere"
expect_error "is not a run folder" eval "$work"
expect_error "text is required" predict "$run"
expect_error "generate needs a charlm run" generate "$run"
mkdir "$work/broken" && echo '{"task": "sentiment"' > "$work/broken/config.json"
expect_error "malformed" eval "$work/broken"

# Under an address-space limit (ulimit -v) too small for the job: exit 2 within seconds, the last
# line saying what was needed (OpenBLAS retried its 128 MiB buffer forever, at 80% CPU, silent).
# AddressSanitizer reserves terabytes of address space, so its build skips this.
if ldd "$loom" | grep -q libasan; then
  echo "SKIP: the address-space limits (AddressSanitizer build)"
else
  for limit_kib in 300000 150000; do
    code=0
    (ulimit -v $limit_kib && exec timeout 60 "$loom" train sentiment --run-dir "$work/limited" --epochs 1) \
      > /dev/null 2> "$work/limited.err" || code=$?
    [[ $code == 2 ]] || fail "ulimit -v $limit_kib: exit code $code, expected 2"
    tail -1 "$work/limited.err" | grep -q "MiB more address space .* the address-space limit (ulimit -v) is" ||
      fail "ulimit -v $limit_kib: expected a line on the missing address space, got: $(tail -2 "$work/limited.err")"
  done
fi

if ((failures)); then echo "$failures failure(s)"; exit 1; fi
echo "loom CLI: all checks passed"
