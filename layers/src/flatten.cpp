#include "loom/layers/flatten.h"

namespace loom {

Tensor Flatten::forward(const Tensor& input) {
  return input.flatten(options_.start_dim(), options_.end_dim());
}

}  // namespace loom
