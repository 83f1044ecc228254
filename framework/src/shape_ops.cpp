// Shape operations: reshape (a view), transpose/permute, slicing, squeeze, expand, and split,
// chunk and unbind (several views recorded as one node); each with its backward beside it.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "detail/kernels.h"

namespace loom {

namespace {

// Copies `n` values from `source` (stride `source_stride`) to `target` (stride `target_stride`).
template <class T>
void copy_run(const T* source, std::int64_t source_stride, T* target, std::int64_t target_stride,
              std::int64_t n) {
  if (source_stride == 1 && target_stride == 1) {
    std::memmove(target, source, static_cast<std::size_t>(n) * sizeof(T));
  } else {
    for (std::int64_t i = 0; i < n; ++i) target[i * target_stride] = source[i * source_stride];
  }
}

// The axis of `shape` along which `strides` step by one element and that has more than one
// element, or -1.
std::int64_t unit_stride_axis(const Shape& shape, const std::vector<std::int64_t>& strides) {
  for (std::size_t axis = 0; axis < shape.size(); ++axis)
    if (strides[axis] == 1 && shape[axis] > 1) return static_cast<std::int64_t>(axis);
  return -1;
}

// The plane of axes (a, l) copied in square tiles, where the source steps by one along a and the
// target along l (a transpose). A row-by-row copy reads every source value from a different line
// (and, with a stride of 4 KiB or more, a different page). Each tile is read along the source's
// rows into a small buffer, then written along the target's rows from it. Read straight across, a
// tile's 32 source lines lie 4 KiB apart when the rows are 1024 floats long. That puts them all in
// one set of an 8-way L1, so they evict each other on every pass.
// 1024^2 float32 `t().contiguous()`, 1 thread (bench/README):
// - Xeon, 2026-12-04: 7.00 ms row by row, 1.10 ms in direct tiles.
// - Zen 4, 2026-12-05: 2.19 ms in direct tiles, 0.47 ms through the buffer (torch: 0.61).
template <class T>
void copy_plane_tiled(const T* from, std::int64_t from_stride_l, T* to, std::int64_t to_stride_a,
                      std::int64_t length_a, std::int64_t length_l) {
  constexpr std::int64_t kTile = 32;
  T tile[kTile * kTile];  // (l, a): the source's values as its rows hold them; 8 KiB in float64
  for (std::int64_t a0 = 0; a0 < length_a; a0 += kTile)
    for (std::int64_t l0 = 0; l0 < length_l; l0 += kTile) {
      const std::int64_t count_a = std::min(kTile, length_a - a0), count_l = std::min(kTile, length_l - l0);
      for (std::int64_t l = 0; l < count_l; ++l)
        for (std::int64_t a = 0; a < count_a; ++a) tile[l * kTile + a] = from[a0 + a + (l0 + l) * from_stride_l];
      for (std::int64_t a = 0; a < count_a; ++a)
        for (std::int64_t l = 0; l < count_l; ++l) to[(a0 + a) * to_stride_a + l0 + l] = tile[l * kTile + a];
    }
}

// target = source elementwise, each read through its strides. Large copies are split between the
// threads along axis 0 (a view's axis 0 never aliases itself). A transpose (the source's unit
// stride on another axis than the target's) is copied in tiles.
template <class T>
void copy_strided_as(const Tensor& source, Tensor& target) {
  const Shape& shape = target.shape();
  const auto& source_strides = source.strides();
  const auto& target_strides = target.strides();
  const T* from = detail::first_element<T>(source);
  T* to = detail::first_element<T>(target);
  if (target.numel() == 0) return;
  const std::int64_t source_axis = unit_stride_axis(shape, source_strides);
  const std::int64_t target_axis = unit_stride_axis(shape, target_strides);
  if (source_axis < 0 || target_axis < 0 || source_axis == target_axis)
    return detail::parallel_broadcast_loop<2>(shape, {target_strides, source_strides},
                                              [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                                                  const std::array<std::int64_t, 2>& st) {
                                                copy_run(from + off[1], st[1], to + off[0], st[0], n);
                                              });
  // The other axes walked one plane at a time; the planes, or the rows of one, split by axis 0.
  detail::parallel_rows(shape[0], target.numel() / shape[0], [&](std::int64_t begin, std::int64_t end) {
    Shape part = shape;
    part[0] = end - begin;
    Shape outer = part;
    outer[source_axis] = outer[target_axis] = 1;
    const T* part_from = from + begin * source_strides[0];
    T* part_to = to + begin * target_strides[0];
    detail::broadcast_loop<2>(outer, {target_strides, source_strides},
                              [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                                  const std::array<std::int64_t, 2>& st) {
                                for (std::int64_t i = 0; i < n; ++i)
                                  copy_plane_tiled(part_from + off[1] + i * st[1], source_strides[target_axis],
                                                   part_to + off[0] + i * st[0], target_strides[source_axis],
                                                   part[source_axis], part[target_axis]);
                              });
  });
}

// A tensor sharing `base`'s storage, read through `shape`, `strides` and `offset` (elements).
Tensor view_of(const Tensor& base, Shape shape, std::vector<std::int64_t> strides,
               std::size_t offset) {
  Tensor out = base.detach();
  TensorImpl& impl = *out.impl();
  impl.shape = std::move(shape);
  impl.strides = std::move(strides);
  impl.offset = offset;
  return out;
}

// squeeze / unsqueeze: `base` with a size-1 axis removed or added; the gradient is reshaped back.
Tensor size_one_axis_view(const Tensor& base, const char* name, Shape shape,
                          std::vector<std::int64_t> strides) {
  Tensor out = view_of(base, std::move(shape), std::move(strides), base.impl()->offset);
  record_op(out, name, {base},
            [original = base.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(original)}; });
  return out;
}

// Entries [start, start + size) of `axis` of `t`, a view; without that axis when `drop_axis`
// (unbind's pieces, of size 1).
Tensor piece_of(const Tensor& t, std::int64_t axis, std::int64_t start, std::int64_t size,
                bool drop_axis) {
  Shape shape = t.shape();
  auto strides = t.strides();
  const std::size_t offset = t.impl()->offset + static_cast<std::size_t>(start * strides[axis]);
  shape[axis] = size;
  if (drop_axis) {
    shape.erase(shape.begin() + axis);
    strides.erase(strides.begin() + axis);
  }
  return view_of(t, std::move(shape), std::move(strides), offset);
}

// split, chunk and unbind: `x` cut along `axis` into consecutive pieces of `sizes`, views of its
// storage recorded as one node. Its backward copies each piece's gradient into that piece's
// region of one buffer of x's shape, zeroed first only when some piece has none.
std::vector<Tensor> split_views(const char* name, const Tensor& x, std::int64_t axis,
                                const std::vector<std::int64_t>& sizes, bool drop_axis) {
  std::vector<Tensor> pieces;
  std::vector<std::int64_t> starts;
  std::int64_t start = 0;
  for (const std::int64_t size : sizes) {
    starts.push_back(start);
    pieces.push_back(piece_of(x, axis, start, size, drop_axis));
    start += size;
  }
  auto backward = [shape = x.shape(), dtype = x.dtype(), axis, sizes, starts,
                   drop_axis](const std::vector<Tensor>& grads) {
    const bool every_piece =
        std::all_of(grads.begin(), grads.end(), [](const Tensor& g) { return g.defined(); });
    Tensor input_grad = every_piece ? empty(shape, dtype) : zeros(shape, dtype);  // x's shape
    for (std::size_t k = 0; k < grads.size(); ++k) {
      if (!grads[k].defined()) continue;
      Tensor region = piece_of(input_grad, axis, starts[k], sizes[k], drop_axis);
      detail::copy_strided(grads[k], region);
    }
    return std::vector<Tensor>{input_grad};
  };
  record_op(pieces, name, {x}, std::move(backward));
  return pieces;
}

// Sizes of pieces of `size` along an axis of `length`, the last one shorter when they do not
// divide it; one empty piece of an empty axis (as torch.split).
std::vector<std::int64_t> pieces_of_size(std::int64_t length, std::int64_t size) {
  std::vector<std::int64_t> sizes;
  for (std::int64_t start = 0; start < length; start += size)
    sizes.push_back(std::min(size, length - start));
  if (sizes.empty()) sizes.push_back(0);
  return sizes;
}

// The axis `op` cuts, normalised, or an error naming `op`.
std::int64_t axis_to_cut(const char* op, const Tensor& x, std::int64_t axis) {
  detail::check_defined(op, x);
  if (x.dim() == 0) throw ShapeError(fmt::format("{}: cannot cut a 0-dimensional tensor", op));
  return detail::normalize_axis(op, axis, x.dim());
}

}  // namespace

