// Reductions over axes. Each single-axis reduction sees the tensor as (outer, length, inner):
// contiguous rows when inner == 1, whole rows added at a time otherwise; both vectorise.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "detail/kernels.h"
#include "loom/ops.h"

namespace loom {


namespace {

// Sum over one axis, keeping it as size 1. Large sums are split between the threads by output
// element (whole rows, or column ranges of the inner axis), so each sum adds in the same order
// whatever the thread count.
template <class T>
void sum_axis_kernel(const T* in, T* out, const detail::AxisLayout& l) {
  if (l.inner == 1) {
    detail::parallel_rows(l.outer, l.length, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t o = begin; o < end; ++o) {
        out[o] = detail::simd_sum_map<T>(l.length, [](auto v) { return v; }, in + o * l.length);
      }
    });
    return;
  }
  // columns [begin, end) of the inner axis, at least a cache line's worth (16 floats) per thread
  constexpr std::int64_t kMinColumns = 16;
  detail::parallel_rows(l.inner, l.outer * l.length, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t o = 0; o < l.outer; ++o) {
      const T* block = in + o * l.length * l.inner;
      T* dst = out + o * l.inner;
      std::fill(dst + begin, dst + end, T(0));
      for (std::int64_t k = 0; k < l.length; ++k) {
        const T* row = block + k * l.inner;
#pragma omp simd
        for (std::int64_t i = begin; i < end; ++i) dst[i] += row[i];
      }
    }
  }, kMinColumns);
}

Tensor sum_one_axis(const Tensor& input, std::int64_t axis) {
  const Tensor x = input.contiguous();  // the kernel walks the storage as (outer, length, inner)
  Shape out_shape = x.shape();
  out_shape[axis] = 1;
  Tensor out = empty(out_shape, x.dtype());
  detail::dispatch_floating("sum", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    sum_axis_kernel(x.data<T>(), out.data<T>(), detail::axis_layout(x.shape(), axis));
  });
  return out;
}

// Sorted, distinct, normalised axes; all axes when `axes` is empty.
std::vector<std::int64_t> reduction_axes(const char* op, const Tensor& x, const Axes& axes) {
  std::set<std::int64_t> unique;
  if (axes.empty()) {
    for (std::int64_t a = 0; a < x.dim(); ++a) unique.insert(a);
  } else {
    for (auto a : axes)
      if (!unique.insert(detail::normalize_axis(op, a, x.dim())).second)
        throw ValueError(fmt::format("{}: axis {} appears twice", op, a));
  }
  return {unique.begin(), unique.end()};
}

Shape reduced_shape(const Shape& shape, const std::vector<std::int64_t>& axes, bool keepdim) {
  Shape out;
  for (std::int64_t a = 0; a < static_cast<std::int64_t>(shape.size()); ++a) {
    const bool reduced = std::find(axes.begin(), axes.end(), a) != axes.end();
    if (!reduced) out.push_back(shape[a]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

// Sum without recording a graph; the result keeps reduced axes as size 1.
Tensor sum_kept(const Tensor& x, const std::vector<std::int64_t>& axes) {
  Tensor out = x;
  for (auto a : axes)
    if (x.dim() > 0) out = sum_one_axis(out, a);
  if (out.impl() == x.impl()) out = x.detach().clone();  // no axis reduced: still a new tensor
  return out;
}

// What makes a value the new maximum or minimum.
const auto greater = [](auto v, auto best) { return v > best; };
const auto less = [](auto v, auto best) { return v < best; };

// Max (or min) over one axis with the position of the first extreme entry.
template <class T, class Better>
void extreme_axis_kernel(const T* in, T* out, std::int64_t* where, const detail::AxisLayout& l,
                         Better better) {
  for (std::int64_t o = 0; o < l.outer; ++o)
    for (std::int64_t i = 0; i < l.inner; ++i) {
      const T* column = in + o * l.length * l.inner + i;
      T best = column[0];
      std::int64_t best_k = 0;
      for (std::int64_t k = 1; k < l.length; ++k) {
        const T v = column[k * l.inner];
        if (better(v, best) || (std::isnan(v) && !std::isnan(best))) best = v, best_k = k;
      }
      out[o * l.inner + i] = best;
      where[o * l.inner + i] = best_k;
    }
}

// Shared by max and min: values, and the gradient routed to the chosen entries.
template <class Better>
Tensor extreme(const char* op, const Tensor& input, std::int64_t axis, bool keepdim, Better better,
               Tensor* indices_out) {
  detail::check_floating(op, input);
  const Tensor x = input.contiguous();  // the kernel walks the storage as (outer, length, inner)
  const std::int64_t a = detail::normalize_axis(op, axis, x.dim());
  const Shape kept = reduced_shape(x.shape(), {a}, true);
  if (x.dim() > 0 && x.shape()[a] == 0)
    throw ValueError(fmt::format("{}: cannot reduce an empty axis of shape {}", op,
                                 shape_str(x.shape())));
  Tensor values = empty(kept, x.dtype());
  Tensor indices = empty(kept, Dtype::Int64);
  detail::dispatch_floating(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    extreme_axis_kernel<T>(x.data<T>(), values.data<T>(), indices.data<std::int64_t>(),
                           detail::axis_layout(x.shape(), x.dim() > 0 ? a : 0), better);
  });
  if (indices_out) *indices_out = keepdim ? indices : indices.reshape(reduced_shape(x.shape(), {a}, false));
  record_op(values, op, {x}, [indices, a, input_shape = x.shape()](const Tensor& g) {
    Tensor grad = zeros(input_shape, g.dtype());
    if (input_shape.empty()) return std::vector<Tensor>{g.reshape({})};
    return std::vector<Tensor>{scatter_add(grad, a, indices, g)};
  });
  return keepdim ? values : values.reshape(reduced_shape(x.shape(), {a}, false));
}

}  // namespace

namespace detail {
Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const std::int64_t lead = grad.dim() - static_cast<std::int64_t>(shape.size());
  std::vector<std::int64_t> axes;
  for (std::int64_t a = 0; a < grad.dim(); ++a)
    if (a < lead || (shape[a - lead] == 1 && grad.shape()[a] != 1)) axes.push_back(a);
  return sum_kept(grad, axes).reshape(shape);
}
}  // namespace detail

