#!/usr/bin/env bash
# The loom program end to end: a short run of the default task, eval / predict / generate on
# it, and bad input to every command, each of which must print one error line (plus CLI11's
# pointer to --help) and exit with code 2 — never crash, never succeed.
# Usage: test_cli.sh PATH/TO/loom
set -uo pipefail
loom=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
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

if ((failures)); then echo "$failures failure(s)"; exit 1; fi
echo "loom CLI: all checks passed"
