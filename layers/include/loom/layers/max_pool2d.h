#pragma once
/// MaxPool2d: the maximum over each window of (N, C, H, W), as torch.nn.MaxPool2d.
///
///     loom::MaxPool2d pool(loom::MaxPool2dOptions(2));   // stride defaults to the kernel
///     auto y = pool(loom::randn({8, 16, 28, 28}));        // (8, 16, 14, 14)
#include "loom/conv_ops.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct MaxPool2dOptions {
  MaxPool2dOptions(Size2 kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}
  LOOM_ARG(Size2, kernel_size, 1)
  LOOM_ARG(Size2, stride, 1)
  LOOM_ARG(Size2, padding, 0)
};

class MaxPool2d : public UnaryModule {
 public:
  explicit MaxPool2d(const MaxPool2dOptions& options) : options_(options) {}
  /// (N, C, H, W) -> (N, C, OH, OW).
  Tensor forward(const Tensor& input) override;
  const MaxPool2dOptions& options() const { return options_; }

 private:
  MaxPool2dOptions options_;
};

}  // namespace loom
