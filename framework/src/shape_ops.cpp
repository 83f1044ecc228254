// Shape operations: reshape (a view), transpose/permute, slicing, squeeze, expand; each with its
// backward beside it.
#include <cstring>
#include <numeric>

#include "detail/kernels.h"

namespace loom {


namespace {

// Copies `in` into `out` reading it through `in_strides` (elements), walking out's shape. Large
// copies are split between the threads along out's first axis.
template <class T>
void strided_copy(const T* in, std::int64_t in_offset, const std::vector<std::int64_t>& in_strides,
                  T* out, const Shape& out_shape) {
  const auto copy = [&](std::int64_t offset, T* dst_base, const Shape& shape) {
    detail::broadcast_loop<2>(shape, {detail::contiguous_strides(shape), in_strides},
                              [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                                  const std::array<std::int64_t, 2>& st) {
                                const T* src = in + offset + off[1];
                                T* dst = dst_base + off[0];
                                if (st[1] == 1) {
                                  std::memcpy(dst, src, static_cast<std::size_t>(n) * sizeof(T));
                                } else {
                                  for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i * st[1]];
                                }
                              });
  };
  if (out_shape.empty() || out_shape[0] == 0) return copy(in_offset, out, out_shape);
  const std::int64_t inner = detail::numel_of(out_shape) / out_shape[0];  // values per index of axis 0
  detail::parallel_rows(out_shape[0], inner, [&](std::int64_t begin, std::int64_t end) {
    Shape part = out_shape;
    part[0] = end - begin;
    copy(in_offset + begin * in_strides[0], out + begin * inner, part);
  });
}

// out = in read through strides: the one kernel behind permute, slice and their backwards.
Tensor gather_strided(const Tensor& in, std::int64_t in_offset,
                      const std::vector<std::int64_t>& in_strides, const Shape& out_shape) {
  Tensor out = empty(out_shape, in.dtype());
  switch (in.dtype()) {
    case Dtype::Float32: strided_copy(in.data<float>(), in_offset, in_strides, out.data<float>(), out_shape); break;
    case Dtype::Float64: strided_copy(in.data<double>(), in_offset, in_strides, out.data<double>(), out_shape); break;
    case Dtype::Int64: strided_copy(in.data<std::int64_t>(), in_offset, in_strides, out.data<std::int64_t>(), out_shape); break;
  }
  return out;
}

// The gradient of a slice: zeros of the input's shape with `grad` written into the slice.
template <class T>
void scatter_slice(const Tensor& grad, Tensor& target, std::int64_t axis, std::int64_t start,
                   std::int64_t step) {
  const auto layout = detail::axis_layout(target.shape(), axis);
  const std::int64_t count = grad.shape()[axis];
  const T* g = grad.data<T>();
  T* t = target.data<T>();
  for (std::int64_t o = 0; o < layout.outer; ++o)
    for (std::int64_t k = 0; k < count; ++k)
      std::memcpy(t + (o * layout.length + start + k * step) * layout.inner,
                  g + (o * count + k) * layout.inner,
                  static_cast<std::size_t>(layout.inner) * sizeof(T));
}

}  // namespace

Tensor Tensor::reshape(const Shape& requested) const {
  detail::check_defined("reshape", *this);
  Shape target = requested;
  std::int64_t known = 1, inferred_axis = -1;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == -1) {
      if (inferred_axis >= 0)
        throw ShapeError(fmt::format("reshape: only one axis can be -1, got {}", shape_str(requested)));
      inferred_axis = static_cast<std::int64_t>(i);
    } else if (target[i] < 0) {
      throw ShapeError(fmt::format("reshape: invalid shape {}", shape_str(requested)));
    } else {
      known *= target[i];
    }
  }
  if (inferred_axis >= 0 && known != 0 && numel() % known == 0) target[inferred_axis] = numel() / known;
  if (detail::numel_of(target) != numel() || (inferred_axis >= 0 && known == 0))
    throw ShapeError(fmt::format("reshape: cannot reshape a tensor of shape {} ({} elements) into {}",
                                 shape_str(shape()), numel(), shape_str(requested)));
  Tensor out = detach();
  out.impl()->shape = target;  // a view: same storage, new shape
  const Shape original = shape();
  record_op(out, "reshape", {*this},
         [original](const Tensor& g) { return std::vector<Tensor>{g.reshape(original)}; });
  return out;
}

Tensor Tensor::flatten(std::int64_t start_axis, std::int64_t end_axis) const {
  if (dim() == 0) return reshape({1});
  const std::int64_t first = detail::normalize_axis("flatten", start_axis, dim());
  const std::int64_t last = detail::normalize_axis("flatten", end_axis, dim());
  if (first > last)
    throw ValueError(fmt::format("flatten: start axis {} comes after end axis {}", start_axis, end_axis));
  Shape target(shape().begin(), shape().begin() + first);
  target.push_back(std::accumulate(shape().begin() + first, shape().begin() + last + 1,
                                   std::int64_t{1}, std::multiplies<>()));
  target.insert(target.end(), shape().begin() + last + 1, shape().end());
  return reshape(target);
}

