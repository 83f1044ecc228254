#!/usr/bin/env bash
# Every task of the loom program trains one epoch on tiny data made here (or the 48 verse pairs of
# tests/tools/data), through the same parsers and training code as on the real data sets, which
# CI does not fetch; then refuses a bad file of its own, with one line naming the file and line
# and exit code 2. Under the ASan+UBSan build (.ci/run) this is what finds a task's memory errors.
# Every report's charts are checked in headless Chromium (report_charts.sh).
# Usage: test_tasks.sh PATH/TO/loom
set -euo pipefail
loom="$1"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
small=(--hidden 8 --batch 8)

train() {  # [epochs=N] train TASK DATA [OPTIONS...]: one epoch (or N), metrics.json written
  local task=$1 data=$2
  shift 2
  if ! "$loom" train "$task" --data-dir "$data" --run-dir "$work/runs/$task" --epochs "${epochs:-1}" "${small[@]}" "$@" \
    > "$work/$task.out" 2> "$work/$task.err"; then
    echo "train $task on tiny data failed:"
    tail -20 "$work/$task.err"
    exit 1
  fi
  test -s "$work/runs/$task/metrics.json" || { echo "train $task wrote no metrics.json"; exit 1; }
  echo "$task: ok"
}

python3 - "$work" <<'PY'
import math, os, sys
work = sys.argv[1]
words = "good bad fine awful great poor lovely dull nice broken".split()

def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)

# sentiment: 20 sentences per source, half positive.
for source in ("amazon", "imdb", "yelp"):
    write(f"{work}/sentiment/{source}.tsv",
          "".join(f"{i % 2}\tthe {source} item {i} was {words[i % 10]} and {words[(i + 3) % 10]}\n" for i in range(20)))
# spam: 40 mails over the training (-1) and test (-2) groups.
write(f"{work}/spam/spam.tsv", "group\tlabel\ttext\n" + "".join(
    f"{'spam' if i % 2 else 'easy-ham'}-{1 + i % 4 // 2}\t{i % 2}\tfrom: a{i}@example.com subject: "
    f"{'win money now' if i % 2 else 'lunch plans'} {words[i % 10]}\n" for i in range(40)))
# sp500: 80 trading days of a wavy price.
write(f"{work}/sp500/sp500-2000.csv", "date,open,high,low,close,volume\n" + "".join(
    f"2000-{1 + d // 28:02d}-{1 + d % 28:02d},1,1,1,{1400 + 50 * math.sin(d / 5):.2f},100\n" for d in range(80)))
# charlm: 3,000 characters of text, some of it beyond ASCII.
write(f"{work}/charlm.txt", "".join(f"The café {words[i % 10]} number {i}.\n" for i in range(120)))
PY

source "$(dirname "$0")/tiny_data.sh"
tiny_dictionary "$work/g2p.dict"
tiny_images "$work/fashion" 24 12  # fashion and caption
tiny_images "$work/mnist" 24 12 mnist
tiny_speech "$work/speech"

train sentiment "$work/sentiment" --embedding 8 --min-frequency 1
train spam "$work/spam" --embedding 8 --min-frequency 1
epochs=3 train fashion "$work/fashion"  # curves of more than one point
train sp500 "$work/sp500"
train charlm "$work/charlm.txt" --embedding 8
train g2p "$work/g2p.dict" --embedding 8 --layers 1
train translate "$(dirname "$0")/data/web-es-sample.tsv" --arch stacked --layers 1 --subwords 0 --embedding 8 --min-frequency 1 --beam 2
train caption "$work/fashion" --embedding 8 --scenes 40
train speech "$work/speech" --layers 1 --beam 2
train handwriting "$work/mnist"

# Every chart of every report draws (the fashion one's falling loss over more than one value).
if command -v chromium > /dev/null; then
  bash "$(dirname "$0")/report_charts.sh" "$work"/runs/*/report.html > "$work/charts" ||
    { cat "$work/charts"; echo "a report's charts did not render as their data say"; exit 1; }
  grep -q "fashion/report.html: ok loss (470x270): train_loss 3 points, 3 distinct, .*; best epoch" "$work/charts" ||
    { cat "$work/charts"; echo "the fashion report has no loss curve of 3 points"; exit 1; }
  echo "reports: $(grep -c ': ok ' "$work/charts") charts of $(ls "$work"/runs/*/report.html | wc -l) reports render"
