// BatchNorm1d / BatchNorm2d from differentiable ops: mean, centring, variance, scaling.
#include "loom/layers/batch_norm.h"

#include <fmt/format.h>

#include "loom/autograd.h"
#include "loom/ops.h"

namespace loom {

BatchNorm::BatchNorm(const BatchNormOptions& options, const char* name, std::int64_t min_rank,
                     std::int64_t max_rank)
    : options_(options), name_(name), min_rank_(min_rank), max_rank_(max_rank) {
  const std::int64_t c = options_.num_features();
  if (c <= 0) throw ValueError(fmt::format("{}: num_features must be positive, got {}", name, c));
  if (options_.affine()) {
    weight = register_parameter("weight", ones({c}));
    bias = register_parameter("bias", zeros({c}));
  }
  if (options_.track_running_stats()) {
    running_mean = register_buffer("running_mean", zeros({c}));
    running_var = register_buffer("running_var", ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, Dtype::Int64));
  }
}

Tensor BatchNorm::forward(const Tensor& input) {
  const std::int64_t c = options_.num_features();
  if (input.dim() < min_rank_ || input.dim() > max_rank_ || input.size(1) != c)
    throw ShapeError(fmt::format(
        "{}: expected input of shape {} with {} channels, got {}", name_,
        min_rank_ == 4 ? "(N, C, H, W)" : "(N, C) or (N, C, L)", c, shape_str(input.shape())));
  // Statistics per channel: over every axis but 1, kept so they broadcast against the input.
  Axes axes{0};
  Shape stat_shape(static_cast<std::size_t>(input.dim()), 1);  // (1, C, 1, ...)
  stat_shape[1] = c;
  for (std::int64_t a = 2; a < input.dim(); ++a) axes.push_back(a);

  Tensor normalized;
  if (is_training() || !options_.track_running_stats()) {
    const std::int64_t count = input.numel() / c;
    if (count <= 1)
      throw ValueError(fmt::format("{}: expected more than 1 value per channel when training, "
                                   "got input {}", name_, shape_str(input.shape())));
    Tensor mean = loom::mean(input, axes, true);               // (1, C, 1, ...)
    Tensor centered = input - mean;                            // input's shape
    Tensor var = loom::mean(centered * centered, axes, true);  // (1, C, 1, ...), biased
    normalized = centered / loom::sqrt(var + options_.eps());
    if (is_training() && options_.track_running_stats()) {
      NoGradGuard no_grad;
      const double m = options_.momentum();
      // The running variance is the unbiased estimate, as PyTorch's.
      const double unbias = double(count) / double(count - 1);
      running_mean.copy_(running_mean * (1.0 - m) + mean.detach().reshape({c}) * m);
      running_var.copy_(running_var * (1.0 - m) + var.detach().reshape({c}) * (unbias * m));
      num_batches_tracked.fill_(num_batches_tracked.item() + 1);
    }
  } else {
    normalized = (input - running_mean.reshape(stat_shape)) /
                 loom::sqrt(running_var.reshape(stat_shape) + options_.eps());
  }
  if (!options_.affine()) return normalized;
  return normalized * weight.reshape(stat_shape) + bias.reshape(stat_shape);
}

}  // namespace loom
