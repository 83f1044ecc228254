// LayerNorm composed from differentiable ops (mean, subtraction, sqrt), so its backward is theirs.
#include "loom/layers/layer_norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "loom/init.h"
#include "loom/ops.h"

namespace loom {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  const Shape& shape = options.normalized_shape();
  if (shape.empty())
    throw ValueError("LayerNorm: normalized_shape must have at least one axis, got ()");
  for (std::int64_t size : shape)
    if (size <= 0)
      throw ValueError(fmt::format("LayerNorm: normalized_shape must be positive, got {}",
                                   shape_str(shape)));
  if (!(options.eps() > 0.0))
    throw ValueError(fmt::format("LayerNorm: eps must be positive, got {}", options.eps()));
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", empty(shape));
    bias = register_parameter("bias", empty(shape));
    reset_parameters();
  }
}

void LayerNorm::reset_parameters() {
  if (!options_.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
  const Shape& normalized = options_.normalized_shape();
  const std::int64_t k = static_cast<std::int64_t>(normalized.size());
  if (input.dim() < k ||
      !std::equal(normalized.begin(), normalized.end(), input.shape().end() - k)) {
    std::string expected = "(*";
    for (std::int64_t size : normalized) expected += fmt::format(", {}", size);
    throw ShapeError(fmt::format("LayerNorm: expected input of shape {}), got {}", expected,
                                 shape_str(input.shape())));
  }
  Axes axes;  // the trailing k axes
  for (std::int64_t a = -k; a < 0; ++a) axes.push_back(a);
  Tensor centered = input - mean(input, axes, true);                 // (..., *normalized)
  Tensor variance = mean(centered * centered, axes, true);           // (..., 1, ..., 1)
  Tensor normalised = centered / sqrt(variance + options_.eps());    // (..., *normalized)
  if (!options_.elementwise_affine()) return normalised;
  return normalised * weight + bias;
}

}  // namespace loom