elif [ "${CI:-}" = true ]; then
  echo "chromium is required under CI (scripts/setup.sh installs it)"
  exit 1
fi

# The same files with one bad field each.
python3 - "$work" "$(dirname "$0")/data/web-es-sample.tsv" <<'PY'
import os, shutil, struct, sys
work, verses = sys.argv[1], sys.argv[2]
bad = f"{work}/bad"
shutil.copytree(f"{work}/sentiment", f"{bad}/sentiment")
with open(f"{bad}/sentiment/imdb.tsv", "a") as f:
    f.write("2\ta third kind of review\n")
os.makedirs(f"{bad}/spam")
with open(f"{work}/spam/spam.tsv") as f, open(f"{bad}/spam/spam.tsv", "w") as out:
    out.write(f.read() + "spam-2\t-1\tthe label that freed memory twice\n")
shutil.copytree(f"{work}/fashion", f"{bad}/fashion")
with open(f"{bad}/fashion/t10k-labels-idx1-ubyte.gz", "wb") as f:  # raw, which the reader takes too
    f.write(struct.pack(">II", 2049, 12) + bytes([0] * 11 + [10]))
shutil.copytree(f"{work}/mnist", f"{bad}/handwriting")
with open(f"{bad}/handwriting/test-labels-idx1-ubyte", "r+b") as f:  # 12 labels; the 4th becomes 11
    f.seek(8 + 3)
    f.write(bytes([11]))
shutil.copytree(f"{work}/fashion", f"{bad}/caption")
with open(f"{bad}/caption/train-images-idx3-ubyte.gz", "wb") as f:
    f.write(struct.pack(">IIII", 2051, 24, 2, 2) + bytes(24 * 4))
os.makedirs(f"{bad}/sp500")
with open(f"{work}/sp500/sp500-2000.csv") as f, open(f"{bad}/sp500/sp500-2000.csv", "w") as out:
    out.write(f.read().replace(",1400.00,", ",nan,"))
with open(f"{work}/charlm.txt", "rb") as f, open(f"{bad}/charlm.txt", "wb") as out:
    out.write(f.read() + b"caf\xe9 in Latin-1\n")
with open(f"{work}/g2p.dict") as f, open(f"{bad}/g2p.dict", "w") as out:
    out.write(f.read() + "zebra Z IY 1 B R AH\n")
shutil.copytree(f"{work}/speech", f"{bad}/speech")
with open(f"{bad}/speech/train.tsv", "a") as f:
    f.write("train/00000.wav\t4x7\tespeak:en-us\n")
with open(verses) as f, open(f"{bad}/web-es.tsv", "w") as out:
    out.write(f.read() + "Genesis 2:1\tonly the English\n")
PY
source "$(dirname "$0")/expect_error.sh"
refuse() {  # refuse TASK DATA PATTERN: one error line matching PATTERN, exit code 2
  expect_error "$3" train "$1" --data-dir "$2" --run-dir "$work/bad-runs/$1" --epochs 1 "${small[@]}"
  echo "$1: bad data refused"
}
refuse sentiment "$work/bad/sentiment" "imdb.tsv:21: expected an integer in \[0, 1\] as the label, got '2'"
refuse spam "$work/bad/spam" "spam.tsv:42: expected an integer in \[0, 1\] in column 'label', got '-1'"
refuse fashion "$work/bad/fashion" "t10k-labels-idx1-ubyte.gz: expected labels in \[0, 10), got 10 at label 11"
refuse caption "$work/bad/caption" "train-images-idx3-ubyte.gz: expected images of 28x28 pixels, got 2x2"
refuse handwriting "$work/bad/handwriting" "test-labels-idx1-ubyte: expected labels in \[0, 10), got 11 at label 3"
refuse sp500 "$work/bad/sp500" "sp500-2000.csv:2: expected a finite number in column 'close', got 'nan'"
refuse charlm "$work/bad/charlm.txt" "charlm.txt:121: expected UTF-8 text, got the byte 0xe9 at column 4"
refuse g2p "$work/bad/g2p.dict" "g2p.dict:301: expected a phone such as AH or AH1, got '1'"
refuse speech "$work/bad/speech" "train.tsv:14: expected 1 to 32 of the symbols zo123456789 in column 'words', got '4x7'"
refuse translate "$work/bad/web-es.tsv" "web-es.tsv:49: expected reference, English and Spanish separated by tabs"
echo "tasks: all trained on tiny data and refused bad data"
