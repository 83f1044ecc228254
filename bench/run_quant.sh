#!/usr/bin/env bash
# Float32 against int8 inference (loom::quantize_dynamic, torch's quantize_dynamic), Loom and
# PyTorch interleaved in one run, 1 and 2 threads, then the table (see bench_quant.cpp).
#   bash bench/run_quant.sh          # ~4 minutes
BENCH=quant exec bash "$(dirname "$0")/run_rnn.sh"
