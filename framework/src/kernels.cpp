// Shared loop helpers and the BLAS entry point.
#include <cblas.h>

#include <algorithm>
#include <type_traits>

#include "detail/kernels.h"
#include "loom/runtime.h"

namespace loom::detail {

std::vector<std::int64_t> broadcast_strides(const Shape& shape, const Shape& out_shape) {
  const auto own = contiguous_strides(shape);
  const std::size_t lead = out_shape.size() - shape.size();
  std::vector<std::int64_t> strides(out_shape.size(), 0);
  for (std::size_t i = 0; i < shape.size(); ++i)
    strides[lead + i] = shape[i] == 1 ? 0 : own[i];
  return strides;
}

AxisLayout axis_layout(const Shape& shape, std::int64_t axis) {
  AxisLayout layout;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(shape.size()); ++i) {
    if (i < axis) layout.outer *= shape[i];
    else if (i == axis) layout.length = shape[i];
    else layout.inner *= shape[i];
  }
  return layout;
}

namespace {
// C = beta * C: what a GEMM with an empty inner dimension computes (BLAS rejects lda = 0).
template <class T>
void scale_rows(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

// One single-threaded BLAS call on this thread.
template <class T>
void blas_gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  const auto blas = [] {
    if constexpr (std::is_same_v<T, float>) return cblas_sgemm;
    else return cblas_dgemm;
  }();
  blas(CblasRowMajor, transpose_a ? CblasTrans : CblasNoTrans, transpose_b ? CblasTrans : CblasNoTrans,
       static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
       static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

}  // namespace

// The product is cut into one block of C per thread, each a single-threaded BLAS call on Loom's
// workers: rows when C is at least as tall as it is wide, else columns (in whole cache lines of
// C, so no two threads write one line). One pool then runs everything; OpenBLAS's own would spin
// beside Loom's between calls (runtime.h). Products under kGemmFlopsPerThread per thread stay on the
// caller.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  const bool split_rows = m >= n;
  const std::int64_t extent = split_rows ? m : n;
  const int threads = static_cast<int>(std::clamp<double>(
      std::min<double>(2.0 * m * n * k / kGemmFlopsPerThread, static_cast<double>(extent)), 1, get_num_threads()));
  if (threads == 1 || in_parallel_region())
    return blas_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  constexpr std::int64_t kColumnAlignment = 64 / sizeof(T);
  parallel_run(threads, [&](int thread) {
    auto boundary = [&](int t) {
      if (t == threads) return extent;
      const std::int64_t at = extent * t / threads;
      return split_rows ? at : at / kColumnAlignment * kColumnAlignment;
    };
    const std::int64_t begin = boundary(thread), end = boundary(thread + 1);
    if (begin >= end) return;
    if (split_rows)
      blas_gemm(transpose_a, transpose_b, end - begin, n, k, alpha, transpose_a ? a + begin : a + begin * lda, lda,
                b, ldb, beta, c + begin * ldc, ldc);
    else
      blas_gemm(transpose_a, transpose_b, m, end - begin, k, alpha, a, lda, transpose_b ? b + begin * ldb : b + begin,
                ldb, beta, c + begin, ldc);
  });
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace loom::detail
