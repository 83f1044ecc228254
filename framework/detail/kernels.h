#pragma once
// Private: the loops behind the ops. Elementwise math and row sums go through xsimd batches
// (simd_map, simd_sum_map), every element on the same path; broadcasting, column sums and copies
// are plain loops over coalesced strides, which the compiler vectorises. Only .cpp files include
// this header.
//
// Where xtensor is used and where not (issue 19 item 3, the rule: a hand-written loop only where
// it is more than 10% faster). bench/bench_array_layer times each family against the same
// computation as an xtensor 0.24 expression (xsimd on) on the same buffers, one thread; bench/README
// has the tables. xtensor's time over Loom's, Xeon / Zen 4: same-shape arithmetic 0.98 / 1.20 and
// a trailing-axis broadcast 0.99 / 1.04 (ties: same-shape binary ops are now xtensor expressions,
// elementwise.cpp), the product 0.99 / 1.01 (the same OpenBLAS call: GEMMs go through xtensor-blas's
// binding, kernels.cpp); a broadcast column 14.6 / 34.9 (its stepper walks element by element), row
// sums 3.1 / 9.7 and a full sum 3.6 / 11.4 (scalar reducers), a transposed copy 5.0 / 1.7,
// layer_norm as expressions 14.6 / 24.2. Broadcasts stay loops because a whole-array xtensor
// broadcast cannot be split between threads along Loom's coalesced axes, and one expression per
// innermost run costs ~15 ns of set-up a run: on Zen 4, 1.5x slower for rows of 512 and 5.3x for
// rows of 16. Column sums: xtensor's reducer ran 0.66x on Zen 4 in the array bench, but inside
// Loom 0.106-0.152 ms from build to build against the loop's 0.13-0.15, and it takes whole arrays
// only (a thread's block of columns is "Layout not supported in immediate reduction"): the loop
// stays. exp 1.16 / 1.12 and tanh 1.05 / 1.11 tie or lose, but xtensor computes a run's unaligned
// head and tail with scalar std::exp (see simd_map), so results would move with the heap.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <xsimd/xsimd.hpp>

#include "detail/parallel.h"
#include "detail/tensor_impl.h"

