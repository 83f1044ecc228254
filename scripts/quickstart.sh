#!/usr/bin/env bash
# The main job from a fresh clone: install packages, build, and train the default model, a
# bidirectional LSTM sentiment classifier on the UCI sentences embedded in data/sentiment/
# (about 10 s of training on 2 cores). Prints the held-out accuracy per source and where the
# report is. Extra arguments go to `loom train sentiment` (see ./build/loom train --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/loom train sentiment "$@"
