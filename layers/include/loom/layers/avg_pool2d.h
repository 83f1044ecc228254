#pragma once
/// AvgPool2d: the mean over each window of (N, C, H, W), as torch.nn.AvgPool2d.
///
///     loom::AvgPool2d pool(
///         loom::AvgPool2dOptions(3).stride(1).padding(1).count_include_pad(false));
///     auto y = pool(loom::randn({8, 16, 28, 28}));        // (8, 16, 28, 28)
#include "loom/conv_ops.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct AvgPool2dOptions {
  AvgPool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}
  LOOM_ARG(Size2, kernel_size, 1)
  LOOM_ARG(Size2, stride, 1)
  LOOM_ARG(Size2, padding, 0)
  /// Divide by kH * kW (true) or by the number of entries inside the image (false).
  LOOM_ARG(bool, count_include_pad, true)
};

class AvgPool2d : public UnaryModule {
 public:
  explicit AvgPool2d(const AvgPool2dOptions& options) : options_(options) {}
  /// (N, C, H, W) -> (N, C, OH, OW).
  Tensor forward(const Tensor& input) override;
  const AvgPool2dOptions& options() const { return options_; }

 private:
  AvgPool2dOptions options_;
};

}  // namespace loom
