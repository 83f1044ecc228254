// Matrix products through OpenBLAS. Transposes are passed to the GEMM as flags, never copied.
#include "detail/kernels.h"
#include "loom/ops.h"

namespace loom {

namespace {

struct MatrixDims {
  std::int64_t rows, cols;
};
MatrixDims last_two(const Tensor& t) { return {t.shape()[t.dim() - 2], t.shape()[t.dim() - 1]}; }

// op(a) @ op(b) over broadcast batch axes, op = transpose when the flag is set; no graph.
Tensor batched_product(const Tensor& a, bool transpose_a, const Tensor& b, bool transpose_b) {
  const MatrixDims da = last_two(a), db = last_two(b);
  const std::int64_t m = transpose_a ? da.cols : da.rows;
  const std::int64_t k = transpose_a ? da.rows : da.cols;
  const std::int64_t n = transpose_b ? db.rows : db.cols;
  const Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  const Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  Shape out_shape = detail::broadcast_shapes("matmul", batch_a, batch_b);
  const Shape batch = out_shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = empty(out_shape, a.dtype());
  detail::dispatch_floating("matmul", a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = out.data<T>();
    const std::int64_t size_a = da.rows * da.cols, size_b = db.rows * db.cols, size_c = m * n;
    std::vector<std::array<std::int64_t, 3>> products;  // (C, A, B) matrix index of each product
    detail::broadcast_loop<3>(
        batch,
        {detail::contiguous_strides(batch), detail::broadcast_strides(batch_a, batch),
         detail::broadcast_strides(batch_b, batch)},
        [&](const std::array<std::int64_t, 3>& off, std::int64_t count,
            const std::array<std::int64_t, 3>& st) {
          for (std::int64_t i = 0; i < count; ++i) products.push_back({off[0] + i * st[0], off[1] + i * st[1], off[2] + i * st[2]});
        });
    // The products are independent: the threads take whole ones (a small product, such as the
    // attention scores of one sequence, is not worth splitting); a large one splits itself.
    const std::int64_t flops = std::max<std::int64_t>(1, 2 * m * n * k);
    detail::parallel_for(static_cast<std::int64_t>(products.size()),
                         std::max<std::int64_t>(1, detail::kGemmFlopsPerThread / flops),
                         [&](std::int64_t begin, std::int64_t end) {
                           for (std::int64_t p = begin; p < end; ++p) {
                             const auto& [c, a_index, b_index] = products[static_cast<std::size_t>(p)];
                             detail::gemm<T>(transpose_a, transpose_b, m, n, k, T(1), pa + a_index * size_a, da.cols,
                                             pb + b_index * size_b, db.cols, T(0), pc + c * size_c, n);
                           }
                         });
  });
  return out;
}

// (..., M, K) @ (K, N) as one GEMM over all leading rows, and its backward, also one GEMM each.
Tensor rows_times_matrix(const Tensor& a, const Tensor& b) {
  const std::int64_t k = b.shape()[0], n = b.shape()[1];
  Shape out_shape(a.shape().begin(), a.shape().end() - 1);
  const std::int64_t rows = detail::numel_of(out_shape);  // every leading axis, as GEMM rows
  out_shape.push_back(n);
  Tensor out = empty(out_shape, a.dtype());
  detail::dispatch_floating("matmul", a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::gemm<T>(false, false, rows, n, k, T(1), a.data<T>(), k, b.data<T>(), n, T(0),
                    out.data<T>(), n);
  });
  record_op(out, "matmul", {a, b}, [a, b, rows, k, n](const Tensor& g) {
    Tensor grad_a, grad_b;
    detail::dispatch_floating("matmul", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (a.requires_grad()) {  // dA = dC @ B^T     (rows, K)
        grad_a = empty(a.shape(), a.dtype());
        detail::gemm<T>(false, true, rows, k, n, T(1), g.data<T>(), n, b.data<T>(), n, T(0),
                        grad_a.data<T>(), k);
      }
      if (b.requires_grad()) {  // dB = A^T @ dC     (K, N)
        grad_b = empty(b.shape(), b.dtype());
        detail::gemm<T>(true, false, k, n, rows, T(1), a.data<T>(), k, g.data<T>(), n, T(0),
                        grad_b.data<T>(), n);
      }
    });
    return std::vector<Tensor>{grad_a, grad_b};
  });
  return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_same_floating("matmul", a, b);
  if (a.dim() == 0 || b.dim() == 0)
    throw ShapeError(fmt::format("matmul: both operands need at least one dimension, got {} @ {}",
                                 shape_str(a.shape()), shape_str(b.shape())));
  if (a.dim() == 1) return matmul(a.unsqueeze(0), b).squeeze(-2);
  if (b.dim() == 1) return matmul(a, b.unsqueeze(-1)).squeeze(-1);
  if (a.shape()[a.dim() - 1] != b.shape()[b.dim() - 2])
    throw ShapeError(fmt::format("matmul: inner dimensions differ: {} @ {}", shape_str(a.shape()),
                                 shape_str(b.shape())));
  if (b.dim() == 2) return rows_times_matrix(a, b);

  Tensor out = batched_product(a, false, b, false);
  record_op(out, "matmul", {a, b}, [a, b](const Tensor& g) {
    return std::vector<Tensor>{
        a.requires_grad() ? detail::sum_to(batched_product(g, false, b, true), a.shape())
                          : Tensor(),
        b.requires_grad() ? detail::sum_to(batched_product(a, true, g, false), b.shape())
                          : Tensor()};
  });
  return out;
}

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  detail::check_same_floating("linear", x, weight);
  if (weight.dim() != 2)
    throw ShapeError(fmt::format("linear: expected a weight of shape (out, in), got {}",
                                 shape_str(weight.shape())));
  if (x.dim() == 0 || x.size(-1) != weight.size(1))
    throw ShapeError(fmt::format("linear: input.size(-1) must be equal to in_features. Expected "
                                 "{}, got {} (input {}, weight {})", weight.size(1),
                                 x.dim() ? x.size(-1) : 0, shape_str(x.shape()),
                                 shape_str(weight.shape())));
  if (bias.defined()) {
    detail::check_same_floating("linear", x, bias);
    if (bias.shape() != Shape{weight.size(0)})
      throw ShapeError(fmt::format("linear: expected a bias of shape ({},), got {}",
                                   weight.size(0), shape_str(bias.shape())));
  }
  const std::int64_t in = weight.size(1), out_features = weight.size(0);
  Shape out_shape = x.shape();
  out_shape.back() = out_features;
  const std::int64_t rows = detail::numel_of(Shape(x.shape().begin(), x.shape().end() - 1));
  Tensor out = empty(out_shape, x.dtype());
  detail::dispatch_floating("linear", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* y = out.data<T>();
    if (bias.defined()) detail::broadcast_rows(bias.data<T>(), rows, out_features, y);  // then beta = 1
    detail::gemm<T>(false, true, rows, out_features, in, T(1), x.data<T>(), in, weight.data<T>(),
                    in, bias.defined() ? T(1) : T(0), y, out_features);
  });
  record_op(out, "linear", {x, weight, bias}, [x, weight, bias, rows, in, out_features](
                                                         const Tensor& g) {
    Tensor grad_x, grad_w, grad_b;
    detail::dispatch_floating("linear", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (x.requires_grad()) {  // dX = dY @ W          (rows, in)
        grad_x = empty(x.shape(), x.dtype());
        detail::gemm<T>(false, false, rows, in, out_features, T(1), g.data<T>(), out_features,
                        weight.data<T>(), in, T(0), grad_x.data<T>(), in);
      }
      if (weight.requires_grad()) {  // dW = dY^T @ X   (out, in)
        grad_w = empty(weight.shape(), weight.dtype());
        detail::gemm<T>(true, false, out_features, in, rows, T(1), g.data<T>(), out_features,
                        x.data<T>(), in, T(0), grad_w.data<T>(), in);
      }
    });
    if (bias.defined() && bias.requires_grad()) grad_b = sum(g.reshape({rows, out_features}), {0});
    return std::vector<Tensor>{grad_x, grad_w, grad_b};
  });
  return out;
}

}  // namespace loom