Tensor sum(const Tensor& x, const Axes& axes, bool keepdim) {
  detail::check_floating("sum", x);
  const auto reduced = reduction_axes("sum", x, axes);
  Tensor out = sum_kept(x, reduced).detach();
  out = out.reshape(reduced_shape(x.shape(), reduced, keepdim));
  record_op(out, "sum", {x}, [input_shape = x.shape(), kept = reduced_shape(x.shape(), reduced, true)](
                              const Tensor& g) {
    return std::vector<Tensor>{g.reshape(kept).expand(input_shape)};
  });
  return out;
}

Tensor mean(const Tensor& x, const Axes& axes, bool keepdim) {
  detail::check_floating("mean", x);
  std::int64_t count = 1;
  for (auto a : reduction_axes("mean", x, axes)) count *= x.shape()[a];
  if (count == 0)
    throw ValueError(fmt::format("mean: cannot average over an empty axis of shape {}",
                                 shape_str(x.shape())));
  return sum(x, axes, keepdim) / static_cast<double>(count);
}

Tensor max(const Tensor& x, std::int64_t axis, bool keepdim) {
  return extreme("max", x, axis, keepdim, greater, nullptr);
}

Tensor min(const Tensor& x, std::int64_t axis, bool keepdim) {
  return extreme("min", x, axis, keepdim, less, nullptr);
}

namespace {

// max() / min() of all entries; the gradient is shared by the entries equal to the result.
template <class Better>
Tensor extreme_of_all(const char* op, const Tensor& x, Better better) {
  detail::check_floating(op, x);
  if (x.numel() == 0)
    throw ValueError(fmt::format("{}: cannot reduce an empty tensor of shape {}", op, shape_str(x.shape())));
  Tensor value;  // ()
  {
    NoGradGuard no_grad;
    value = extreme(op, x.reshape({-1}), 0, false, better, nullptr);
  }
  record_op(value, op, {x}, [input = x.detach(), value = value.detach()](const Tensor& g) {
    // A NaN result came from the NaN entries, which compare unequal to everything.
    Tensor chosen = std::isnan(value.item()) ? 1.0 - eq(input, input) : eq(input, value);
    return std::vector<Tensor>{chosen * (g / sum(chosen))};
  });
  return value;
}

template <class Better>
Tensor arg_extreme(const char* op, const Tensor& x, std::int64_t axis, bool keepdim, Better better) {
  NoGradGuard no_grad;
  Tensor indices;
  extreme(op, x, axis, keepdim, better, &indices);
  return indices;
}

}  // namespace

Tensor max(const Tensor& x) { return extreme_of_all("max", x, greater); }
Tensor min(const Tensor& x) { return extreme_of_all("min", x, less); }

Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim) {
  return arg_extreme("argmax", x, axis, keepdim, greater);
}
Tensor argmin(const Tensor& x, std::int64_t axis, bool keepdim) {
  return arg_extreme("argmin", x, axis, keepdim, less);
}
Tensor argmax(const Tensor& x) {
  detail::check_defined("argmax", x);
  return arg_extreme("argmax", x.reshape({-1}), 0, false, greater);
}
Tensor argmin(const Tensor& x) {
  detail::check_defined("argmin", x);
  return arg_extreme("argmin", x.reshape({-1}), 0, false, less);
}

Tensor logsumexp(const Tensor& x, std::int64_t axis, bool keepdim) {
  detail::check_floating("logsumexp", x);
  // Shifting by the (constant) maximum keeps exp finite; the gradient is softmax either way.
  Tensor shift = max(x, axis, true).detach();
  // A row that is all -inf (fully masked) or holds NaN is shifted by 0, so it gives -inf or NaN
  // rather than inf - inf.
  detail::dispatch_floating("logsumexp", shift.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = shift.data<T>();
    for (std::int64_t i = 0; i < shift.numel(); ++i)
      if (!std::isfinite(p[i])) p[i] = T(0);
  });
  Tensor out = log(sum(exp(x - shift), {axis}, true)) + shift;
  return keepdim ? out : out.squeeze(axis);
}

}  // namespace loom
