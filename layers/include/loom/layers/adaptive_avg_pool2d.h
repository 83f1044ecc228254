#pragma once
/// AdaptiveAvgPool2d: averages (N, C, H, W) down to a fixed (N, C, oh, ow) whatever H and W, as
/// torch.nn.AdaptiveAvgPool2d.
///
///     loom::AdaptiveAvgPool2d pool(loom::AdaptiveAvgPool2dOptions(1));
///     auto y = pool(loom::randn({8, 16, 7, 9}));          // (8, 16, 1, 1)
#include "loom/conv_ops.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct AdaptiveAvgPool2dOptions {
  AdaptiveAvgPool2dOptions(Size2 output_size) : output_size_(output_size) {}
  LOOM_ARG(Size2, output_size, 1)
};

class AdaptiveAvgPool2d : public UnaryModule {
 public:
  explicit AdaptiveAvgPool2d(const AdaptiveAvgPool2dOptions& options) : options_(options) {}
  /// (N, C, H, W) -> (N, C, oh, ow).
  Tensor forward(const Tensor& input) override;
  const AdaptiveAvgPool2dOptions& options() const { return options_; }

 private:
  AdaptiveAvgPool2dOptions options_;
};

}  // namespace loom
