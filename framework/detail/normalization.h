#pragma once
// Private: the argument checks loom::layer_norm and the LayerNorm layer (at construction) share.
#include "loom/tensor.h"

namespace loom::detail {

/// ValueError naming `op` unless normalized_shape has at least one axis, all positive, and eps > 0.
void check_layer_norm_arguments(const char* op, const Shape& normalized_shape, double eps);

}  // namespace loom::detail
