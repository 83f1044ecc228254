// LayerNorm: the parameters of loom::layer_norm (framework/src/normalization.cpp), which does the
// maths.
#include "loom/layers/layer_norm.h"

#include "detail/normalization.h"
#include "loom/init.h"
#include "loom/ops.h"

namespace loom {

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  const Shape& shape = options.normalized_shape();
  detail::check_layer_norm_arguments("LayerNorm", shape, options.eps());
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", empty(shape));
    bias = register_parameter("bias", empty(shape));
    reset_parameters();
  }
}

void LayerNorm::reset_parameters() {
  if (!options_.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
  return layer_norm(input, options_.normalized_shape(), weight, bias, options_.eps());
}

}  // namespace loom
