// Matrix products through OpenBLAS. Transposes are passed to the GEMM as flags, never copied: a
// transposed view (x.t(), x.transpose(-2, -1)) too, read through its strides.
#include "detail/kernels.h"
#include "loom/ops.h"

namespace loom {

namespace {

struct MatrixDims {
  std::int64_t rows, cols;
};
MatrixDims last_two(const Tensor& t) { return {t.shape()[t.dim() - 2], t.shape()[t.dim() - 1]}; }

// How BLAS reads the matrices in the last two axes of a tensor: the storage holds them row-major
// with leading dimension `ld`, or holds their transposes so (a transposed view). Any other layout
// (a slice with a step along the rows, an expanded matrix) is copied first.
struct GemmOperand {
  Tensor tensor;            // the operand, or its contiguous copy
  bool transposed = false;  // the storage holds each matrix's transpose
  std::int64_t ld = 1;      // elements between the storage's rows
};

GemmOperand gemm_operand(const Tensor& t) {
  const std::size_t row_axis = t.shape().size() - 2, col_axis = row_axis + 1;
  const auto [rows, cols] = last_two(t);
  const std::int64_t row_stride = t.strides()[row_axis], col_stride = t.strides()[col_axis];
  if ((cols == 1 || col_stride == 1) && (rows == 1 || row_stride >= std::max<std::int64_t>(cols, 1)))
    return {t, false, rows == 1 ? std::max<std::int64_t>(cols, 1) : row_stride};
  if ((rows == 1 || row_stride == 1) && (cols == 1 || col_stride >= std::max<std::int64_t>(rows, 1)))
    return {t, true, cols == 1 ? std::max<std::int64_t>(rows, 1) : col_stride};
  return {t.contiguous(), false, std::max<std::int64_t>(cols, 1)};
}

// The strides of an operand's batch axes (all but the last two), broadcast to `batch`.
std::vector<std::int64_t> batch_strides(const Tensor& t, const Shape& batch) {
  const Shape shape(t.shape().begin(), t.shape().end() - 2);
  const std::vector<std::int64_t> strides(t.strides().begin(), t.strides().end() - 2);
  return detail::broadcast_strides(shape, strides, batch);
}

// op(a) @ op(b) over broadcast batch axes, op = transpose when the flag is set; no graph.
Tensor batched_product(const Tensor& a_in, bool transpose_a, const Tensor& b_in, bool transpose_b) {
  const GemmOperand a = gemm_operand(a_in), b = gemm_operand(b_in);
  const MatrixDims da = last_two(a_in), db = last_two(b_in);
  const std::int64_t m = transpose_a ? da.cols : da.rows;
  const std::int64_t k = transpose_a ? da.rows : da.cols;
  const std::int64_t n = transpose_b ? db.rows : db.cols;
  const Shape batch_a(a_in.shape().begin(), a_in.shape().end() - 2);
  const Shape batch_b(b_in.shape().begin(), b_in.shape().end() - 2);
  Shape out_shape = detail::broadcast_shapes("matmul", batch_a, batch_b);
  const Shape batch = out_shape;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = empty(out_shape, a_in.dtype());
  detail::dispatch_floating("matmul", a_in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = detail::first_element<T>(a.tensor);
    const T* pb = detail::first_element<T>(b.tensor);
    T* pc = out.data<T>();
    const std::int64_t size_c = m * n;
    std::vector<std::array<std::int64_t, 3>> products;  // (C, A, B) first element of each product
    detail::broadcast_loop<3>(
        batch,
        {detail::contiguous_strides(batch), batch_strides(a.tensor, batch),
         batch_strides(b.tensor, batch)},
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
                             detail::gemm<T>(transpose_a != a.transposed, transpose_b != b.transposed, m, n, k, T(1),
                                             pa + a_index, a.ld, pb + b_index, b.ld, T(0), pc + c * size_c, n);
                           }
                         });
  });
  return out;
}

// (..., M, K) @ (K, N) as one GEMM over all leading rows, and its backward, also one GEMM each.
Tensor rows_times_matrix(const Tensor& a_in, const Tensor& b_in) {
  const std::int64_t k = b_in.shape()[0], n = b_in.shape()[1];
  Shape out_shape(a_in.shape().begin(), a_in.shape().end() - 1);
  const std::int64_t rows = detail::numel_of(out_shape);  // every leading axis, as GEMM rows
  out_shape.push_back(n);
  // A 2-D operand is read through its strides; more axes fold into rows only when contiguous.
  const GemmOperand a = gemm_operand(a_in.dim() == 2 ? a_in : a_in.contiguous().reshape({rows, k}));
  const GemmOperand b = gemm_operand(b_in);
  Tensor out = empty(out_shape, a_in.dtype());
  detail::dispatch_floating("matmul", a_in.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::gemm<T>(a.transposed, b.transposed, rows, n, k, T(1), detail::first_element<T>(a.tensor),
                    a.ld, detail::first_element<T>(b.tensor), b.ld, T(0), out.data<T>(), n);
  });
  record_op(out, "matmul", {a_in, b_in}, [a, b, a_shape = a_in.shape(), rows, k, n](const Tensor& g) {
    Tensor grad_a, grad_b;
    detail::dispatch_floating("matmul", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (a.tensor.requires_grad()) {  // dA = dC @ B^T     (rows, K)
        grad_a = empty(a_shape, g.dtype());
        detail::gemm<T>(false, !b.transposed, rows, k, n, T(1), g.data<T>(), n,
                        detail::first_element<T>(b.tensor), b.ld, T(0), grad_a.data<T>(), k);
      }
      if (b.tensor.requires_grad()) {  // dB = A^T @ dC     (K, N)
        grad_b = empty({k, n}, g.dtype());
        detail::gemm<T>(!a.transposed, false, k, n, rows, T(1), detail::first_element<T>(a.tensor),
                        a.ld, g.data<T>(), n, T(0), grad_b.data<T>(), n);
      }
    });
    return std::vector<Tensor>{grad_a, grad_b};
  }, /*saved=*/{a_in, b_in});
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
  }, /*saved=*/{a, b});
  return out;
}

namespace {

Tensor linear_dense(const Tensor& x, const Tensor& weight, const Tensor& bias) {
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
  }, /*saved=*/{x, weight});
  return out;
}

}  // namespace

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  return linear_dense(detail::dense(x), detail::dense(weight), detail::dense(bias));
}

}  // namespace loom
