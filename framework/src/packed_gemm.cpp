// The packed-operand GEMM of detail/packed_gemm.h. For float, register-blocked micro-kernels in
// AVX2/FMA or AVX-512 intrinsics, chosen when the operand is packed from what the CPU runs (the
// x86-64 build's flags need not include them: each kernel carries its own target attribute); for
// everything else (float64, other CPUs) a plain loop the compiler vectorises.
#include "detail/packed_gemm.h"

#include <algorithm>
#include <type_traits>

#ifdef LOOM_X86_KERNELS
#include <immintrin.h>
#endif

namespace loom::detail {
namespace {

// Calls block(first_row, rows) over rows [0, m) in ceil(m / max_rows) blocks of near-equal size
// (32 = 6+6+5+5+5+5, not 5*6+2): a thin last block would run its loads without enough
// multiplies to hide them.
template <class Block>
void for_row_blocks(std::int64_t m, std::int64_t max_rows, Block&& block) {
  const std::int64_t blocks = (m + max_rows - 1) / max_rows;
  for (std::int64_t done = 0, i = 0; done < blocks; ++done) {
    const std::int64_t rows = (m - i) / (blocks - done) + ((m - i) % (blocks - done) != 0);
    block(i, rows);
    i += rows;
  }
}

// Calls f(std::integral_constant<int, rows>{}) for 1 <= rows <= Max: the kernels unroll over rows.
template <int Max, class F>
void with_rows(std::int64_t rows, F&& f) {
  if constexpr (Max > 1) {
    if (rows < Max) return with_rows<Max - 1>(rows, f);
  }
  f(std::integral_constant<int, Max>{});
}

// One panel of a call: its K x kPanelWidth values and where its columns go in C.
template <class T>
struct Panel {
  const T* values;
  std::int64_t first_col;  // in C
  std::int64_t cols;       // valid columns, at most kPanelWidth
};

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

#ifdef LOOM_X86_KERNELS
// Rows x 16 accumulators in ymm registers (12 of the 16 at 6 rows), one broadcast of A per row
// and two loads of the panel per k; a last, partial panel is spilled and added column by column.
template <int Rows>
LOOM_TARGET_AVX2 void micro_kernel_avx2(std::int64_t k, const float* a, std::int64_t lda,
                                        const float* panel, float* c, std::int64_t ldc,
                                        std::int64_t cols, bool accumulate) {
  // Named accumulators, not an array: GCC spills an array of vectors to the stack every step.
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (std::int64_t kk = 0; kk < k; ++kk) {
    const __m256 b0 = _mm256_load_ps(panel + kk * 16), b1 = _mm256_load_ps(panel + kk * 16 + 8);
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
    alignas(32) float tile[16];
    _mm256_store_ps(tile, acc[i][0]);
    _mm256_store_ps(tile + 8, acc[i][1]);
    for (std::int64_t j = 0; j < cols; ++j) row[j] = (accumulate ? row[j] : 0.0f) + tile[j];
  }
}

// One row of C's panel, masked to its valid columns: C = acc or C += acc (the AVX2 kernel's sum).
LOOM_TARGET_AVX512 inline void store_row_avx512(float* row, __m512 acc, std::int64_t cols,
                                                bool accumulate) {
  const __mmask16 valid = static_cast<__mmask16>((1u << cols) - 1);
  if (accumulate) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(valid, row));
  _mm512_mask_storeu_ps(row, valid, acc);
}

// Two panels at once, Rows <= 12: 24 zmm accumulators, two loads and Rows broadcasts per k, so
// the two FMA pipes, not the loads, set the pace, and each panel pair streams from L2 once per
// 12 rows. The LSTM's and GRU's gates come in such pairs.
template <int Rows>
LOOM_TARGET_AVX512 void micro_kernel_avx512_pair(std::int64_t k, const float* a, std::int64_t lda,
                                                 const Panel<float>& left, const Panel<float>& right,
                                                 float* c, std::int64_t ldc, bool accumulate) {
  __m512 l0 = _mm512_setzero_ps(), l1 = l0, l2 = l0, l3 = l0, l4 = l0, l5 = l0, l6 = l0, l7 = l0,
         l8 = l0, l9 = l0, l10 = l0, l11 = l0;
  __m512 r0 = l0, r1 = l0, r2 = l0, r3 = l0, r4 = l0, r5 = l0, r6 = l0, r7 = l0, r8 = l0, r9 = l0,
         r10 = l0, r11 = l0;
  for (std::int64_t kk = 0; kk < k; ++kk) {
    const __m512 b0 = _mm512_load_ps(left.values + kk * 16), b1 = _mm512_load_ps(right.values + kk * 16);
    const float* ak = a + kk;
#define LOOM_ROW(i)                                  \
    if constexpr (Rows > i) {                        \
      const __m512 ai = _mm512_set1_ps(ak[i * lda]); \
      l##i = _mm512_fmadd_ps(ai, b0, l##i);          \
      r##i = _mm512_fmadd_ps(ai, b1, r##i);          \
    }
    LOOM_ROW(0) LOOM_ROW(1) LOOM_ROW(2) LOOM_ROW(3) LOOM_ROW(4) LOOM_ROW(5)
    LOOM_ROW(6) LOOM_ROW(7) LOOM_ROW(8) LOOM_ROW(9) LOOM_ROW(10) LOOM_ROW(11)
#undef LOOM_ROW
  }
  const __m512 lefts[12] = {l0, l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11};
  const __m512 rights[12] = {r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11};
  for (int i = 0; i < Rows; ++i) {
    store_row_avx512(c + i * ldc + left.first_col, lefts[i], left.cols, accumulate);
    store_row_avx512(c + i * ldc + right.first_col, rights[i], right.cols, accumulate);
  }
}

// One panel, Rows <= 12: a zmm accumulator per row, enough for the FMA latency to hide behind;
// a load and Rows broadcasts per k (more rows would make the loads, not the FMAs, the limit).
template <int Rows>
LOOM_TARGET_AVX512 void micro_kernel_avx512(std::int64_t k, const float* a, std::int64_t lda,
                                            const Panel<float>& panel, float* c, std::int64_t ldc,
                                            bool accumulate) {
  __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0,
         c8 = c0, c9 = c0, c10 = c0, c11 = c0;
  for (std::int64_t kk = 0; kk < k; ++kk) {
    const __m512 b = _mm512_load_ps(panel.values + kk * 16);
    const float* ak = a + kk;
#define LOOM_ROW(i) \
    if constexpr (Rows > i) c##i = _mm512_fmadd_ps(_mm512_set1_ps(ak[i * lda]), b, c##i);
    LOOM_ROW(0) LOOM_ROW(1) LOOM_ROW(2) LOOM_ROW(3) LOOM_ROW(4) LOOM_ROW(5)
    LOOM_ROW(6) LOOM_ROW(7) LOOM_ROW(8) LOOM_ROW(9) LOOM_ROW(10) LOOM_ROW(11)
#undef LOOM_ROW
  }
  const __m512 acc[12] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11};
  for (int i = 0; i < Rows; ++i) store_row_avx512(c + i * ldc + panel.first_col, acc[i], panel.cols, accumulate);
}

