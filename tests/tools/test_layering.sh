#!/usr/bin/env bash
# The layering of the areas, core <- layers <- models and core <- data <- optim, checked on every
# public header and source: each Loom header an area includes must belong to that area or to one
# below it. The build enforces the same for what is compiled (an area's sources see only the
# headers of the areas its library links); this also covers headers no source of the area
# includes yet, and the umbrella <loom/loom.h>, which no area may include.
# It first shows that it catches wrong-way includes planted in a scratch tree.
# Usage: test_layering.sh SOURCE_DIR
set -euo pipefail
source_dir=$1

declare -A include_dir=([core]=framework/include [layers]=layers/include [models]=models/include
  [data]=data/include [optim]=optim/include [distributed]=optim/distributed/include)
declare -A allowed=([core]="core" [layers]="core layers" [models]="core layers models"
  [data]="core data" [optim]="core data optim" [distributed]="core data optim distributed")
declare -A area_dir=([core]=framework [layers]=layers [models]=models [data]=data [optim]=optim
  [distributed]=optim/distributed)

owner() {  # the area whose public headers hold loom/NAME.h ("" when none does)
  local header=$1 area
  [ "$header" = loom/version.h ] && { echo core; return; }  # generated into the build folder
  for area in "${!include_dir[@]}"; do
    [ -f "$source_dir/${include_dir[$area]}/$header" ] && { echo "$area"; return; }
  done
  echo ""
}

check_tree() {  # check_tree ROOT: prints each wrong-way include; sets failures and checked
  local root=$1 area file header found
  failures=0
  checked=0
  for area in "${!area_dir[@]}"; do
    while IFS= read -r file; do
      while IFS= read -r header; do
        checked=$((checked + 1))
        found=$(owner "$header")
        if [ -z "$found" ]; then
          echo "${file#"$root"/}: includes $header, which no area's headers hold (the umbrella loom/loom.h is for users)"
          failures=$((failures + 1))
        elif [[ " ${allowed[$area]} " != *" $found "* ]]; then
          echo "${file#"$root"/}: $area includes $header of $found (allowed: ${allowed[$area]})"
          failures=$((failures + 1))
        fi
      done < <(sed -nE 's@^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"](loom/[^">]+)[">].*@\1@p' "$file")
    done < <(find "$root/${area_dir[$area]}" \( -path "$root/${area_dir[$area]}/include/*" -o -path "$root/${area_dir[$area]}/src/*" \) \
               \( -name '*.h' -o -name '*.cpp' \) 2>/dev/null)
  done
}

# A scratch tree with three wrong-way includes and one right one: all three must be reported.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/data/src" "$scratch/framework/include/loom" "$scratch/layers/src"
printf '#include "loom/optim/trainer.h"\n#include "loom/tensor.h"\n' > "$scratch/data/src/wrong.cpp"
printf '#include <loom/loom.h>\n' > "$scratch/framework/include/loom/wrong.h"
printf '#include "loom/models/seq2seq.h"\n' > "$scratch/layers/src/wrong.cpp"
check_tree "$scratch" > "$scratch/report.txt" || true
if [ "$failures" != 3 ] || [ "$checked" != 4 ]; then
  echo "the check missed planted wrong-way includes ($failures of 3 reported, $checked of 4 includes seen):"
  cat "$scratch/report.txt"
  exit 1
fi

check_tree "$source_dir"
[ "$checked" -gt 100 ] || { echo "only $checked includes found under $source_dir: wrong folder?"; exit 1; }
[ "$failures" = 0 ] || exit 1
echo "layering: $checked includes checked, all downward"
