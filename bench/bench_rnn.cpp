// Recurrent layers on the char-LM shapes of ../shared/anchors (E=64, B=32, T=64, H=128 and
// 512): fused and composed LSTM, GRU and RNN (tanh), inference forward and a training step
// (forward, backward of sum(output), gradients zeroed). One JSON line per case; bench_rnn.py
// prints the same for torch.nn.LSTM/GRU/RNN, onednn_rnn.cpp for oneDNN's LSTM and GRU, and
// run_rnn.sh interleaves them.
//
//   ./build/bench_rnn --threads 2
//   ./build/bench_rnn --threads 1 --layer gru --hidden 512 --fused   (one case, e.g. under perf)
#include <loom/layers/recurrent.h>
#include <loom/loom.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "median_ms.h"

int main(int argc, char** argv) {
  int threads = 1;
  std::string only_layer;          // all when empty
  std::int64_t only_hidden = 0;    // all when 0
  bool only_fused = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--threads") == 0 && has_value) threads = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--layer") == 0 && has_value) only_layer = argv[++i];
    else if (std::strcmp(argv[i], "--hidden") == 0 && has_value) only_hidden = std::atol(argv[++i]);
    else if (std::strcmp(argv[i], "--fused") == 0) only_fused = true;
    else {
      std::fprintf(stderr, "bench_rnn: unknown option %s (expected --threads N, --layer lstm|gru|rnn, --hidden H, --fused)\n", argv[i]);
      return 2;
    }
  }
  loom::set_num_threads(threads);
  const std::int64_t batch = 32, steps = 64, input = 64;
  for (const std::string cell : {"lstm", "gru", "rnn"})
    for (std::int64_t hidden : {128, 512})
      for (bool fused : {true, false}) {
        if ((!only_layer.empty() && cell != only_layer) || (only_hidden && hidden != only_hidden) || (only_fused && !fused))
          continue;
        loom::manual_seed(0);
        auto options = loom::RecurrentOptions(input, hidden).fused(fused);
        std::unique_ptr<loom::Recurrent> layer;
        if (cell == "lstm") layer = std::make_unique<loom::LSTM>(options);
        else if (cell == "gru") layer = std::make_unique<loom::GRU>(options);
        else layer = std::make_unique<loom::RNN>(options);
        const loom::Tensor x = loom::randn({batch, steps, input});  // (B, T, E)
        const double gates = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1;
        const double forward_flops = 2.0 * steps * batch * gates * hidden * (input + hidden);
        const int reps = hidden == 512 && !fused ? 5 : 15;
        const double infer_ms = median_ms([&] {
          loom::NoGradGuard no_grad;
          layer->forward(x);
        }, reps);
        const double train_ms = median_ms([&] {
          layer->zero_grad();
          loom::sum(layer->forward(x).output).backward();
        }, reps);
        const std::string name = cell + (fused ? "_fused" : "_composed");
        for (auto [mode, ms, flops] : {std::tuple{"infer", infer_ms, forward_flops},
                                       std::tuple{"train", train_ms, 3 * forward_flops}})
          std::printf("{\"impl\": \"loom\", \"layer\": \"%s\", \"hidden\": %ld, \"mode\": \"%s\", "
                      "\"threads\": %d, \"ms\": %.3f, \"gflops\": %.1f}\n",
                      name.c_str(), static_cast<long>(hidden), mode, threads, ms, flops / ms / 1e6);
        std::fflush(stdout);
      }
}