namespace loom::detail {

/// Calls f(T{}) with T the C++ type of a floating dtype; DtypeError otherwise.
template <class F>
decltype(auto) dispatch_floating(const char* op, Dtype dtype, F&& f) {
  switch (dtype) {
    case Dtype::Float32: return f(float{});
    case Dtype::Float64: return f(double{});
    default: break;
  }
  throw DtypeError(fmt::format("{}: expected a float32 or float64 tensor, got {}", op,
                               dtype_name(dtype)));
}

/// Runs body(std::true_type{}) or body(std::false_type{}): an option tested inside an update loop
/// becomes a compile-time branch, so the loop has none and vectorises.
template <class Body>
void with_flag(bool flag, Body&& body) {
  if (flag)
    body(std::true_type{});
  else
    body(std::false_type{});
}

/// p[begin, end) (fewer values than a batch holds) in one batch, the other lanes copies of
/// p[begin]: the last, partial batch of simd_map and simd_sum_map, which drop the padding's results.
template <class T>
xsimd::batch<T> padded_batch(const T* p, std::int64_t begin, std::int64_t end) {
  std::array<T, xsimd::batch<T>::size> lanes;
  std::fill(std::copy(p + begin, p + end, lanes.begin()), lanes.end(), p[begin]);
  return xsimd::batch<T>::load_unaligned(lanes.data());
}

/// out[i] = f(in[i]...) for i in [0, n), f taking and returning xsimd::batch<T>. Every element
/// goes through the same batch code, the last partial batch too (padded with a copy of its first
/// value, the padding's results dropped), so an element's result depends on its value alone: not
/// on its address, its position in the buffer or how the range is split between threads.
/// (xtensor's assignment, used here before, computes an unaligned head and the tail with scalar
/// std::exp and kin, whose last bit differs from xsimd's: results moved with where the heap put a
/// scratch buffer, and a resumed run drifted from the uninterrupted one.)
/// `out` may be one of the inputs.
template <class T, class F, class... In>
void simd_map(std::int64_t n, T* out, F f, const In*... in) {
  static_assert((std::is_same_v<T, In> && ...), "simd_map: inputs and output share one type");
  using Batch = xsimd::batch<T>;
  constexpr std::int64_t width = Batch::size;
  std::int64_t i = 0;
  for (; i + width <= n; i += width) f(Batch::load_unaligned(in + i)...).store_unaligned(out + i);
  if (i == n) return;
  const std::int64_t rest = n - i;
  std::array<T, width> result;
  f(padded_batch(in, i, n)...).store_unaligned(result.data());
  std::copy(result.begin(), result.begin() + rest, out + i);
}

/// The sum over i in [0, n) of f(in[i]...), f mapping xsimd::batch<T> to xsimd::batch<T>: lane-wise
/// partial sums over whole batches from in[0] in four accumulators taking turns (one alone waits
/// on each addition's latency: a (4096, 512) row sum took 0.153 ms on Zen 4 with one, torch
/// 0.095), the accumulators then added pairwise and their lanes in order, then the last partial
/// batch's lanes (padded as in simd_map, the padding's results left out). The order of the
/// additions depends on n alone, so the sum does not move with the buffer's address.
template <class T, class F, class... In>
T simd_sum_map(std::int64_t n, F f, const In*... in) {
  static_assert((std::is_same_v<T, In> && ...), "simd_sum_map: inputs and result share one type");
  using Batch = xsimd::batch<T>;
  constexpr std::int64_t width = Batch::size;
  Batch partial(T(0)), partial1(T(0)), partial2(T(0)), partial3(T(0));
  std::int64_t i = 0;
  for (; i + 4 * width <= n; i += 4 * width) {
    partial += f(Batch::load_unaligned(in + i)...);
    partial1 += f(Batch::load_unaligned(in + i + width)...);
    partial2 += f(Batch::load_unaligned(in + i + 2 * width)...);
    partial3 += f(Batch::load_unaligned(in + i + 3 * width)...);
  }
  for (; i + width <= n; i += width) partial += f(Batch::load_unaligned(in + i)...);
  partial = (partial + partial1) + (partial2 + partial3);
  std::array<T, width> lanes;
  partial.store_unaligned(lanes.data());
  T total = 0;
  for (T lane : lanes) total += lane;
  if (i == n) return total;
  f(padded_batch(in, i, n)...).store_unaligned(lanes.data());
  for (std::int64_t k = 0; k < n - i; ++k) total += lanes[static_cast<std::size_t>(k)];
  return total;
}

/// body(begin, end) over rows [0, rows) of `row_length` values, split between Loom's threads when
/// each share has enough values to be worth a thread's wake-up and at least `min_rows` rows (rows
/// are independent).
template <class Body>
void parallel_rows(std::int64_t rows, std::int64_t row_length, Body&& body, std::int64_t min_rows = 1) {
  constexpr std::int64_t kValuesPerThread = 1 << 15;
  parallel_for(rows, std::max(min_rows, kValuesPerThread / std::max<std::int64_t>(row_length, 1)), body);
}

/// The strides (in elements) of axes of `shape` laid out with `strides`, read as broadcast to
/// `out_shape`: 0 on broadcast axes.
std::vector<std::int64_t> broadcast_strides(const Shape& shape, const std::vector<std::int64_t>& strides,
                                           const Shape& out_shape);
/// The same for a tensor read through its own strides (a view's).
std::vector<std::int64_t> broadcast_strides(const Tensor& t, const Shape& out_shape);

/// Walks `out_shape` for N operands with the given strides (each of out_shape's rank). Adjacent
/// axes that are contiguous for every operand are merged, so the innermost loop is as long as
/// possible. Calls inner(offsets, length, inner_strides) once per innermost run.
template <std::size_t N, class Inner>
void broadcast_loop(const Shape& out_shape, std::array<std::vector<std::int64_t>, N> strides,
                    Inner&& inner) {
  Shape dims;
  std::array<std::vector<std::int64_t>, N> merged;
  for (std::size_t axis = 0; axis < out_shape.size(); ++axis) {
    if (out_shape[axis] == 1) continue;  // size-1 axes contribute nothing
    bool can_merge = !dims.empty();
    for (std::size_t k = 0; k < N && can_merge; ++k)
      can_merge = merged[k].back() == strides[k][axis] * out_shape[axis];
    if (can_merge) {
      dims.back() *= out_shape[axis];
      for (std::size_t k = 0; k < N; ++k) merged[k].back() = strides[k][axis];
    } else {
      dims.push_back(out_shape[axis]);
      for (std::size_t k = 0; k < N; ++k) merged[k].push_back(strides[k][axis]);
    }
  }
  std::array<std::int64_t, N> offsets{};
  std::array<std::int64_t, N> inner_strides{};
  if (dims.empty()) {  // a single element
    inner(offsets, std::int64_t{1}, inner_strides);
    return;
  }
  const std::size_t last = dims.size() - 1;
  for (std::size_t k = 0; k < N; ++k) inner_strides[k] = merged[k][last];
  std::vector<std::int64_t> counter(last, 0);
  while (true) {
    inner(offsets, dims[last], inner_strides);
    // advance the odometer over the outer axes
    std::size_t axis = last;
    while (axis > 0) {
      --axis;
      if (++counter[axis] < dims[axis]) {
        for (std::size_t k = 0; k < N; ++k) offsets[k] += merged[k][axis];
        break;
      }
      for (std::size_t k = 0; k < N; ++k) offsets[k] -= merged[k][axis] * (dims[axis] - 1);
      counter[axis] = 0;
      if (axis == 0) return;
    }
    if (last == 0) return;
  }
}

/// broadcast_loop split between Loom's threads along axis 0 of `out_shape` when the loop is large
/// (each part's offsets include its start). Operand 0 must be the output, which no two parts share
/// (a dense tensor, or a view whose axis 0 does not alias itself); the split cannot change any
/// value, as each is computed on its own.
template <std::size_t N, class Inner>
void parallel_broadcast_loop(const Shape& out_shape, const std::array<std::vector<std::int64_t>, N>& strides,
                             Inner&& inner) {
  const std::int64_t numel = numel_of(out_shape);
  if (out_shape.empty() || numel == 0) return broadcast_loop<N>(out_shape, strides, inner);
  parallel_rows(out_shape[0], numel / out_shape[0], [&](std::int64_t begin, std::int64_t end) {
    Shape part = out_shape;
    part[0] = end - begin;
    std::array<std::int64_t, N> start{};
    for (std::size_t k = 0; k < N; ++k) start[k] = begin * strides[k][0];
    broadcast_loop<N>(part, strides,
                      [&](std::array<std::int64_t, N> offsets, std::int64_t n, const std::array<std::int64_t, N>& st) {
                        for (std::size_t k = 0; k < N; ++k) offsets[k] += start[k];
                        inner(offsets, n, st);
                      });
  });
}

/// Copies `in` broadcast to `out`'s shape.
template <class T>
void expand_kernel(const Tensor& in, Tensor& out) {
  const T* pi = first_element<T>(in);
  T* po = out.data<T>();
  parallel_broadcast_loop<2>(out.shape(),
                    {contiguous_strides(out.shape()), broadcast_strides(in, out.shape())},
                    [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                        const std::array<std::int64_t, 2>& st) {
                      for (std::int64_t i = 0; i < n; ++i) po[off[0] + i] = pi[off[1] + i * st[1]];
                    });
}

/// A tensor viewed as (outer, length, inner) around one axis: the layout of every single-axis
/// reduction, softmax, slice and concat.
struct AxisLayout {
  std::int64_t outer = 1, length = 1, inner = 1;
};
AxisLayout axis_layout(const Shape& shape, std::int64_t axis);

/// The max of one contiguous row and the sum of exp(x - max) over it, the exponentials left in
/// `exps` (`length` values; may be the output row): the shared core of softmax, log-softmax and
/// cross entropy. A row of all -inf (fully masked) is shifted by 0, so its results are NaN, as
/// in PyTorch.
template <class T>
std::pair<T, T> row_max_and_exp_sum(const T* x, std::int64_t length, T* exps) {
  T row_max = -std::numeric_limits<T>::infinity();
#pragma omp simd reduction(max : row_max)
  for (std::int64_t k = 0; k < length; ++k) row_max = row_max > x[k] ? row_max : x[k];  // std::max does not vectorise here
  if (!std::isfinite(row_max)) row_max = T(0);
  simd_map(length, exps, [row_max](auto v) { return xsimd::exp(v - row_max); }, x);
  return {row_max, simd_sum_map<T>(length, [](auto v) { return v; }, exps)};
}

/// simd_map split between Loom's threads for large n, as rows of one value (the split cannot
/// change any result).
template <class T, class F, class... In>
void parallel_simd_map(std::int64_t n, T* out, F f, const In*... in) {
  parallel_rows(n, 1, [&](std::int64_t begin, std::int64_t end) {
    simd_map(end - begin, out + begin, f, (in + begin)...);
  });
}

/// Copies `row` (n values) into each of the `rows` rows of `out`: the bias rows a GEMM then adds
/// its product to (beta = 1), split between the threads.
template <class T>
void broadcast_rows(const T* row, std::int64_t rows, std::int64_t n, T* out) {
  parallel_rows(rows, n, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t r = begin; r < end; ++r) std::copy(row, row + n, out + r * n);
  });
}

