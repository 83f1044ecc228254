// A custom recurrent layer written from ops: the minimal gated unit (MGU; Zhou et al., 2016),
//   f_t = sigmoid(x_t W_f^T + h_{t-1} U_f^T + b_f)
//   n_t = tanh(x_t W_n^T + (f_t * h_{t-1}) U_n^T + b_n)
//   h_t = (1 - f_t) * h_{t-1} + f_t * n_t
// No backward is written: Loom differentiates the ops. This program checks that gradient, for the
// input and every parameter, against central differences in float64 (as every Loom layer is
// checked), then trains the layer on the running-max task of synced_many_to_many.cpp.
#include <loom/layers/embedding.h>
#include <loom/layers/linear.h>

#include <cmath>
#include <cstdio>
#include <memory>
#include <vector>

#include "example_training.h"

using loom::Tensor;

class MinimalGatedUnit : public loom::Module {
 public:
  MinimalGatedUnit(std::int64_t input_size, std::int64_t hidden_size) : hidden_size_(hidden_size) {
    // U(-1/sqrt(H), 1/sqrt(H)), PyTorch's initialisation of its recurrent layers.
    const double bound = 1.0 / std::sqrt(static_cast<double>(hidden_size));
    auto uniform = [&](const loom::Shape& shape) { return loom::rand(shape, -bound, bound); };
    w_f_ = register_parameter("w_f", uniform({hidden_size, input_size}));
    u_f_ = register_parameter("u_f", uniform({hidden_size, hidden_size}));
    b_f_ = register_parameter("b_f", uniform({hidden_size}));
    w_n_ = register_parameter("w_n", uniform({hidden_size, input_size}));
    u_n_ = register_parameter("u_n", uniform({hidden_size, hidden_size}));
    b_n_ = register_parameter("b_n", uniform({hidden_size}));
  }

  // x (B, T, F) -> hidden states (B, T, H); the same weights at every step.
  Tensor forward(const Tensor& x) const {
    Tensor h = loom::zeros({x.size(0), hidden_size_}, x.dtype());  // (B, H)
    std::vector<Tensor> states;
    for (std::int64_t t = 0; t < x.size(1); ++t) {
      const Tensor x_t = x.select(1, t);  // (B, F)
      const Tensor forget = loom::sigmoid(loom::linear(x_t, w_f_, b_f_) + loom::linear(h, u_f_));
      const Tensor candidate = loom::tanh(loom::linear(x_t, w_n_, b_n_) + loom::linear(forget * h, u_n_));
      h = (1.0 - forget) * h + forget * candidate;
      states.push_back(h);
    }
    return loom::stack(states, 1);
  }

 private:
  std::int64_t hidden_size_;
  Tensor w_f_, u_f_, b_f_;  // the forget gate: (H, F), (H, H), (H)
  Tensor w_n_, u_n_, b_n_;  // the candidate state: (H, F), (H, H), (H)
};

// The gradient of a small float64 instance against central differences. gradcheck perturbs the
// tensors it is given in place, so passing the module's parameters checks their gradients too.
bool gradient_matches() {
  MinimalGatedUnit layer(3, 4);
  layer.to(loom::Dtype::Float64);
  Tensor x = loom::randn({2, 5, 3}, loom::Dtype::Float64).requires_grad_();  // (B, T, F)
  std::vector<Tensor> inputs = layer.parameters();
  inputs.push_back(x);
  const auto result = loom::gradcheck([&](const std::vector<Tensor>&) { return layer.forward(x); }, inputs);
  std::printf("gradcheck: max relative error %.2e (%s)\n", result.max_relative_error,
              result.passed ? "passed" : ("failed, worst at " + result.worst).c_str());
  return result.passed;
}

struct RunningMaxTagger : loom::Module {
  std::shared_ptr<loom::Embedding> embed = register_module("embed", std::make_shared<loom::Embedding>(10, 16));
  std::shared_ptr<MinimalGatedUnit> mgu = register_module("mgu", std::make_shared<MinimalGatedUnit>(16, 32));
  std::shared_ptr<loom::Linear> out = register_module("out", std::make_shared<loom::Linear>(32, 10));
  Tensor forward(const Tensor& digits) { return out->forward(mgu->forward(embed->forward(digits))); }  // (B, T) -> (B, T, 10)
};

int main() {
  loom::manual_seed(0);
  if (!gradient_matches()) return 1;
  RunningMaxTagger model;
  example::train(model, 400, [&] {
    Tensor digits = example::digits(64, 8);
    return loom::cross_entropy(model.forward(digits).reshape({-1, 10}), example::running_max(digits).reshape({-1}));
  });
  Tensor digits = example::digits(256, 8);
  return example::finish("custom layer: MGU on the running max",
                         example::accuracy(loom::argmax(model.forward(digits), 2), example::running_max(digits)), false, 0.95);
}
