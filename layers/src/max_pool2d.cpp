#include "loom/layers/max_pool2d.h"

namespace loom {

Tensor MaxPool2d::forward(const Tensor& input) {
  return max_pool2d(input, options_.kernel_size(), options_.stride(), options_.padding());
}

}  // namespace loom
