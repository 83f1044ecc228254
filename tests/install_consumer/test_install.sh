#!/usr/bin/env bash
# A user's view of an installed Loom: `cmake --install` into a fresh prefix, then, from an empty
# folder, the installed `loom` (its data, its version, fetched data in the user's cache) and this
# folder's program built against the package twice, with CMake's find_package and with pkg-config.
# Usage: test_install.sh BUILD_DIR
set -euo pipefail
build=$1
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
top=$(mktemp -d)
trap 'rm -rf "$top"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

prefix="$top/prefix"
cmake --install "$build" --prefix "$prefix" > /dev/null
mkdir "$top/empty"
cd "$top/empty"
unset LOOM_DATA_DIR
export XDG_CACHE_HOME="$top/cache"
loom="$prefix/bin/loom"

# The program loads the installed libraries of every area, not the build folder's, with no
# LD_LIBRARY_PATH.
for area in core layers models data optim; do
  loaded=$(ldd "$loom" | sed -n "s/^\s*libloom_$area.so.0 => \(\S*\) .*/\1/p")
  [ -n "$loaded" ] && [ "$(realpath "$loaded")" = "$(realpath "$prefix/lib/libloom_$area.so.0")" ] ||
    fail "the installed loom loads '$loaded', not $prefix/lib/libloom_$area.so.0"
done

version=$(pkg-config --modversion "$prefix/lib/pkgconfig/loom.pc")
"$loom" --version | grep -Eq "^loom $version( \(commit [0-9a-f]+\))?$" ||
  fail "loom --version printed '$("$loom" --version)', expected loom $version"

# The main job, on the data installed in share/loom/data.
"$loom" train sentiment --epochs 1 --hidden 16 --run-dir run > train.out 2> train.err ||
  fail "the installed loom train sentiment failed: $(tail -3 train.err)"
[[ -s run/metrics.json && -s run/best.safetensors ]] || fail "the run folder lacks metrics.json or best.safetensors"
grep -q "\"data_dir\": \"$prefix/share/loom/data/sentiment\"" run/config.json ||
  fail "the run did not read the installed data: $(grep data_dir run/config.json)"

# A data set not fetched: the error names both places and the installed fetch script.
# expect_code2 NAME ARGS...: `loom ARGS...` must fail with exit code 2, its stderr in NAME.err.
expect_code2() {
  local name=$1 code=0
  shift
  "$loom" "$@" 2> "$name.err" || code=$?
  [ "$code" = 2 ] || fail "loom $*: exit code $code, expected 2"
}
expect_code2 sp500 train sp500 --run-dir sp500
grep -Fq "looked in $prefix/share/loom/data/cache/sp500 and $top/cache/loom/sp500); fetch it with \`bash $prefix/share/loom/fetch_data.sh sp500\`" sp500.err ||
  fail "train sp500 without its data said: $(cat sp500.err)"
# A fetched data set in the user's cache is found there (this one has a bad label, to stop early).
mkdir -p "$top/cache/loom/spam"
printf 'group\tlabel\ttext\nspam-1\t7\tbuy now\n' > "$top/cache/loom/spam/spam.tsv"
expect_code2 spam train spam --run-dir spam
grep -Fq "$top/cache/loom/spam/spam.tsv:2" spam.err || fail "train spam did not read the user's cache: $(cat spam.err)"

# A user's program, built with CMake (find_package(loom)) and with pkg-config.
cmake -S "$here" -B cmake-build -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build cmake-build > /dev/null
LD_LIBRARY_PATH="$prefix/lib" ./cmake-build/consumer | grep -Fx "installed loom $version: d/dx sum(x^2) = [2, 4, 6], 3 tokens ok" ||
  fail "the CMake-built consumer failed"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
# shellcheck disable=SC2046  # pkg-config's flags are separate words
c++ -std=c++17 -O1 "$here/main.cpp" -o consumer-pc $(pkg-config --cflags --libs loom) \
  -Wl,-rpath,"$(pkg-config --variable=libdir loom)"
./consumer-pc | grep -Fx "installed loom $version: d/dx sum(x^2) = [2, 4, 6], 3 tokens ok" ||
  fail "the pkg-config-built consumer failed"
echo "install test passed: $prefix"
