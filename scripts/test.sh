#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
bash scripts/setup.sh > /dev/null
BUILD_DIR=$BUILD_DIR bash scripts/build.sh > /dev/null
ctest --test-dir "$BUILD_DIR" --output-on-failure
