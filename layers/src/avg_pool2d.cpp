#include "loom/layers/avg_pool2d.h"

namespace loom {

Tensor AvgPool2d::forward(const Tensor& input) {
  return avg_pool2d(input, options_.kernel_size(), options_.stride(), options_.padding(),
                    options_.count_include_pad());
}

}  // namespace loom
