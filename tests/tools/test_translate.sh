#!/usr/bin/env bash
# `loom translate` end to end on 48 real verse pairs (tests/tools/data/web-es-sample.tsv: Genesis
# and John train, I John validates, Galatians tests): a two-epoch translate run, eval, good
# sentences (an unknown word named on stderr), then bad input (an empty sentence, no sentence, a
# missing run folder, an incomplete one, a run of another task), each of which must print one
# line and exit with code 2. Then a GNMT run over SentencePiece subwords (3 layers a side): its
# run folder alone translates words it never saw, with no <unk>, and a corrupt subword model is
# a one-line error.
set -euo pipefail
loom="$1"
sample="$(dirname "$0")/data/web-es-sample.tsv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$loom" train translate --data-dir "$sample" --run-dir "$work/run" --epochs 2 --hidden 16 --embedding 16 --arch stacked --layers 1 --subwords 0 \
  --min-frequency 1 --beam 2 > "$work/train.out" 2> "$work/train.err" ||
  { echo "training on the sample verses failed:"; cat "$work/train.err"; exit 1; }
test -s "$work/run/report.html" && test -s "$work/run/english.txt" && test -s "$work/run/spanish.txt"
# The Spanish words' cased forms: one per word, "Dios" among them, each lower-cased its word.
[ "$(wc -l < "$work/run/spanish_case.txt")" -eq "$(wc -l < "$work/run/spanish.txt")" ] && grep -qx 'Dios' "$work/run/spanish_case.txt" ||
  { echo "expected spanish_case.txt beside spanish.txt, with Dios"; exit 1; }
grep -q '"test_verses": 6' "$work/run/metrics.json" || { echo "metrics.json lacks the 6 Galatians verses"; exit 1; }
grep -q '"test_bleu"' "$work/run/metrics.json" && grep -q '"train_seconds"' "$work/run/metrics.json"
grep -q '36 training pairs' "$work/train.err" || { echo "expected 36 training pairs:"; cat "$work/train.err"; exit 1; }
grep -q '<svg' "$work/run/report.html"
"$loom" eval "$work/run" | grep -q '"test_bleu_greedy"' || { echo "eval of a translate run failed"; exit 1; }
# A run resumes with more epochs and another time limit (neither is part of what the run is).
"$loom" train translate --data-dir "$sample" --run-dir "$work/run" --epochs 3 --hidden 16 --embedding 16 --arch stacked --layers 1 --subwords 0 \
  --min-frequency 1 --beam 2 --time-limit 30 > /dev/null 2> "$work/train.err" ||
  { echo "resuming with --epochs 3 --time-limit 30 failed:"; cat "$work/train.err"; exit 1; }
[ "$(wc -l < "$work/run/metrics.jsonl")" -eq 3 ] || { echo "expected 3 epochs in metrics.jsonl"; exit 1; }
# The plateau's figure every epoch: a loss per token, above 0 and not far above a uniform guess's
# ln(Spanish words + 4 specials) (a sum over tokens would be hundreds).
words=$(wc -l < "$work/run/spanish.txt")
[ "$(grep -o '"val_loss":[0-9.e+-]*' "$work/run/metrics.jsonl" | cut -d: -f2 |
     awk -v v="$words" '$1 > 0 && $1 < log(v + 4) + 2' | wc -l)" -eq 3 ] ||
  { echo "expected a val_loss per token in every epoch:"; cat "$work/run/metrics.jsonl"; exit 1; }

"$loom" translate "$work/run" "In the beginning God created the heavens." "And the zebra said, hello." \
  > "$work/out" 2> "$work/err" || { echo "translate of good sentences failed:"; cat "$work/err"; exit 1; }
[ "$(wc -l < "$work/out")" -eq 2 ] || { echo "expected two translations, got:"; cat "$work/out"; exit 1; }
# Truecased: each translation opens with a capital, as the references do (BLEU 13a is case-sensitive).
! LC_ALL=C grep -q '^[a-z]' "$work/out" || { echo "expected capitalised translations, got:"; cat "$work/out"; exit 1; }
[ "$(wc -l < "$work/err")" -eq 1 ] && grep -q 'read as <unk>: zebra hello$' "$work/err" ||
  { echo "expected one line naming the unknown words, got:"; cat "$work/err"; exit 1; }

source "$(dirname "$0")/expect_error.sh"
expect_error 'sentence 2 is empty' translate "$work/run" "God said." "   "
expect_error 'sentence 1 is empty' translate "$work/run" ""
expect_error 'expected one or more sentences' translate "$work/run"
expect_error "run folder '$work/nowhere' does not exist" translate "$work/nowhere" "God said."
mkdir "$work/incomplete" && cp "$work/run/config.json" "$work/incomplete/"
expect_error 'english.txt' translate "$work/incomplete" "God said."
cp "$work/run/english.txt" "$work/run/spanish.txt" "$work/incomplete/"
expect_error 'best.safetensors' translate "$work/incomplete" "God said."
sed '5s/.*/Oops/' "$work/run/spanish_case.txt" > "$work/incomplete/spanish_case.txt"
expect_error "spanish_case.txt:5: expected a casing of '[^']*', got 'Oops'" translate "$work/incomplete" "God said."
mkdir "$work/other" && echo '{"task": "g2p"}' > "$work/other/config.json"
expect_error 'translate needs a translate run' translate "$work/other" "God said."

"$loom" train translate --data-dir "$sample" --run-dir "$work/gnmt" --epochs 2 --hidden 16 --embedding 16 --arch gnmt \
  --layers 3 --subwords 400 --subword-type bpe --beam 3 --length-normalization gnmt --length-penalty 0.6 \
  --coverage-penalty 0.2 > /dev/null 2> "$work/gnmt.err" || { echo "the subword GNMT run failed:"; cat "$work/gnmt.err"; exit 1; }
test -s "$work/gnmt/english.model" && test -s "$work/gnmt/spanish.model" && test ! -e "$work/gnmt/english.txt"
grep -q '"test_chrf"' "$work/gnmt/metrics.json" && grep -q '"test_bleu_tokenized"' "$work/gnmt/metrics.json" ||
  { echo "metrics.json lacks chrF or the former BLEU"; exit 1; }
grep -q '"units": "bpe subwords"' "$work/gnmt/metrics.json" || { echo "metrics.json does not name the units"; exit 1; }
grep -q 'GNMT lstm x3' "$work/gnmt/report.html" || { echo "the report does not name the architecture"; exit 1; }
mkdir "$work/moved" && cp "$work/gnmt/config.json" "$work/gnmt/best.safetensors" "$work/gnmt/"*.model "$work/moved/"
"$loom" translate "$work/moved" "And the zebra said, hello 你好." > "$work/out" 2> "$work/err" ||
  { echo "translate with a subword run failed:"; cat "$work/err"; exit 1; }
[ "$(wc -l < "$work/out")" -eq 1 ] && [ ! -s "$work/err" ] || { echo "expected one line and no warning:"; cat "$work/out" "$work/err"; exit 1; }
if grep -q -e '<unk>' -e '⁇' "$work/out"; then echo "a subword translation shows <unk>:"; cat "$work/out"; exit 1; fi
printf 'not a model' > "$work/moved/spanish.model"
expect_error 'spanish.model is not a SentencePiece model' translate "$work/moved" "God said."
# the error follows the line counting the training pairs
error_lines=2 expect_error 'gnmt architecture needs at least 2 decoder layers' train translate --data-dir "$sample" \
  --run-dir "$work/shallow" --arch gnmt --layers 1 --subwords 0 --hidden 8 --embedding 8
echo "translate: all checks passed"