namespace detail {

void copy_strided(const Tensor& source, Tensor& target) {
  switch (target.dtype()) {
    case Dtype::Float32: return copy_strided_as<float>(source, target);
    case Dtype::Float64: return copy_strided_as<double>(source, target);
    case Dtype::Int64: return copy_strided_as<std::int64_t>(source, target);
  }
}

}  // namespace detail

Tensor Tensor::contiguous() const {
  detail::check_defined("contiguous", *this);
  if (is_contiguous()) return *this;
  Tensor out = empty(shape(), dtype());
  detail::copy_strided(*this, out);
  record_op(out, "contiguous", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

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
  if (!is_contiguous()) return contiguous().reshape(target);
  Tensor out = view_of(*this, target, detail::contiguous_strides(target), impl()->offset);
  const Shape original = shape();
  record_op(out, "reshape", {*this},
         [original](const Tensor& g) { return std::vector<Tensor>{g.reshape(original)}; });
  return out;
}

Tensor Tensor::view(const Shape& target) const {
  detail::check_defined("view", *this);
  if (!is_contiguous())
    throw LayoutError(fmt::format("view: expected a contiguous tensor, got shape {} with strides "
                                  "{}; use reshape() or contiguous()", shape_str(shape()),
                                  shape_str(strides())));
  return reshape(target);
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
  Shape out_shape(axes.size());
  std::vector<std::int64_t> out_strides(axes.size());
  std::vector<std::int64_t> inverse(axes.size());
  for (std::size_t i = 0; i < axes.size(); ++i) {
    out_shape[i] = shape()[axes[i]];
    out_strides[i] = strides()[axes[i]];
    inverse[axes[i]] = static_cast<std::int64_t>(i);
  }
  Tensor out = view_of(*this, out_shape, out_strides, impl()->offset);
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
  auto target_strides = strides();
  target.erase(target.begin() + a);
  target_strides.erase(target_strides.begin() + a);
  return size_one_axis_view(*this, "squeeze", target, target_strides);
}

Tensor Tensor::unsqueeze(std::int64_t axis) const {
  const std::int64_t a = detail::normalize_axis("unsqueeze", axis, dim() + 1);
  Shape target = shape();
  auto target_strides = strides();
  target.insert(target.begin() + a, 1);
  target_strides.insert(target_strides.begin() + a, 1);  // any stride does for a size-1 axis
  return size_one_axis_view(*this, "unsqueeze", target, target_strides);
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
  auto out_strides = strides();
  const std::size_t offset = impl()->offset + static_cast<std::size_t>(first * out_strides[a]);
  out_strides[a] *= step;
  Tensor out = view_of(*this, out_shape, out_strides, offset);
  detail::record_region_view(out, "slice", *this, [a, first, last, step](const Tensor& input_gradient) {
    return input_gradient.slice(a, first, last, step);
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
  std::vector<std::int64_t> out_strides(out_shape.size(), 0);  // 0 along broadcast axes
  const std::size_t lead = out_shape.size() - shape().size();
  for (std::size_t i = 0; i < shape().size(); ++i)
    if (shape()[i] == out_shape[lead + i]) out_strides[lead + i] = strides()[i];
  Tensor out = view_of(*this, out_shape, out_strides, impl()->offset);
  const Shape input_shape = shape();
  record_op(out, "expand", {*this}, [input_shape](const Tensor& g) {
    return std::vector<Tensor>{detail::sum_to(g, input_shape)};
  });
  return out;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes,
                          std::int64_t axis) {
  const std::int64_t a = axis_to_cut("split", x, axis);
  std::int64_t total = 0;
  for (const std::int64_t size : sizes) {
    if (size < 0) throw ValueError(fmt::format("split: negative size {}", size));
    total += size;
  }
  if (total != x.shape()[a])
    throw ShapeError(fmt::format("split: sizes add up to {} but axis {} of {} has {}", total, axis,
                                 shape_str(x.shape()), x.shape()[a]));
  return split_views("split", x, a, sizes, false);
}

std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t axis) {
  const std::int64_t a = axis_to_cut("split", x, axis);
  const std::int64_t length = x.shape()[a];
  if (split_size < 0 || (split_size == 0 && length > 0))
    throw ValueError(fmt::format("split: size must be positive, got {} for axis {} of {}",
                                 split_size, axis, shape_str(x.shape())));
  return split_views("split", x, a, pieces_of_size(length, split_size), false);
}

std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t axis) {
  const std::int64_t a = axis_to_cut("chunk", x, axis);
  if (chunks <= 0)
    throw ValueError(fmt::format("chunk: expected a positive number of chunks, got {}", chunks));
  const std::int64_t length = x.shape()[a];
  if (length == 0) return split_views("chunk", x, a, std::vector<std::int64_t>(chunks, 0), false);
  return split_views("chunk", x, a, pieces_of_size(length, (length + chunks - 1) / chunks), false);
}

std::vector<Tensor> unbind(const Tensor& x, std::int64_t axis) {
  const std::int64_t a = axis_to_cut("unbind", x, axis);
  return split_views("unbind", x, a, std::vector<std::int64_t>(x.shape()[a], 1), true);
}

}  // namespace loom
