// The packed-operand GEMM of detail/packed_gemm.h: register-blocked micro-kernels of up to 6 rows
// by one panel (two vectors), AVX2/FMA intrinsics for float when the build targets them, and a
// plain loop the compiler vectorises for everything else (float64, other CPUs).
#include "detail/packed_gemm.h"

#include <algorithm>
#include <type_traits>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace loom::detail {
namespace {

constexpr std::int64_t kMaxRows = 6;  // rows of A per micro-kernel call

// C[0..rows, 0..cols) (+)= A[0..rows, 0..k) panel[0..k, 0..W): the portable kernel.
template <class T, int Rows>
void micro_kernel(std::int64_t k, const T* a, std::int64_t lda, const T* panel, T* c,
                  std::int64_t ldc, std::int64_t cols, bool accumulate) {
  constexpr std::int64_t W = PackedMatrix<T>::kPanelWidth;
  T acc[Rows][W] = {};
  for (std::int64_t kk = 0; kk < k; ++kk) {
    const T* b = panel + kk * W;
    for (int i = 0; i < Rows; ++i) {
      const T ai = a[i * lda + kk];
      for (std::int64_t j = 0; j < W; ++j) acc[i][j] += ai * b[j];
    }
  }
  for (int i = 0; i < Rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) c[i * ldc + j] = (accumulate ? c[i * ldc + j] : T(0)) + acc[i][j];
}

#if defined(__AVX2__) && defined(__FMA__)
// The float kernel: Rows x 16 accumulators in ymm registers (12 of the 16 at 6 rows), one
// broadcast of A per row and two loads of the panel per k; masks cover a last, partial panel.
template <int Rows>
void micro_kernel_avx2(std::int64_t k, const float* a, std::int64_t lda, const float* panel,
                       float* c, std::int64_t ldc, std::int64_t cols, bool accumulate) {
  // Named accumulators, not an array: GCC spills an array of vectors to the stack every step.
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (std::int64_t kk = 0; kk < k; ++kk) {
    const __m256 b0 = _mm256_loadu_ps(panel + kk * 16), b1 = _mm256_loadu_ps(panel + kk * 16 + 8);
    const float* ak = a + kk;
#define LOOM_ROW(i)                                           \
    if constexpr (Rows > i) {                                 \
      const __m256 ai = _mm256_broadcast_ss(ak + i * lda);    \
      c##i##0 = _mm256_fmadd_ps(ai, b0, c##i##0);             \
      c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);             \
    }
    LOOM_ROW(0) LOOM_ROW(1) LOOM_ROW(2) LOOM_ROW(3) LOOM_ROW(4) LOOM_ROW(5)
#undef LOOM_ROW
  }
  const __m256 acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < Rows; ++i) {
    float* row = c + i * ldc;
    if (cols == 16) {
      __m256 lo = acc[i][0], hi = acc[i][1];
      if (accumulate) {
        lo = _mm256_add_ps(lo, _mm256_loadu_ps(row));
        hi = _mm256_add_ps(hi, _mm256_loadu_ps(row + 8));
      }
      _mm256_storeu_ps(row, lo);
      _mm256_storeu_ps(row + 8, hi);
      continue;
    }
    alignas(32) float tile[16];  // a partial panel: spill the row, add the valid columns
    _mm256_store_ps(tile, acc[i][0]);
    _mm256_store_ps(tile + 8, acc[i][1]);
    for (std::int64_t j = 0; j < cols; ++j) row[j] = (accumulate ? row[j] : 0.0f) + tile[j];
  }
}
#endif

template <class T, int Rows>
void kernel(std::int64_t k, const T* a, std::int64_t lda, const T* panel, T* c, std::int64_t ldc,
            std::int64_t cols, bool accumulate) {
#if defined(__AVX2__) && defined(__FMA__)
  if constexpr (std::is_same_v<T, float>) {
    micro_kernel_avx2<Rows>(k, a, lda, panel, c, ldc, cols, accumulate);
    return;
  }
#endif
  micro_kernel<T, Rows>(k, a, lda, panel, c, ldc, cols, accumulate);
}

