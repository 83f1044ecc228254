#pragma once
/// Conv2d: a 2-D convolution layer over (N, C, H, W) images, as torch.nn.Conv2d (same parameter
/// names and initialisation, so weights travel between the two unchanged).
///
///     loom::Conv2d conv(loom::Conv2dOptions(3, 16, 3).padding(1));
///     auto y = conv(loom::randn({8, 3, 28, 28}));    // (8, 16, 28, 28)
#include <cstdint>

#include "loom/conv_ops.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct Conv2dOptions {
  Conv2dOptions(std::int64_t in_channels, std::int64_t out_channels, Size2 kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  LOOM_ARG(std::int64_t, in_channels, 1)
  LOOM_ARG(std::int64_t, out_channels, 1)
  LOOM_ARG(Size2, kernel_size, 1)
  LOOM_ARG(Size2, stride, 1)
  LOOM_ARG(Size2, padding, 0)
  LOOM_ARG(Size2, dilation, 1)
  LOOM_ARG(std::int64_t, groups, 1)
  /// Whether to learn an additive bias per output channel.
  LOOM_ARG(bool, bias, true)
};

/// Parameters `weight` (O, C / groups, kH, kW) and `bias` (O), both drawn from
/// U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C / groups * kH * kW (PyTorch's default).
class Conv2d : public UnaryModule {
 public:
  explicit Conv2d(const Conv2dOptions& options);
  /// (N, C, H, W) -> (N, O, OH, OW).
  Tensor forward(const Tensor& input) override;
  const Conv2dOptions& options() const { return options_; }

  Tensor weight;  // (O, C / groups, kH, kW)
  Tensor bias;    // (O), undefined without bias

 private:
  Conv2dOptions options_;
};

}  // namespace loom
