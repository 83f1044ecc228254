// Dropout: loom::dropout, active only in training mode.
#include "loom/layers/dropout.h"

#include <fmt/format.h>

#include "loom/ops.h"

namespace loom {

Dropout::Dropout(const DropoutOptions& options, Generator* generator)
    : options_(options), generator_(generator) {
  if (!(options.p() >= 0.0 && options.p() <= 1.0))
    throw ValueError(fmt::format("Dropout: dropout probability has to be between 0 and 1, but got "
                                 "{}", options.p()));
}

Tensor Dropout::forward(const Tensor& input) {
  return dropout(input, options_.p(), is_training(), generator_);
}

}  // namespace loom
