#pragma once
/// Gradient checking against central differences in float64: the one helper every op and layer
/// test uses.
///
///     auto x = loom::randn({3, 4}, loom::Dtype::Float64).requires_grad_();
///     auto result = loom::gradcheck([](const std::vector<loom::Tensor>& in) {
///       return loom::tanh(in[0]);
///     }, {x});
///     CHECK(result.max_relative_error <= 1e-6);
#include <functional>
#include <string>
#include <vector>

#include "loom/tensor.h"

namespace loom {

struct GradcheckOptions {
  double step = 1e-5;           ///< finite-difference step: truncation ~step^2, rounding ~1e-16/step
  double tolerance = 1e-6;      ///< max relative error accepted by `passed`
  double denominator_floor = 1e-3;  ///< |a-n| / max(|a|, |n|, floor): avoids dividing by ~0
  std::uint64_t seed = 1234;    ///< for the random projection of non-scalar outputs
};

struct GradcheckResult {
  bool passed = false;
  double max_relative_error = 0.0;
  /// Where the worst disagreement is: "input 1 [5]: analytic 0.3 numeric 0.31".
  std::string worst;
};

/// Compares the analytic gradients of `function` with respect to every input that requires a
/// gradient (all must be float64) against central differences of the same scalar: the output
/// dotted with a fixed random tensor, so every output element is checked.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& function,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace loom
