// Tensor::index: Python-style indexing composed from slice and select, one axis at a time, so
// each piece has the backward (and, once they are views, the zero-copy) of those ops.
#include <fmt/format.h>

#include <algorithm>

#include "loom/tensor.h"

namespace loom {

Tensor Tensor::index(const std::vector<indexing::TensorIndex>& indices) const {
  using Kind = indexing::TensorIndex::Kind;
  if (!defined()) throw ValueError("index: the tensor is undefined");
  const auto ellipses = std::count_if(indices.begin(), indices.end(),
                                      [](const auto& i) { return i.kind() == Kind::Ellipsis; });
  if (ellipses > 1)
    throw IndexError(fmt::format("index: at most one Ellipsis, got {}", ellipses));
  const std::int64_t named = static_cast<std::int64_t>(indices.size()) - ellipses;
  if (named > dim())
    throw IndexError(fmt::format("index: {} indices for a tensor of {} axes {}", named, dim(),
                                 shape_str(shape())));
  Tensor out = *this;
  std::int64_t axis = 0;  // the axis of `out` the next index applies to
  for (const auto& index : indices) {
    switch (index.kind()) {
      case Kind::Ellipsis:
        axis += dim() - named;  // the unnamed axes stay whole
        break;
      case Kind::Slice: {
        const auto& s = index.slice();
        if (s.step <= 0)
          throw ValueError(fmt::format("index: a Slice step must be positive, got {}", s.step));
        const std::int64_t n = out.shape()[axis];
        out = out.slice(axis, s.start.value_or(0), s.stop.value_or(n), s.step);
        ++axis;
        break;
      }
      case Kind::Integer: {
        const std::int64_t n = out.shape()[axis], i = index.integer();
        if (i < -n || i >= n)
          throw IndexError(fmt::format("index: index {} is out of range for an axis of size {} "
                                       "(shape {})", i, n, shape_str(shape())));
        out = out.select(axis, i);  // the axis goes, so the next index applies to the same number
        break;
      }
    }
  }
  return out;
}

}  // namespace loom
