// Conv2d: parameters and PyTorch's initialisation around loom::conv2d.
#include "loom/layers/conv2d.h"

#include <fmt/format.h>

#include <cmath>

namespace loom {

Conv2d::Conv2d(const Conv2dOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.in_channels() <= 0 || o.out_channels() <= 0 || o.groups() <= 0)
    throw ValueError(fmt::format("Conv2d: in_channels, out_channels and groups must be positive, "
                                 "got {}, {}, {}", o.in_channels(), o.out_channels(), o.groups()));
  if (o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0)
    throw ValueError(fmt::format("Conv2d: in_channels {} and out_channels {} must be divisible "
                                 "by groups {}", o.in_channels(), o.out_channels(), o.groups()));
  if (o.kernel_size().h <= 0 || o.kernel_size().w <= 0)
    throw ValueError(fmt::format("Conv2d: kernel_size must be positive, got ({}, {})",
                                 o.kernel_size().h, o.kernel_size().w));
  const std::int64_t group_in = o.in_channels() / o.groups();
  // kaiming_uniform(a = sqrt(5)) reduces to U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as the bias.
  const double bound = 1.0 / std::sqrt(double(group_in * o.kernel_size().h * o.kernel_size().w));
  weight = register_parameter(
      "weight", rand({o.out_channels(), group_in, o.kernel_size().h, o.kernel_size().w}, -bound,
                     bound));
  if (o.bias()) bias = register_parameter("bias", rand({o.out_channels()}, -bound, bound));
}

Tensor Conv2d::forward(const Tensor& input) {
  return conv2d(input, weight, bias,
                {options_.stride(), options_.padding(), options_.dilation(), options_.groups()});
}

}  // namespace loom
