// Float32 against int8 (loom::quantize_dynamic) inference on two workloads, one JSON line each:
//   charlm  bench_workloads' charlm infer shapes: ids (T=64, B=32) -> Embedding(96, 64) ->
//           LSTM(64, H=512) -> Linear(512, 96), the forward without a graph;
//   g2p     the g2p decoder's step loop at H=512: B=32 words decoded greedily for 20 steps, each
//           step Embedding(72 phones, 64) -> one LSTM step (state carried) -> Linear(512, 72) ->
//           argmax fed back. The attention of the real decoder stays float in both and is left out.
// bench_quant.py prints the same for torch (float and quantize_dynamic); run_quant.sh
// interleaves both. "max_rel_diff" is max |int8 - float| / max |float| over the logits.
//
//   ./build/bench_quant --threads 2
#include <loom/layers.h>
#include <loom/loom.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "median_ms.h"

namespace {

constexpr std::int64_t kHidden = 512, kEmbedding = 64;

struct CharLM : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(96, kEmbedding));
  std::shared_ptr<loom::LSTM> lstm = register_module(
      "lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(kEmbedding, kHidden).batch_first(false)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(kHidden, 96));
  loom::Tensor forward(const loom::Tensor& ids) {  // (T, B) -> (T, B, 96)
    return out->forward(lstm->forward(embed->forward(ids)).output);
  }
};

struct Decoder : loom::Module {
  static constexpr std::int64_t kPhones = 72, kSteps = 20;
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(kPhones, kEmbedding));
  std::shared_ptr<loom::LSTM> lstm = register_module("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(kEmbedding, kHidden)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(kHidden, kPhones));
  // Greedy decoding from `start` (B) and the state h, c (1, B, H): the logits of every step (S, B, V).
  loom::Tensor forward(const loom::Tensor& start, loom::Tensor h, loom::Tensor c) {
    loom::Tensor ids = start;
    std::vector<loom::Tensor> logits;
    for (std::int64_t step = 0; step < kSteps; ++step) {
      auto state = lstm->forward(embed->forward(ids.reshape({-1, 1})), loom::Tensor(), h, c);  // (B, 1, H)
      h = state.h_n;
      c = state.c_n;
      logits.push_back(out->forward(state.output.select(1, 0)));  // (B, V)
      ids = loom::argmax(logits.back(), 1);
    }
    return loom::stack(logits, 0);
  }
};

double max_relative_diff(const loom::Tensor& a, const loom::Tensor& b) {
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    diff = std::max(diff, std::abs(va[i] - vb[i]));
    scale = std::max(scale, std::abs(vb[i]));
  }
  return diff / scale;
}

void report(const char* workload, const char* precision, int threads, double ms, double rel_diff) {
  std::printf("{\"bench\": \"quant\", \"impl\": \"loom\", \"workload\": \"%s\", \"hidden\": %ld, "
              "\"precision\": \"%s\", \"threads\": %d, \"ms\": %.3f, \"max_rel_diff\": %.5f}\n",
              workload, static_cast<long>(kHidden), precision, threads, ms, rel_diff);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 15;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--reps") == 0) reps = std::atoi(argv[i + 1]);
  }
  loom::set_num_threads(threads);
  loom::NoGradGuard no_grad;
  loom::manual_seed(0);

  CharLM charlm;
  charlm.eval();
  const loom::Tensor text = loom::randint(0, 96, {64, 32});  // (T, B)
  const loom::Tensor charlm_float = charlm.forward(text);
  report("charlm", "float32", threads, median_ms([&] { charlm.forward(text); }, reps), 0.0);
  loom::quantize_dynamic(charlm);
  const loom::Tensor charlm_int8 = charlm.forward(text);
  report("charlm", "int8", threads, median_ms([&] { charlm.forward(text); }, reps),
         max_relative_diff(charlm_int8, charlm_float));

  Decoder decoder;
  decoder.eval();
  const std::int64_t batch = 32;
  const loom::Tensor start = loom::randint(0, Decoder::kPhones, {batch});  // (B)
  const loom::Tensor h0 = loom::randn({1, batch, kHidden}) * 0.5, c0 = loom::randn({1, batch, kHidden}) * 0.5;
  const loom::Tensor decoder_float = decoder.forward(start, h0, c0);
  report("g2p_decoder", "float32", threads, median_ms([&] { decoder.forward(start, h0, c0); }, reps), 0.0);
  loom::quantize_dynamic(decoder);
  const loom::Tensor decoder_int8 = decoder.forward(start, h0, c0);
  // Greedy choices may differ once a step's logits tie closely; the first step's logits compare.
  report("g2p_decoder", "int8", threads, median_ms([&] { decoder.forward(start, h0, c0); }, reps),
         max_relative_diff(decoder_int8.select(0, 0), decoder_float.select(0, 0)));
  return 0;
}
