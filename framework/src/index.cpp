// Indexing and joining: embedding, index_select, gather, scatter_add, concat, stack (split, chunk
// and unbind, views, are in shape_ops.cpp).
#include <cstring>

#include "detail/kernels.h"
#include "loom/ops.h"

namespace loom {


namespace {

// Checks that every index lies in [0, size).
void check_indices(const char* op, const Tensor& indices, std::int64_t size, const char* what) {
  const std::int64_t* p = indices.data<std::int64_t>();
  for (std::int64_t i = 0; i < indices.numel(); ++i)
    if (p[i] < 0 || p[i] >= size)
      throw IndexError(fmt::format("{}: index {} is out of range for {} {}", op, p[i], size, what));
}

// out[o, k, :] (+)= in[o, index[k], :] over the (outer, length, inner) layout of `axis`:
// index_select reads through the index, its backward adds back through it.
template <class T, bool accumulate_into_indexed>
void copy_rows(const T* in, T* out, const std::int64_t* index, std::int64_t count,
               std::int64_t outer, std::int64_t indexed_length, std::int64_t inner) {
  for (std::int64_t o = 0; o < outer; ++o)
    for (std::int64_t k = 0; k < count; ++k) {
      if constexpr (accumulate_into_indexed) {
        T* dst = out + (o * indexed_length + index[k]) * inner;
        const T* src = in + (o * count + k) * inner;
        for (std::int64_t i = 0; i < inner; ++i) dst[i] += src[i];
      } else {
        std::memcpy(out + (o * count + k) * inner, in + (o * indexed_length + index[k]) * inner,
                    static_cast<std::size_t>(inner) * sizeof(T));
      }
    }
}

// Adds `grad` rows (outer, count, inner) into a zero tensor of `shape` at `index` along `axis`.
Tensor index_add_zeros(const Tensor& grad, const Shape& shape, std::int64_t axis,
                       const Tensor& index) {
  Tensor out = zeros(shape, grad.dtype());
  const auto layout = detail::axis_layout(shape, axis);
  detail::dispatch_floating("index_select", grad.dtype(), [&](auto tag) {
    using T = decltype(tag);
    copy_rows<T, true>(grad.data<T>(), out.data<T>(), index.data<std::int64_t>(), index.numel(),
                       layout.outer, layout.length, layout.inner);
  });
  return out;
}

}  // namespace

Tensor index_select(const Tensor& x_view, std::int64_t axis, const Tensor& indices_view) {
  const Tensor x = detail::dense(x_view), indices = detail::dense(indices_view);  // the kernel walks the storage row-major
  detail::check_defined("index_select", x);  // int64 too: picking rows of index data
  detail::check_index_tensor("index_select", indices);
  if (indices.dim() != 1)
    throw ShapeError(fmt::format("index_select: expected 1-D indices, got shape {}",
                                 shape_str(indices.shape())));
  if (x.dim() == 0) throw ShapeError("index_select: cannot index a 0-dimensional tensor");
  const std::int64_t a = detail::normalize_axis("index_select", axis, x.dim());
  check_indices("index_select", indices, x.shape()[a], "entries");
  Shape out_shape = x.shape();
  out_shape[a] = indices.numel();
  Tensor out = empty(out_shape, x.dtype());
  const auto layout = detail::axis_layout(x.shape(), a);
  auto select_rows = [&](auto tag) {
    using T = decltype(tag);
    copy_rows<T, false>(x.data<T>(), out.data<T>(), indices.data<std::int64_t>(), indices.numel(),
                        layout.outer, layout.length, layout.inner);
  };
  if (x.dtype() == Dtype::Int64) select_rows(std::int64_t{});
  else detail::dispatch_floating("index_select", x.dtype(), select_rows);
  record_op(out, "index_select", {x}, [indices, a, shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{index_add_zeros(g, shape, a, indices)};
  });
  return out;
}

Tensor embedding(const Tensor& weight_view, const Tensor& indices_view) {
  const Tensor weight = detail::dense(weight_view), indices = detail::dense(indices_view);  // the kernel walks the storage row-major
  detail::check_floating("embedding", weight);
  detail::check_index_tensor("embedding", indices);
  if (weight.dim() != 2)
    throw ShapeError(fmt::format("embedding: expected a weight of shape (V, E), got {}",
                                 shape_str(weight.shape())));
  const std::int64_t rows = weight.size(0);
  check_indices("embedding", indices, rows, "rows");
  Shape out_shape = indices.shape();
  out_shape.push_back(weight.size(1));
  Tensor flat_indices = indices.reshape({indices.numel()});
  Tensor out = empty({indices.numel(), weight.size(1)}, weight.dtype());
  detail::dispatch_floating("embedding", weight.dtype(), [&](auto tag) {
    using T = decltype(tag);
    copy_rows<T, false>(weight.data<T>(), out.data<T>(), flat_indices.data<std::int64_t>(),
                        flat_indices.numel(), 1, rows, weight.size(1));
  });
  // The backward adds only into the rows that were looked up.
  record_op(out, "embedding", {weight}, [flat_indices, shape = weight.shape()](const Tensor& g) {
    return std::vector<Tensor>{index_add_zeros(g, shape, 0, flat_indices)};
  });
  return out.reshape(out_shape);
}

namespace {

// The (x offset, index offset) pairs of gather/scatter: for every position p of `index`,
// x[p with axis replaced by index[p]].
template <class Visit>
void for_each_gathered(const Shape& x_shape, std::int64_t axis, const Tensor& index, Visit visit) {
  const auto x_strides = detail::contiguous_strides(x_shape);
  const Shape& shape = index.shape();
  const std::int64_t* idx = index.data<std::int64_t>();
  std::vector<std::int64_t> counter(shape.size(), 0);
  std::int64_t base = 0;  // x offset of `counter` with the axis coordinate left out
  for (std::int64_t p = 0; p < index.numel(); ++p) {
    visit(base + idx[p] * x_strides[axis], p);
    for (std::int64_t d = static_cast<std::int64_t>(shape.size()) - 1; d >= 0; --d) {
      if (++counter[d] < shape[d]) {
        if (d != axis) base += x_strides[d];
        break;
      }
      if (d != axis) base -= x_strides[d] * (shape[d] - 1);
      counter[d] = 0;
    }
  }
}

void check_gather_shapes(const char* op, const Tensor& x, std::int64_t axis, const Tensor& index) {
  detail::check_floating(op, x);
  detail::check_index_tensor(op, index);
  if (index.dim() != x.dim())
    throw ShapeError(fmt::format("{}: index of shape {} must have the rank of the input {}", op,
                                 shape_str(index.shape()), shape_str(x.shape())));
  for (std::int64_t d = 0; d < x.dim(); ++d)
    if (d != axis && index.shape()[d] > x.shape()[d])
      throw ShapeError(fmt::format("{}: index of shape {} is larger than the input {} at axis {}",
                                   op, shape_str(index.shape()), shape_str(x.shape()), d));
  check_indices(op, index, x.dim() ? x.shape()[axis] : 1, "entries along the axis");
}

}  // namespace

Tensor gather(const Tensor& x_view, std::int64_t axis, const Tensor& index_view) {
  const Tensor x = detail::dense(x_view), index = detail::dense(index_view);  // the kernel walks the storage row-major
  const std::int64_t a = detail::normalize_axis("gather", axis, x.dim());
  check_gather_shapes("gather", x, a, index);
  Tensor out = empty(index.shape(), x.dtype());
  detail::dispatch_floating("gather", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for_each_gathered(x.shape(), a, index, [&](std::int64_t at, std::int64_t p) { po[p] = px[at]; });
  });
  record_op(out, "gather", {x}, [index, a, shape = x.shape()](const Tensor& g) {
    return std::vector<Tensor>{scatter_add(zeros(shape, g.dtype()), a, index, g)};
  });
  return out;
}

