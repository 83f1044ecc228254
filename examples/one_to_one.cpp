// One-to-one: a vanilla network, one input to one output, no recurrence: x -> x^2 on [-1, 1].
#include <loom/layers/linear.h>

#include <memory>

#include "example_training.h"

using loom::Tensor;

struct Square : loom::Module {
  std::shared_ptr<loom::Linear> hidden = register_module("hidden", std::make_shared<loom::Linear>(1, 32));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(32, 1));
  Tensor forward(const Tensor& x) { return out->forward(loom::tanh(hidden->forward(x))); }  // (B, 1) -> (B, 1)
};

int main() {
  loom::manual_seed(0);
  Square model;
  example::train(model, 500, [&] {
    Tensor x = loom::rand({64, 1}, -1, 1);  // (64, 1)
    return loom::mse_loss(model.forward(x), x * x);
  });
  Tensor x = loom::rand({256, 1}, -1, 1);
  return example::finish("one-to-one (MSE of x^2)", loom::mse_loss(model.forward(x), x * x).item(), true, 0.01);
}
