#!/usr/bin/env bash
# `loom transcribe` end to end on tiny data: a one-epoch speech run, WAV files a user makes
# (espeak-ng at 22,050 Hz, flite at 8,000 Hz, a stereo 44,100 Hz file), then bad input (no files,
# a missing file, a text file, 8-bit samples, a missing run folder, a run of another task), each
# of which must print one line and exit with code 2.
set -euo pipefail
loom="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source "$(dirname "$0")/tiny_data.sh"
tiny_speech "$work/data"
"$loom" train speech --data-dir "$work/data" --run-dir "$work/run" --epochs 1 --hidden 8 --layers 1 --batch 4 \
  > /dev/null 2>&1 || { echo "training on the tiny spoken digits failed"; exit 1; }
for file in config.json best.safetensors last.safetensors metrics.jsonl metrics.json report.html; do
  test -s "$work/run/$file" || { echo "the run folder lacks $file"; exit 1; }
done
grep -q '"test_digit_error_rate"' "$work/run/metrics.json" && grep -q '"test_string_accuracy"' "$work/run/metrics.json"
"$loom" eval "$work/run" | grep -q '"test_digit_error_rate"' || { echo "eval of a speech run failed"; exit 1; }

espeak-ng -w "$work/espeak.wav" "4 0 7"
flite -voice kal -t "nine one" -o "$work/flite.wav"
python3 - "$work/stereo.wav" "$work/u8.wav" <<'PY'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:  # 0.5 s of a tone in two channels at 44.1 kHz
    w.setnchannels(2), w.setsampwidth(2), w.setframerate(44100)
    w.writeframes(b"".join(struct.pack("<hh", int(8000 * math.sin(i / 20)), 0) for i in range(22050)))
with wave.open(sys.argv[2], "wb") as w:  # 8-bit samples
    w.setnchannels(1), w.setsampwidth(1), w.setframerate(16000)
    w.writeframes(bytes(128 for _ in range(1600)))
PY
out=$("$loom" transcribe "$work/run" "$work/espeak.wav" "$work/flite.wav" "$work/stereo.wav")
[ "$(echo "$out" | wc -l)" -eq 3 ] || { echo "transcribe printed no line per file: $out"; exit 1; }
echo "$out" | grep -q "^$work/flite.wav	" || { echo "transcribe did not name the file: $out"; exit 1; }

source "$(dirname "$0")/expect_error.sh"
expect_error 'expected one or more WAV files' transcribe "$work/run"
expect_error "cannot open '$work/none.wav' (no such file)" transcribe "$work/run" "$work/none.wav"
echo "not audio" > "$work/text.wav"
expect_error "cannot read '$work/text.wav' as audio" transcribe "$work/run" "$work/espeak.wav" "$work/text.wav"
expect_error "expected a 16-bit PCM WAV file" transcribe "$work/run" "$work/u8.wav"
expect_error "run folder '$work/nowhere' does not exist" transcribe "$work/nowhere" "$work/espeak.wav"
mkdir "$work/other" && echo '{"task": "sentiment"}' > "$work/other/config.json"
expect_error 'transcribe needs a speech run' transcribe "$work/other" "$work/espeak.wav"
echo "transcribe: all checks passed"