Tensor Tensor::permute(const std::vector<std::int64_t>& order) const {
  detail::check_defined("permute", *this);
  if (static_cast<std::int64_t>(order.size()) != dim())
    throw ShapeError(fmt::format("permute: expected {} axes for shape {}, got {}", dim(),
                                 shape_str(shape()), order.size()));
  std::vector<std::int64_t> axes(order.size());
  std::vector<bool> seen(order.size(), false);
  for (std::size_t i = 0; i < order.size(); ++i) {
    axes[i] = detail::normalize_axis("permute", order[i], dim());
    if (seen[axes[i]]) throw ValueError("permute: repeated axis in the order");
    seen[axes[i]] = true;
  }
  const auto strides = detail::contiguous_strides(shape());
  Shape out_shape(axes.size());
  std::vector<std::int64_t> read_strides(axes.size());
  std::vector<std::int64_t> inverse(axes.size());
  for (std::size_t i = 0; i < axes.size(); ++i) {
    out_shape[i] = shape()[axes[i]];
    read_strides[i] = strides[axes[i]];
    inverse[axes[i]] = static_cast<std::int64_t>(i);
  }
  Tensor out = gather_strided(*this, 0, read_strides, out_shape);
  record_op(out, "permute", {*this},
         [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; });
  return out;
}

Tensor Tensor::transpose(std::int64_t axis0, std::int64_t axis1) const {
  std::vector<std::int64_t> order(static_cast<std::size_t>(dim()));
  std::iota(order.begin(), order.end(), 0);
  std::swap(order[detail::normalize_axis("transpose", axis0, dim())],
            order[detail::normalize_axis("transpose", axis1, dim())]);
  return permute(order);
}

Tensor Tensor::t() const {
  if (dim() != 2)
    throw ShapeError(fmt::format("t: expected a 2-D tensor, got shape {}", shape_str(shape())));
  return transpose(0, 1);
}

Tensor Tensor::squeeze(std::int64_t axis) const {
  const std::int64_t a = detail::normalize_axis("squeeze", axis, dim());
  if (dim() == 0 || shape()[a] != 1)
    throw ShapeError(fmt::format("squeeze: axis {} of shape {} is not of size 1", axis, shape_str(shape())));
  Shape target = shape();
  target.erase(target.begin() + a);
  return reshape(target);
}

Tensor Tensor::unsqueeze(std::int64_t axis) const {
  const std::int64_t a = detail::normalize_axis("unsqueeze", axis, dim() + 1);
  Shape target = shape();
  target.insert(target.begin() + a, 1);
  return reshape(target);
}

Tensor Tensor::slice(std::int64_t axis, std::int64_t start, std::int64_t stop,
                     std::int64_t step) const {
  detail::check_defined("slice", *this);
  const std::int64_t a = detail::normalize_axis("slice", axis, dim());
  if (dim() == 0) throw ShapeError("slice: cannot slice a 0-dimensional tensor");
  if (step <= 0) throw ValueError(fmt::format("slice: step must be positive, got {}", step));
  const std::int64_t n = shape()[a];
  auto clip = [n](std::int64_t i) { return std::clamp(i < 0 ? i + n : i, std::int64_t{0}, n); };
  const std::int64_t first = clip(start), last = clip(stop);
  const std::int64_t count = last > first ? (last - first + step - 1) / step : 0;
  Shape out_shape = shape();
  out_shape[a] = count;
  auto read_strides = detail::contiguous_strides(shape());
  const std::int64_t offset = first * read_strides[a];
  read_strides[a] *= step;
  Tensor out = gather_strided(*this, offset, read_strides, out_shape);
  const Shape input_shape = shape();
  record_op(out, "slice", {*this}, [input_shape, a, first, step](const Tensor& g) {
    Tensor grad = zeros(input_shape, g.dtype());
    if (g.dtype() == Dtype::Float32) scatter_slice<float>(g, grad, a, first, step);
    else scatter_slice<double>(g, grad, a, first, step);
    return std::vector<Tensor>{grad};
  });
  return out;
}

Tensor Tensor::narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const {
  const std::int64_t a = detail::normalize_axis("narrow", axis, dim());
  if (dim() == 0) throw ShapeError("narrow: cannot narrow a 0-dimensional tensor");
  const std::int64_t n = shape()[a];
  if (start < 0 || length < 0 || start + length > n)
    throw IndexError(fmt::format("narrow: [{}, {}) is outside axis {} of size {}", start,
                                 start + length, axis, n));
  return slice(a, start, start + length);
}

Tensor Tensor::select(std::int64_t axis, std::int64_t index) const {
  const std::int64_t a = detail::normalize_axis("select", axis, dim());
  if (dim() == 0) throw ShapeError("select: cannot index a 0-dimensional tensor");
  const std::int64_t n = shape()[a];
  if (index < -n || index >= n)
    throw IndexError(fmt::format("select: index {} is out of range for axis {} of size {}", index, axis, n));
  const std::int64_t i = index < 0 ? index + n : index;
  return narrow(a, i, 1).squeeze(a);
}

Tensor Tensor::expand(const Shape& target) const {
  detail::check_defined("expand", *this);
  const Shape out_shape = detail::broadcast_shapes("expand", shape(), target);
  if (out_shape != target)
    throw ShapeError(fmt::format("expand: cannot expand shape {} to {}", shape_str(shape()),
                                 shape_str(target)));
  if (out_shape == shape()) return *this;
  Tensor out = gather_strided(*this, 0, detail::broadcast_strides(shape(), out_shape), out_shape);
  const Shape input_shape = shape();
  record_op(out, "expand", {*this}, [input_shape](const Tensor& g) {
    return std::vector<Tensor>{detail::sum_to(g, input_shape)};
  });
  return out;
}

}  // namespace loom
