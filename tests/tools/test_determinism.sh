#!/usr/bin/env bash
# Bit-exact reruns and resumes through `loom train`, one task of each family on tiny data: text
# (sentiment), char-LM (79 classes), image (fashion), seq2seq (g2p; translate over SentencePiece
# subwords with a GNMT stack, whose subword models must come out byte for byte too), caption and CTC (handwriting:
# fresh lines each epoch, so a resume must draw the same ones) and audio (speech: its training
# batches warped and masked at random, the draws seeded by epoch and batch). For each, three
# epochs (each long enough, 0.2-0.7 s here, for a kill to land inside the next) and then:
#  - a rerun under another heap layout (MALLOC_TOP_PAD_, MALLOC_PERTURB_, Loom's malloc tuning off,
#    extra blocks allocated before main by the heap_shift library) with stdout to a pipe instead of
#    a file ends with the same bits as the first run;
#  - a run stopped after epoch 1 and continued to the last epoch ends with the same bits;
#  - a run killed with SIGKILL in its second epoch, then started again, ends with the same bits.
# Same bits: best.safetensors byte for byte, every tensor and the trainer state of last.safetensors
# and metrics.jsonl (all but each epoch's wall-clock seconds), compared by compare_runs.py.
#   test_determinism.sh LOOM HEAP_SHIFT_LIBRARY
set -euo pipefail
loom="$1"
heap_shift="$2"
here="$(cd "$(dirname "$0")" && pwd)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "determinism: $*"; exit 1; }
# Under AddressSanitizer the preload is left out (ASan's runtime must be the first library loaded)
# and its allocator ignores the MALLOC_ settings: there the rerun checks output redirection,
# the environment and resuming; the Release build checks the heap layouts.
preload="$heap_shift"
if ldd "$loom" | grep -q libasan; then preload=""; fi
mismatches=0
same_bits() {  # same_bits RUN_A RUN_B WHAT: a mismatch is counted and the checks go on
  python3 "$here/compare_runs.py" "$1" "$2" && return 0
  echo "determinism: $3"
  mismatches=$((mismatches + 1))
  return 1
}

# ---- tiny data ----
cut -f2 "$here/../../data/sentiment/amazon.tsv" > "$work/text.txt"  # 1,000 sentences, 79 distinct characters
source "$here/tiny_data.sh"
tiny_dictionary "$work/tiny.dict"
tiny_images "$work/images" 3000 60
tiny_images "$work/mnist" 100 20 mnist
python3 "$here/../../scripts/data/speech_digits.py" "$work/speech" 60 8 8

families=(
  "text:sentiment --hidden 16"
  "char-LM:charlm --data-dir $work/text.txt --hidden 128 --embedding 16"
  "image:fashion --data-dir $work/images --hidden 64 --batch 20"
  "seq2seq:g2p --data-dir $work/tiny.dict --hidden 64 --embedding 16 --layers 1 --batch 4"
  "subwords:translate --data-dir $here/data/web-es-sample.tsv --subwords 400 --arch gnmt --layers 3 --hidden 48 --embedding 16 --batch 2 --beam 2"
  "caption:caption --data-dir $work/images --scenes 40 --hidden 8 --embedding 8 --batch 20"
  "ctc:handwriting --data-dir $work/mnist --hidden 8 --batch 16"
  "audio:speech --data-dir $work/speech --hidden 64 --batch 4"
)
epochs=3

for family in "${families[@]}"; do
  name=${family%%:*}
  read -r -a args <<< "${family#*:}"
  dir="$work/$name"
  mkdir -p "$dir"
  "$loom" train "${args[@]}" --epochs $epochs --run-dir "$dir/first" > "$dir/first.out" 2>&1 ||
    fail "$name: training failed: $(tail -3 "$dir/first.out")"

  MALLOC_TOP_PAD_=4096 MALLOC_PERTURB_=165 LOOM_MALLOC_TUNING=0 LD_PRELOAD="$preload" \
    "$loom" train "${args[@]}" --epochs $epochs --run-dir "$dir/other-heap" 2>&1 | cat > "$dir/other-heap.out"
  differs=0
  same_bits "$dir/first" "$dir/other-heap" "$name: another heap layout changed the run" || differs=1

  "$loom" train "${args[@]}" --epochs 1 --run-dir "$dir/resumed" > /dev/null 2>&1 || fail "$name: one epoch failed"
  "$loom" train "${args[@]}" --epochs $epochs --run-dir "$dir/resumed" > "$dir/resumed.out" 2>&1 ||
    fail "$name: continuing failed: $(tail -3 "$dir/resumed.out")"
  grep -q resuming "$dir/resumed.out" || fail "$name: the second run did not resume"
  same_bits "$dir/first" "$dir/resumed" "$name: stopping and resuming changed the run" || differs=1

  "$loom" train "${args[@]}" --epochs $epochs --run-dir "$dir/killed" > /dev/null 2>&1 &
  trainer=$!
  # last.safetensors appears (renamed into place whole) when epoch 1 ends
  until [ -e "$dir/killed/last.safetensors" ] || ! kill -0 $trainer 2> /dev/null; do sleep 0.01; done
  kill -KILL $trainer 2> /dev/null || true
  status=0
  { wait $trainer; } 2> /dev/null || status=$?
  [ $status -eq 137 ] || fail "$name: the run ended (status $status) before it could be killed in epoch 2"
  "$loom" train "${args[@]}" --epochs $epochs --run-dir "$dir/killed" > "$dir/killed.out" 2>&1 ||
    fail "$name: resuming the killed run failed: $(tail -3 "$dir/killed.out")"
  grep -q resuming "$dir/killed.out" || fail "$name: the run started again after the kill did not resume"
  same_bits "$dir/first" "$dir/killed" "$name: killing and resuming changed the run" && [ $differs -eq 0 ] &&
    echo "determinism: $name: the same bits under another heap layout, after a stop and after a SIGKILL"
done
[ $mismatches -eq 0 ] || fail "$mismatches comparisons found different bits"
