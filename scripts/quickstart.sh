#!/usr/bin/env bash
# The main job from a fresh clone: install packages, build, train the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
./build/loom train sine "$@"
