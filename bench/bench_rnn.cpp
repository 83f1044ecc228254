// Recurrent layers on the char-LM shapes of ../shared/anchors (E=64, B=32, T=64, H=128 and
// 512): fused and composed LSTM and GRU, inference forward and a training step (forward,
// backward of sum(output), gradients zeroed). One JSON line per case; bench_rnn.py prints the
// same for torch.nn.LSTM/GRU, and run_rnn.sh interleaves both.
//
//   ./build/bench_rnn --threads 2
#include <loom/layers/recurrent.h>
#include <loom/loom.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "timing.h"

int main(int argc, char** argv) {
  int threads = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
  loom::set_num_threads(threads);
  const std::int64_t batch = 32, steps = 64, input = 64;
  for (const char* cell : {"lstm", "gru"})
    for (std::int64_t hidden : {128, 512})
      for (bool fused : {true, false}) {
        loom::manual_seed(0);
        auto options = loom::RecurrentOptions(input, hidden).fused(fused);
        std::unique_ptr<loom::Recurrent> layer;
        if (std::string(cell) == "lstm") layer = std::make_unique<loom::LSTM>(options);
        else layer = std::make_unique<loom::GRU>(options);
        const loom::Tensor x = loom::randn({batch, steps, input});  // (B, T, E)
        const double gates = std::string(cell) == "lstm" ? 4 : 3;
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
        const std::string name = std::string(cell) + (fused ? "_fused" : "_composed");
        for (auto [mode, ms, flops] : {std::tuple{"infer", infer_ms, forward_flops},
                                       std::tuple{"train", train_ms, 3 * forward_flops}})
          std::printf("{\"impl\": \"loom\", \"layer\": \"%s\", \"hidden\": %ld, \"mode\": \"%s\", "
                      "\"threads\": %d, \"ms\": %.3f, \"gflops\": %.1f}\n",
                      name.c_str(), static_cast<long>(hidden), mode, threads, ms, flops / ms / 1e6);
        std::fflush(stdout);
      }
}
