// Inference from several threads at once: a model loaded from a checkpoint, in eval mode and
// under no-grad, gives each of 4 concurrent threads exactly (bit for bit) the outputs one thread
// gets alone. CI also runs this file under ThreadSanitizer (a build of its own).
#include <loom/models/sequence_classifier.h>

#include <atomic>
#include <thread>
#include <vector>

#include "test_util.h"

using loom::Tensor;
using loom_test::TempDir;

namespace {

constexpr int kThreads = 4;

// Batch `index` of padded token ids (B, T) and lengths (B), different for every index.
std::pair<Tensor, Tensor> batch(int index) {
  loom::Generator generator(100 + static_cast<std::uint64_t>(index));
  const Tensor ids = loom::randint(1, 50, {6, 9}, &generator);                // (6, 9)
  const Tensor lengths = loom::randint(1, 10, {6}, &generator);               // (6) in [1, 9]
  return {ids, lengths};
}

// A classifier with weights saved to and loaded back from a checkpoint, as a service loads one.
std::shared_ptr<loom::models::SequenceClassifier> loaded_model(const std::string& cell, const std::string& pooling) {
  const auto options = loom::models::SequenceClassifierOptions(50, 3)
                           .embedding_dim(8)
                           .cell(cell)
                           .hidden_size(16)
                           .num_layers(2)
                           .bidirectional(true)
                           .dropout(0.3)
                           .pooling(pooling);
  TempDir dir;
  loom::manual_seed(7);
  loom::save(loom::models::SequenceClassifier(options), dir.path + "/model.safetensors");
  auto model = std::make_shared<loom::models::SequenceClassifier>(options);
  loom::load(*model, dir.path + "/model.safetensors");
  model->eval();
  return model;
}

}  // namespace

TEST_CASE("a loaded model used from 4 threads at once gives the outputs of one thread") {
  const int blas_threads = loom::get_num_threads();
  loom::set_num_threads(1);  // the callers are the parallelism, one BLAS thread each
  for (const auto& [cell, pooling] : {std::pair<std::string, std::string>{"lstm", "max"}, {"gru", "last"}}) {
    CAPTURE(cell);
    auto model = loaded_model(cell, pooling);
    std::vector<std::vector<float>> expected;  // one thread alone, batch by batch
    {
      loom::NoGradGuard no_grad;
      for (int i = 0; i < kThreads; ++i) {
        const auto [ids, lengths] = batch(i);
        expected.push_back(model->forward(ids, lengths).to_vector<float>());
      }
    }
    std::atomic<int> mismatches{0}, graphs{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&, t] {
        loom::NoGradGuard no_grad;  // thread-local: it does not switch the other threads' mode
        for (int round = 0; round < 3; ++round) {
          const int index = (t + round) % kThreads;  // each thread runs every batch in turn
          const auto [ids, lengths] = batch(index);
          const Tensor logits = model->forward(ids, lengths);  // (6, 3)
          if (logits.to_vector<float>() != expected[index]) ++mismatches;
          if (logits.requires_grad()) ++graphs;
        }
      });
    for (auto& thread : threads) thread.join();
    CHECK(mismatches == 0);
    CHECK(graphs == 0);
  }
  loom::set_num_threads(blas_threads);
}

TEST_CASE("no-grad mode is per thread: one thread's guard leaves another recording its graph") {
  Tensor w = loom::ones({2}).requires_grad_();
  std::atomic<bool> guarded{false}, done{false};
  std::thread inference([&] {
    loom::NoGradGuard no_grad;
    guarded = true;
    while (!done) std::this_thread::yield();
  });
  while (!guarded) std::this_thread::yield();
  const Tensor y = loom::sum(w * 3.0);  // this thread still records
  done = true;
  inference.join();
  CHECK(y.requires_grad());
  y.backward();
  CHECK(w.grad().to_vector<float>() == std::vector<float>{3, 3});
}
