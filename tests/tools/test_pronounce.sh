# `loom pronounce` end to end on a tiny dictionary: a one-epoch g2p run, a good word (float and --int8), then bad
# input (unknown characters, an empty word, no words, a missing run folder, a run of another
# task), each of which must print one line and exit with code 2.
set -euo pipefail
loom="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source "$(dirname "$0")/tiny_data.sh"
tiny_dictionary "$work/tiny.dict"
"$loom" train g2p --data-dir "$work/tiny.dict" --run-dir "$work/run" --epochs 1 --hidden 8 --embedding 8 \
  --layers 1 > /dev/null 2>&1 || { echo "training on the tiny dictionary failed"; exit 1; }
test -s "$work/run/report.html" && test -s "$work/run/metrics.json" && test -s "$work/run/phones.txt"
"$loom" pronounce "$work/run" aba "Kal" | grep -q "^aba	" || { echo "pronounce of a good word failed"; exit 1; }
"$loom" eval "$work/run" | grep -q '"test_wer"' || { echo "eval of a g2p run failed"; exit 1; }
# --int8: the same commands on the quantized model; eval keeps the float figures in metrics.json.
"$loom" pronounce "$work/run" --int8 aba | grep -q "^aba	" || { echo "pronounce --int8 failed"; exit 1; }
"$loom" eval "$work/run" --int8 | grep -q '"int8": true' || { echo "eval --int8 failed"; exit 1; }
test -s "$work/run/metrics_int8.json" && ! grep -q '"int8"' "$work/run/metrics.json"

source "$(dirname "$0")/expect_error.sh"
expect_error 'characters the model has not seen: "9é"' pronounce "$work/run" aba "b9é"
expect_error 'word 2 is empty' pronounce "$work/run" aba ""
expect_error 'expected one or more words' pronounce "$work/run"
expect_error "run folder '$work/nowhere' does not exist" pronounce "$work/nowhere" aba
mkdir "$work/other" && echo '{"task": "sentiment"}' > "$work/other/config.json"
expect_error 'pronounce needs a g2p run' pronounce "$work/other" aba
echo "pronounce: all checks passed"
