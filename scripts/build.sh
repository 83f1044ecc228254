#!/usr/bin/env bash
# Configures and builds Loom (Release) in build/, or in $BUILD_DIR with extra CMake arguments:
#   bash scripts/build.sh                                   # build/
#   BUILD_DIR=build-asan bash scripts/build.sh -DLOOM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja "$@"
cmake --build "$BUILD_DIR" -j "$(nproc)"
