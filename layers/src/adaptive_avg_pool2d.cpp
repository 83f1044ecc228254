#include "loom/layers/adaptive_avg_pool2d.h"

namespace loom {

Tensor AdaptiveAvgPool2d::forward(const Tensor& input) {
  return adaptive_avg_pool2d(input, options_.output_size());
}

}  // namespace loom