Tensor scatter_add(const Tensor& x_view, std::int64_t axis, const Tensor& index_view, const Tensor& src_view) {
  const Tensor x = detail::dense(x_view), index = detail::dense(index_view), src = detail::dense(src_view);  // the kernel walks the storage row-major
  const std::int64_t a = detail::normalize_axis("scatter_add", axis, x.dim());
  check_gather_shapes("scatter_add", x, a, index);
  detail::check_same_floating("scatter_add", x, src);
  if (src.shape() != index.shape())
    throw ShapeError(fmt::format("scatter_add: src of shape {} must match the index's shape {}",
                                 shape_str(src.shape()), shape_str(index.shape())));
  Tensor out = x.detach().clone();
  detail::dispatch_floating("scatter_add", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* ps = src.data<T>();
    T* po = out.data<T>();
    for_each_gathered(x.shape(), a, index, [&](std::int64_t at, std::int64_t p) { po[at] += ps[p]; });
  });
  record_op(out, "scatter_add", {x, src}, [index, a](const Tensor& g) {
    return std::vector<Tensor>{g, gather(g, a, index)};
  });
  return out;
}

Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis) {
  if (tensors.empty()) throw ValueError("concat: expected at least one tensor");
  detail::check_defined("concat", tensors[0]);  // any dtype: int64 token batches are joined too
  const Shape& first = tensors[0].shape();
  if (first.empty()) throw ShapeError("concat: cannot join 0-dimensional tensors; use stack");
  const std::int64_t a = detail::normalize_axis("concat", axis, static_cast<std::int64_t>(first.size()));
  Shape out_shape = first;
  out_shape[a] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    detail::check_defined("concat", tensors[i]);
    if (tensors[i].dtype() != tensors[0].dtype())
      throw DtypeError(fmt::format("concat: tensor {} is {} but tensor 0 is {}", i,
                                   dtype_name(tensors[i].dtype()), dtype_name(tensors[0].dtype())));
    Shape expected = first;
    expected[a] = tensors[i].dim() == static_cast<std::int64_t>(first.size()) ? tensors[i].shape()[a] : -1;
    if (tensors[i].shape() != expected)
      throw ShapeError(fmt::format("concat: tensor {} has shape {}, expected {} with any size at "
                                   "axis {}", i, shape_str(tensors[i].shape()), shape_str(first), a));
    out_shape[a] += tensors[i].shape()[a];
  }
  Tensor out = empty(out_shape, tensors[0].dtype());
  std::vector<std::int64_t> sizes;
  std::int64_t start = 0;
  for (const auto& t : tensors) {
    const std::int64_t length = t.shape()[a];
    sizes.push_back(length);
    Tensor part = out.narrow(a, start, length);  // a view of out, which records no graph
    detail::copy_strided(t, part);
    start += length;
  }
  record_op(out, "concat", tensors, [sizes, a](const Tensor& g) { return split(g, sizes, a); });
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t axis) {
  if (tensors.empty()) throw ValueError("stack: expected at least one tensor");
  const std::int64_t a = detail::normalize_axis("stack", axis, tensors[0].dim() + 1);
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].shape() != tensors[0].shape())
      throw ShapeError(fmt::format("stack: tensor {} has shape {}, expected {}", i,
                                   shape_str(tensors[i].shape()), shape_str(tensors[0].shape())));
    expanded.push_back(tensors[i].unsqueeze(a));
  }
  return concat(expanded, a);
}

}  // namespace loom
