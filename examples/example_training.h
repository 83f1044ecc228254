#pragma once
// What the RNN-shape examples share: the training loop, the accuracy of predicted classes and
// the line each program ends with. Each example is one shape of the lecture on a toy task.
#include <loom/loom.h>
#include <loom/optim/optimizers.h>

#include <algorithm>
#include <cstdio>
#include <functional>

namespace example {

// Adam (lr 0.01) on `loss` for `steps` steps; `loss` draws a fresh batch at each call.
inline void train(loom::Module& model, int steps, const std::function<loom::Tensor()>& loss) {
  loom::optim::Adam adam(model.named_parameters(), loom::optim::AdamOptions(0.01));
  for (int step = 0; step < steps; ++step) {
    adam.zero_grad();
    loss().backward();
    adam.step();
  }
}

// The fraction of equal entries of two int64 tensors of one shape.
inline double accuracy(const loom::Tensor& predicted, const loom::Tensor& target) {
  return loom::mean(loom::eq(predicted.to(loom::Dtype::Float32), target.to(loom::Dtype::Float32))).item();
}

// Random digits 0-9 (batch, steps), int64.
inline loom::Tensor digits(std::int64_t batch, std::int64_t steps) { return loom::randint(0, 10, {batch, steps}); }

// The running-max task of synced_many_to_many.cpp and custom_layer.cpp:
// digits (B, T) -> the largest digit up to each step (B, T).
inline loom::Tensor running_max(const loom::Tensor& digits) {
  auto values = digits.to_vector<std::int64_t>();
  const auto steps = static_cast<std::size_t>(digits.size(1));
  for (std::size_t i = 1; i < values.size(); ++i)
    if (i % steps != 0) values[i] = std::max(values[i], values[i - 1]);
  return loom::from_vector(values, digits.shape());
}

// Prints "TASK ok|FAIL VALUE (target ...)" and returns the exit code: 0 when the target is met,
// so ctest runs each example as a test.
inline int finish(const char* task, double value, bool lower_is_better, double target) {
  const bool met = lower_is_better ? value <= target : value >= target;
  std::printf("%s: %s %.4f (target %s %.2f)\n", task, met ? "ok" : "FAIL", value, lower_is_better ? "<=" : ">=", target);
  return met ? 0 : 1;
}

}  // namespace example