/// The least work (FLOPs) a GEMM hands one thread: under it the wake-up costs what the share saves.
inline constexpr std::int64_t kGemmFlopsPerThread = 2'000'000;

/// C = alpha * op(A) @ op(B) + beta * C, row-major, through OpenBLAS.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k,
          T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c,
          std::int64_t ldc);

}  // namespace loom::detail

namespace loom::detail {

/// Elementwise ops with their backward. `forward(x)` and `backward(x or y, g)` map
/// xsimd::batch<T> to xsimd::batch<T> (simd_map); T is the batch's value_type.
/// y = forward(x) elementwise, no graph: the shared half of the two helpers below.
template <class Forward>
Tensor unary_forward(const char* name, const Tensor& input, Forward forward) {
  check_floating(name, input);
  const Tensor x = input.contiguous();  // simd_map reads one run of values
  Tensor out = empty(x.shape(), x.dtype());
  dispatch_floating(name, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    parallel_simd_map(x.numel(), out.data<T>(), forward, x.data<T>());
  });
  return out;
}

/// grad = backward(saved, g) elementwise: the backward of the two helpers below.
template <class Backward>
Tensor unary_backward(const char* name, const Tensor& saved_view, const Tensor& g, Backward backward) {
  const Tensor saved = saved_view.contiguous();  // an op's input may be a view
  Tensor grad = empty(saved.shape(), saved.dtype());
  dispatch_floating(name, saved.dtype(), [&](auto tag) {
    using T = decltype(tag);
    parallel_simd_map(saved.numel(), grad.data<T>(), backward, saved.data<T>(), g.data<T>());
  });
  return grad;
}

/// An elementwise op whose gradient needs only its input: dx = backward(x, g).
template <class Forward, class Backward>
Tensor unary_from_input(const char* name, const Tensor& x, Forward forward, Backward backward) {
  Tensor out = unary_forward(name, x, forward);
  record_op(out, name, {x}, [x, backward, name](const Tensor& g) {
    return std::vector<Tensor>{unary_backward(name, x, g, backward)};
  }, /*saved=*/{x});
  return out;
}

/// As unary_from_input, for ops whose gradient is cheapest from the output: dx = backward(y, g).
/// Only the output is saved, so the input can be freed before the backward pass.
template <class Forward, class Backward>
Tensor unary_from_output(const char* name, const Tensor& x, Forward forward, Backward backward) {
  Tensor out = unary_forward(name, x, forward);
  record_op(out, name, {x}, [y = out.detach(), backward, name](const Tensor& g) {
    return std::vector<Tensor>{unary_backward(name, y, g, backward)};
  }, /*saved=*/{out});
  return out;
}

}  // namespace loom::detail