// Rows 0..rows (at most kMaxRows) of A against one panel.
template <class T>
void row_block(std::int64_t rows, std::int64_t k, const T* a, std::int64_t lda, const T* panel,
               T* c, std::int64_t ldc, std::int64_t cols, bool accumulate) {
  switch (rows) {
    case 6: return kernel<T, 6>(k, a, lda, panel, c, ldc, cols, accumulate);
    case 5: return kernel<T, 5>(k, a, lda, panel, c, ldc, cols, accumulate);
    case 4: return kernel<T, 4>(k, a, lda, panel, c, ldc, cols, accumulate);
    case 3: return kernel<T, 3>(k, a, lda, panel, c, ldc, cols, accumulate);
    case 2: return kernel<T, 2>(k, a, lda, panel, c, ldc, cols, accumulate);
    default: return kernel<T, 1>(k, a, lda, panel, c, ldc, cols, accumulate);
  }
}

// Fills the panels from element(kk, col), col being the column within group g.
template <class T, class Element>
void fill_panels(std::int64_t k, std::int64_t n, std::int64_t groups, PackedMatrix<T>& packed,
                 Element element) {
  constexpr std::int64_t W = PackedMatrix<T>::kPanelWidth;
  packed.depth = k;
  packed.groups = groups;
  packed.group_cols = n / groups;
  packed.panels_per_group = (packed.group_cols + W - 1) / W;
  packed.data.assign(static_cast<std::size_t>(groups * packed.panels_per_group * k * W), T(0));
  T* out = packed.data.data();
  for (std::int64_t g = 0; g < groups; ++g)
    for (std::int64_t p = 0; p < packed.panels_per_group; ++p)
      for (std::int64_t kk = 0; kk < k; ++kk, out += W) {
        const std::int64_t cols = std::min(W, packed.group_cols - p * W);
        for (std::int64_t j = 0; j < cols; ++j) out[j] = element(kk, g * packed.group_cols + p * W + j);
      }
}

}  // namespace

template <class T>
void pack_transposed(const T* w, std::int64_t n, std::int64_t k, std::int64_t groups,
                     PackedMatrix<T>& packed) {
  fill_panels<T>(k, n, groups, packed, [&](std::int64_t kk, std::int64_t col) { return w[col * k + kk]; });
}

template <class T>
void pack(const T* w, std::int64_t k, std::int64_t n, std::int64_t groups, PackedMatrix<T>& packed) {
  fill_panels<T>(k, n, groups, packed, [&](std::int64_t kk, std::int64_t col) { return w[kk * n + col]; });
}

template <class T>
void gemm_packed(std::int64_t m, const T* a, std::int64_t lda, const PackedMatrix<T>& b,
                 std::int64_t panel_begin, std::int64_t panel_end, T* c, std::int64_t ldc,
                 bool accumulate) {
  constexpr std::int64_t W = PackedMatrix<T>::kPanelWidth;
  const std::int64_t k = b.depth;
  for (std::int64_t g = 0; g < b.groups; ++g)
    for (std::int64_t p = panel_begin; p < panel_end; ++p) {
      const T* panel = b.data.data() + (g * b.panels_per_group + p) * k * W;
      const std::int64_t col0 = g * b.group_cols + p * W, cols = std::min(W, b.group_cols - p * W);
      // Rows in ceil(m / kMaxRows) blocks of near-equal size (32 = 6+6+5+5+5+5, not 5*6+2):
      // a thin last block would run its loads without enough multiplies to hide them.
      const std::int64_t blocks = (m + kMaxRows - 1) / kMaxRows;
      for (std::int64_t block = 0, i = 0; block < blocks; ++block) {
        const std::int64_t rows = (m - i) / (blocks - block);
        const std::int64_t rows_here = rows + ((m - i) % (blocks - block) != 0);
        row_block<T>(rows_here, k, a + i * lda, lda, panel, c + i * ldc + col0, ldc, cols, accumulate);
        i += rows_here;
      }
    }
}

#define LOOM_PACKED_GEMM(T)                                                                      \
  template void pack_transposed<T>(const T*, std::int64_t, std::int64_t, std::int64_t,           \
                                   PackedMatrix<T>&);                                            \
  template void pack<T>(const T*, std::int64_t, std::int64_t, std::int64_t, PackedMatrix<T>&);   \
  template void gemm_packed<T>(std::int64_t, const T*, std::int64_t, const PackedMatrix<T>&,     \
                               std::int64_t, std::int64_t, T*, std::int64_t, bool);
LOOM_PACKED_GEMM(float)
LOOM_PACKED_GEMM(double)
#undef LOOM_PACKED_GEMM

}  // namespace loom::detail
