// Synced many-to-many: one output per input step, as in tagging. At each step of a digit
// sequence, the LSTM names the largest digit so far.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>
#include <loom/layers/recurrent.h>

#include <memory>

#include "example_training.h"

using loom::Tensor;

struct RunningMax : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(10, 16));
  std::shared_ptr<loom::LSTM> lstm = register_module("lstm", std::make_shared<loom::LSTM>(loom::LSTMOptions(16, 32)));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(32, 10));
  Tensor forward(const Tensor& digits) { return out->forward(lstm->forward(embed->forward(digits)).output); }  // (B, T) -> (B, T, 10)
};

int main() {
  loom::manual_seed(0);
  RunningMax model;
  example::train(model, 400, [&] {
    Tensor digits = example::digits(64, 8);
    return loom::cross_entropy(model.forward(digits).reshape({-1, 10}), example::running_max(digits).reshape({-1}));
  });
  Tensor digits = example::digits(256, 8);
  return example::finish("synced many-to-many (running max)",
                         example::accuracy(loom::argmax(model.forward(digits), 2), example::running_max(digits)), false, 0.95);
}