#endif

// Fills the panels from element(kk, col), col being the column within group g.
template <class T, class Element>
void fill_panels(std::int64_t k, std::int64_t n, std::int64_t groups, PackedMatrix<T>& packed,
                 Element element) {
  constexpr std::int64_t W = PackedMatrix<T>::kPanelWidth;
  packed.kernel = std::is_same_v<T, float> ? select_simd_level() : SimdLevel::Portable;
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
  const std::int64_t k = b.depth, per_group = panel_end - panel_begin;
  const std::int64_t count = b.groups * per_group;  // the call's panels: each group's [begin, end)
  auto panel = [&](std::int64_t index) {
    const std::int64_t g = index / per_group, p = panel_begin + index % per_group;
    return Panel<T>{b.data.data() + (g * b.panels_per_group + p) * k * W, g * b.group_cols + p * W,
                    std::min(W, b.group_cols - p * W)};
  };
  std::int64_t index = 0;  // panels before it are done
#ifdef LOOM_X86_KERNELS
  if constexpr (std::is_same_v<T, float>) {
    if (b.kernel == SimdLevel::Avx512) {
      for (; index + 1 < count; index += 2) {
        const Panel<T> left = panel(index), right = panel(index + 1);
        for_row_blocks(m, 12, [&](std::int64_t i, std::int64_t rows) {
          with_rows<12>(rows, [&](auto r) {
            micro_kernel_avx512_pair<decltype(r)::value>(k, a + i * lda, lda, left, right, c + i * ldc, ldc, accumulate);
          });
        });
      }
      if (index < count) {
        const Panel<T> last = panel(index);
        for_row_blocks(m, 12, [&](std::int64_t i, std::int64_t rows) {
          with_rows<12>(rows, [&](auto r) {
            micro_kernel_avx512<decltype(r)::value>(k, a + i * lda, lda, last, c + i * ldc, ldc, accumulate);
          });
        });
      }
      return;
    }
  }
#endif
  for (; index < count; ++index) {
    const Panel<T> one = panel(index);
    for_row_blocks(m, 6, [&](std::int64_t i, std::int64_t rows) {
      with_rows<6>(rows, [&](auto r) {
        T* c_block = c + i * ldc + one.first_col;
#ifdef LOOM_X86_KERNELS
        if constexpr (std::is_same_v<T, float>) {
          if (b.kernel == SimdLevel::Avx2)
            return micro_kernel_avx2<decltype(r)::value>(k, a + i * lda, lda, one.values, c_block, ldc, one.cols, accumulate);
        }
#endif
        micro_kernel<T, decltype(r)::value>(k, a + i * lda, lda, one.values, c_block, ldc, one.cols, accumulate);
      });
    });
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
