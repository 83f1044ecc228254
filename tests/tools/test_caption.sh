#!/usr/bin/env bash
# `loom caption` end to end on tiny made-up data: a one-epoch caption run, a good scene, then bad
# input (no images, a missing or unreadable file, a file that is not a binary PGM, a PGM of the
# wrong size, a missing run folder, a run of another task), each of which must print one line
# and exit with code 2.
set -euo pipefail
loom="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source "$(dirname "$0")/tiny_data.sh"
tiny_images "$work/data" 24 12
"$loom" train caption --data-dir "$work/data" --run-dir "$work/run" --epochs 1 --scenes 40 --hidden 8 \
  --embedding 8 --batch 20 > /dev/null 2>&1 || { echo "training on the tiny scenes failed"; exit 1; }
for file in config.json vocab.txt best.safetensors last.safetensors metrics.jsonl metrics.json report.html \
  examples/scene-0.pgm examples/references.tsv; do
  test -s "$work/run/$file" || { echo "the run folder lacks $file"; exit 1; }
done
grep -q '"test_bleu4"' "$work/run/metrics.json" && grep -q '"test_exact_match"' "$work/run/metrics.json"
"$loom" caption "$work/run" "$work/run/examples/scene-0.pgm" | grep -q "^$work/run/examples/scene-0.pgm	" ||
  { echo "caption of a good scene failed"; exit 1; }
"$loom" eval "$work/run" | grep -q '"test_bleu4"' || { echo "eval of a caption run failed"; exit 1; }

source "$(dirname "$0")/expect_error.sh"
expect_error 'expected one or more images' caption "$work/run"
expect_error "cannot read '$work/none.pgm'" caption "$work/run" "$work/none.pgm"
printf 'P2\n56 56\n255\n' > "$work/text.pgm"
expect_error "not a binary PGM" caption "$work/run" "$work/run/examples/scene-1.pgm" "$work/text.pgm"
{ printf 'P5\n28 28\n255\n'; head -c 784 /dev/zero; } > "$work/small.pgm"
expect_error "is 28x28 pixels; expected a 56x56 scene" caption "$work/run" "$work/small.pgm"
{ printf 'P5\n56 56\n255\n'; head -c 100 /dev/zero; } > "$work/short.pgm"
expect_error "is truncated" caption "$work/run" "$work/short.pgm"
expect_error "run folder '$work/nowhere' does not exist" caption "$work/nowhere" "$work/small.pgm"
mkdir "$work/other" && echo '{"task": "sentiment"}' > "$work/other/config.json"
expect_error 'caption needs a caption run' caption "$work/other" "$work/small.pgm"
expect_error 'freeze-encoder needs --encoder' train caption --data-dir "$work/data" --run-dir "$work/frozen" --freeze-encoder
expect_error 'needs a `loom train fashion --model cnn` run' train caption --data-dir "$work/data" \
  --run-dir "$work/wrong" --encoder "$work/run"
echo "caption: all checks passed"
