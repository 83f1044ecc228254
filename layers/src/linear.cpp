// Linear: one GEMM through loom::linear, with the module's own argument checks.
#include "loom/layers/linear.h"

#include <fmt/format.h>

#include <cmath>

#include "loom/init.h"
#include "loom/ops.h"
#include "quantized.h"

namespace loom {

Linear::Linear(const LinearOptions& options) : options_(options) {
  if (options.in_features() <= 0 || options.out_features() <= 0)
    throw ValueError(fmt::format("Linear: in_features and out_features must be positive, got {} "
                                 "and {}", options.in_features(), options.out_features()));
  weight = register_parameter("weight", empty({options.out_features(), options.in_features()}));
  if (options.bias()) bias = register_parameter("bias", empty({options.out_features()}));
  reset_parameters();
}

void Linear::reset_parameters(Generator* generator) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn,
                         init::Nonlinearity::LeakyReLU, generator);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(options_.in_features()));
    init::uniform_(bias, -bound, bound, generator);
  }
}

Tensor Linear::forward(const Tensor& input) {
  if (input.dim() == 0)
    throw ShapeError("Linear: expected an input with at least one dimension, got ()");
  if (input.size(-1) != options_.in_features())
    throw ShapeError(fmt::format("Linear: input.size(-1) must be equal to in_features. Expected "
                                 "{}, got {}", options_.in_features(), input.size(-1)));
  if (!quantized_) return linear(input, weight, bias);
  if (is_training()) detail::refuse_training("Linear");
  return detail::int8_linear(input, *quantized_, weight, bias);
}

void Linear::quantize() {
  quantized_ = std::make_shared<const detail::Int8Matrix>(detail::quantize_parameter("Linear", weight, 1));
}

}  // namespace loom
