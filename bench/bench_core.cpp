// Microbenchmarks of Loom's core ops, one JSON line per case; bench_core.py prints the same
// lines for PyTorch and numpy, and run_core.sh interleaves the two and builds the table.
//
//   ./build/bench_core --threads 2
#include <loom/loom.h>
#include <loom/optim.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace {

// Median over 5 repetitions of the mean time per call, each repetition >= 0.1 s.
double median_ms(const std::function<void()>& run) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) run();  // warm up caches and the allocator
  int calls = 1;
  for (;;) {  // calls per repetition so that one repetition takes >= 0.1 s
    const auto start = clock::now();
    for (int i = 0; i < calls; ++i) run();
    if (std::chrono::duration<double>(clock::now() - start).count() >= 0.1) break;
    calls *= 2;
  }
  std::vector<double> per_call;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = clock::now();
    for (int i = 0; i < calls; ++i) run();
    per_call.push_back(std::chrono::duration<double, std::milli>(clock::now() - start).count() / calls);
  }
  std::sort(per_call.begin(), per_call.end());
  return per_call[per_call.size() / 2];
}

void report(const char* op, const std::string& shape, int threads, double ms, double flops) {
  std::printf("{\"impl\": \"loom\", \"op\": \"%s\", \"shape\": \"%s\", \"threads\": %d, "
              "\"ms\": %.5f, \"gflops\": %.2f}\n",
              op, shape.c_str(), threads, ms, flops > 0 ? flops / ms / 1e6 : 0.0);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--threads") == 0) threads = std::atoi(argv[i + 1]);
  loom::set_num_threads(threads);
  loom::NoGradGuard no_grad;  // forward-only cases; the backward cases enable grad themselves
  loom::manual_seed(0);

  // matmul: M x N x K, (M, K) @ (K, N), shapes from ../shared/anchors/ (sq*, LSTM steps)
  const std::vector<std::array<std::int64_t, 3>> gemms = {
      {128, 128, 128}, {512, 512, 512}, {1024, 1024, 1024}, {64, 2048, 512}, {32, 2048, 512}, {2048, 2048, 64}};
  for (const auto& [m, n, k] : gemms) {
    auto a = loom::randn({m, k});
    auto b = loom::randn({k, n});
    const double ms = median_ms([&] { loom::matmul(a, b); });
    report("matmul", std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k), threads,
           ms, 2.0 * m * n * k);
  }

  // elementwise chain sigmoid(a) * tanh(b) + a * b: the LSTM cell's gate arithmetic
  for (const auto& shape : std::vector<loom::Shape>{{64, 5000}, {32, 512}}) {
    auto a = loom::randn(shape);
    auto b = loom::randn(shape);
    const double ms = median_ms([&] { loom::sigmoid(a) * loom::tanh(b) + a * b; });
    report("elementwise_chain", loom::shape_str(shape), threads, ms, 0);
  }

  // The array layer's other work: broadcasting, selection, reductions, normalisation, copies of
  // views and batched products (the cases a change of the array layer must not slow down).
  {
    auto activations = loom::randn({32, 64, 512});  // (B, T, H) + bias (H): a layer's bias
    auto bias = loom::randn({512});
    report("broadcast_add", "(32, 64, 512) + (512,)", threads, median_ms([&] { activations + bias; }), 0);
    auto narrow = loom::randn({16384, 16});  // (N, 16) + (16): a small layer's bias, short runs
    auto narrow_bias = loom::randn({16});
    report("broadcast_add_narrow", "(16384, 16) + (16,)", threads, median_ms([&] { narrow + narrow_bias; }), 0);
    auto scores = loom::randn({64, 5000});  // (B, V) - (B, 1): a row's maximum taken out
    auto row_max = loom::randn({64, 1});
    report("broadcast_sub_rows", "(64, 5000) - (64, 1)", threads, median_ms([&] { scores - row_max; }), 0);
    // (B, V) 0/1 in float32: Loom has no bool dtype, so its mask moves 4 bytes an entry to torch's 1
    auto mask = loom::gt(loom::randn({64, 5000}), loom::zeros({1}));
    auto negated = -scores;
    report("where", "(64, 5000)", threads, median_ms([&] { loom::where(mask, scores, negated); }), 0);
    auto rows = loom::randn({4096, 512});  // (B*T, H): a bias's gradient sums the columns
    report("sum_columns", "(4096, 512) over axis 0", threads, median_ms([&] { loom::sum(rows, {0}); }), 0);
    report("sum_rows", "(4096, 512) over axis 1", threads, median_ms([&] { loom::sum(rows, {1}); }), 0);
    auto gamma = loom::randn({512});
    report("layer_norm", "(4096, 512)", threads, median_ms([&] { loom::layer_norm(rows, {512}, gamma, bias); }), 0);
    auto square = loom::randn({1024, 1024});
    report("transpose_contiguous", "(1024, 1024)", threads, median_ms([&] { square.t().contiguous(); }), 0);
    auto queries = loom::randn({32, 64, 256});  // (B, T, H) @ (B, H, S): attention scores
    auto keys_t = loom::randn({32, 256, 64});
    report("bmm", "(32, 64, 256) @ (32, 256, 64)", threads, median_ms([&] { loom::matmul(queries, keys_t); }),
           2.0 * 32 * 64 * 64 * 256);
  }

  // softmax over the last axis of (64, 5000)
  {
    auto x = loom::randn({64, 5000});
    const double ms = median_ms([&] { loom::softmax(x, 1); });
    report("softmax", "(64, 5000)", threads, ms, 0);
  }

  // forward + backward of cross_entropy over (64, 5000) logits: the vocabulary projection's loss
  {
    loom::set_grad_enabled(true);
    auto logits = loom::randn({64, 5000}).requires_grad_();
    auto targets = loom::randint(0, 5000, {64});
    const double ms = median_ms([&] {
      loom::cross_entropy(logits, targets).backward();
      logits.zero_grad();
    });
    report("cross_entropy_fwd_bwd", "(64, 5000)", threads, ms, 0);
    loom::set_grad_enabled(false);
  }

  // one optimizer step over a (4194304,) parameter with its gradient: memory-bound elementwise
  // updates, the share of a step that grows with the parameter count (seq2seq: 4.6 M)
  for (const std::string name : {"sgd", "sgd_momentum", "adam", "rmsprop", "adagrad"}) {
    loom::Tensor weight = loom::randn({4 << 20}).requires_grad_();
    weight.set_grad(loom::randn({4 << 20}));
    const loom::NamedTensors params{{"weight", weight}};
    std::unique_ptr<loom::optim::Optimizer> optimizer;
    if (name == "sgd") optimizer = std::make_unique<loom::optim::SGD>(params, loom::optim::SGDOptions(1e-6));
    if (name == "sgd_momentum")
      optimizer = std::make_unique<loom::optim::SGD>(params, loom::optim::SGDOptions(1e-6).momentum(0.9));
    if (name == "adam") optimizer = std::make_unique<loom::optim::Adam>(params, loom::optim::AdamOptions(1e-6));
    if (name == "rmsprop") optimizer = std::make_unique<loom::optim::RMSprop>(params, loom::optim::RMSpropOptions(1e-6));
    if (name == "adagrad") optimizer = std::make_unique<loom::optim::Adagrad>(params, loom::optim::AdagradOptions(1e-6));
    const double ms = median_ms([&] { optimizer->step(); });
    report(("step_" + name).c_str(), "(4194304,)", threads, ms, 0);
  }
  return 0;
}
