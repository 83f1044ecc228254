#!/usr/bin/env bash
# `loom recognize` end to end on tiny made-up data: a one-epoch handwriting run, good lines, then
# bad input (no images, a missing or unreadable file, a file that is not a binary PGM, a PGM of
# the wrong height or too narrow, a missing run folder, a run of another task), each of which
# must print one line and exit with code 2.
set -euo pipefail
loom="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source "$(dirname "$0")/tiny_data.sh"
tiny_images "$work/data" 24 12 mnist
"$loom" train handwriting --data-dir "$work/data" --run-dir "$work/run" --epochs 1 --hidden 8 --batch 8 \
  > /dev/null 2>&1 || { echo "training on the tiny lines failed"; exit 1; }
for file in config.json best.safetensors last.safetensors metrics.jsonl metrics.json report.html \
  examples/line-0.pgm examples/references.tsv; do
  test -s "$work/run/$file" || { echo "the run folder lacks $file"; exit 1; }
done
grep -q '"test_character_error_rate"' "$work/run/metrics.json" && grep -q '"test_line_accuracy"' "$work/run/metrics.json"
# lines of any width: the examples, and a wide blank one
{ printf 'P5\n600 28\n255\n'; head -c 16800 /dev/zero; } > "$work/wide.pgm"
"$loom" recognize "$work/run" "$work/run/examples/line-0.pgm" "$work/run/examples/line-1.pgm" "$work/wide.pgm" \
  > "$work/read.tsv" || { echo "recognize of good lines failed"; exit 1; }
[ "$(cut -f1 "$work/read.tsv" | tr '\n' ' ')" = "$work/run/examples/line-0.pgm $work/run/examples/line-1.pgm $work/wide.pgm " ] ||
  { echo "recognize printed other lines:"; cat "$work/read.tsv"; exit 1; }
grep -qvP '^\S+\t[0-9]*$' "$work/read.tsv" && { echo "recognize printed more than digits:"; cat "$work/read.tsv"; exit 1; }
"$loom" eval "$work/run" | grep -q '"test_character_error_rate"' || { echo "eval of a handwriting run failed"; exit 1; }

source "$(dirname "$0")/expect_error.sh"
expect_error 'expected one or more line images' recognize "$work/run"
expect_error "cannot read '$work/none.pgm'" recognize "$work/run" "$work/none.pgm"
printf 'P2\n56 28\n255\n' > "$work/text.pgm"
expect_error "not a binary PGM" recognize "$work/run" "$work/run/examples/line-1.pgm" "$work/text.pgm"
{ printf 'P5\n56 56\n255\n'; head -c 3136 /dev/zero; } > "$work/tall.pgm"
expect_error "is 56x56 pixels; expected a line 28 pixels high and 8 to 4096 wide" recognize "$work/run" "$work/tall.pgm"
{ printf 'P5\n4 28\n255\n'; head -c 112 /dev/zero; } > "$work/narrow.pgm"
expect_error "is 4x28 pixels; expected a line 28 pixels high" recognize "$work/run" "$work/narrow.pgm"
{ printf 'P5\n56 28\n255\n'; head -c 100 /dev/zero; } > "$work/short.pgm"
expect_error "is truncated" recognize "$work/run" "$work/short.pgm"
expect_error "run folder '$work/nowhere' does not exist" recognize "$work/nowhere" "$work/tall.pgm"
mkdir "$work/other" && echo '{"task": "sentiment"}' > "$work/other/config.json"
expect_error 'recognize needs a handwriting run' recognize "$work/other" "$work/tall.pgm"
echo "handwriting: all checks passed"
