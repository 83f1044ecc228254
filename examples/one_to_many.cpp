// One-to-many: one input, a sequence out. From a start digit d the LSTM counts on:
// d, d+1, ..., d+5 (mod 10). The digit enters once, as the initial hidden state; the inputs of
// the six steps are zeros, so the sequence comes from the recurrence h_t = f_W(h_{t-1}, x_t) alone.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>

#include <memory>
#include <vector>

#include "example_training.h"

using loom::Tensor;

constexpr std::int64_t steps = 6;

struct CountOn : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(10, 32));
  std::shared_ptr<loom::LSTM> lstm = register_module("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(1, 32)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(32, 10));
  Tensor forward(const Tensor& start) {  // start (B) -> logits (B, steps, 10)
    Tensor h0 = embed->forward(start).unsqueeze(0);  // (1, B, 32): the one input
    return out->forward(lstm->forward(loom::zeros({start.size(0), steps, 1}), Tensor(), h0).output);
  }
};

// (B, steps): d, d+1, ... mod 10 for each start digit d.
Tensor counting_from(const Tensor& start) {
  std::vector<std::int64_t> targets;
  for (std::int64_t d : start.to_vector<std::int64_t>())
    for (std::int64_t s = 0; s < steps; ++s) targets.push_back((d + s) % 10);
  return loom::from_vector(targets, {start.size(0), steps});
}

int main() {
  loom::manual_seed(0);
  CountOn model;
  example::train(model, 300, [&] {
    Tensor start = loom::randint(0, 10, {64});
    return loom::cross_entropy(model.forward(start).reshape({-1, 10}), counting_from(start).reshape({-1}));
  });
  Tensor every_start = loom::arange(0, 10, 1, loom::Dtype::Int64);
  return example::finish("one-to-many (count on from d)",
                         example::accuracy(loom::argmax(model.forward(every_start), 2), counting_from(every_start)),
                         false, 0.95);
}
