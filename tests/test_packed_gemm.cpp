// The packed-operand GEMM of the fused LSTM (framework/detail/packed_gemm.h) against OpenBLAS
// (loom::matmul is one cblas_?gemm call): exactly equal on integer-valued data, where every
// partial sum is exact in any order, and within rounding on random data; odd sizes throughout,
// with every float kernel this CPU runs. The AVX2 and AVX-512 kernels give the same bits.
#include <doctest/doctest.h>

#include <loom/loom.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "detail/packed_gemm.h"
#include "test_util.h"

namespace {

using loom::detail::SimdLevel;

// The float kernels this CPU runs (the portable one always).
std::vector<SimdLevel> float_kernels() {
  std::vector<SimdLevel> kernels;
  for (SimdLevel kernel : {SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512})
    if (loom::detail::simd_level_available(kernel)) kernels.push_back(kernel);
  return kernels;
}

// W (N, K) as float or double values; integer-valued in [-4, 4] when `integers`.
template <class T>
loom::Tensor matrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed, bool integers) {
  loom::Generator generator(seed);
  const loom::Dtype dtype = sizeof(T) == 4 ? loom::Dtype::Float32 : loom::Dtype::Float64;
  loom::Tensor values = loom::randn({rows, cols}, dtype, &generator);
  if (!integers) return values;
  std::vector<T> rounded(values.data<T>(), values.data<T>() + values.numel());
  for (T& v : rounded) v = std::round(2 * v);
  return loom::from_vector(rounded, {rows, cols});
}

// Runs C (M, N) = C0 (+)= A (M, K) op(W) for every panel split and compares with matmul.
template <class T>
void check_against_blas(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t groups,
                        bool transposed, bool integers, SimdLevel kernel = SimdLevel::Portable) {
  CAPTURE(static_cast<int>(kernel));
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(groups);
  CAPTURE(transposed);
  const loom::Tensor a = matrix<T>(m, k, 1, integers);                           // (M, K)
  const loom::Tensor w = transposed ? matrix<T>(n, k, 2, integers) : matrix<T>(k, n, 2, integers);
  const loom::Tensor c0 = matrix<T>(m, n, 3, integers);                           // (M, N)
  const loom::Tensor product = loom::matmul(a, transposed ? w.t() : w);           // (M, N)
  loom::detail::PackedMatrix<T> packed;
  if (transposed) loom::detail::pack_transposed(w.data<T>(), n, k, groups, packed);
  else loom::detail::pack(w.data<T>(), k, n, groups, packed);
  packed.kernel = kernel;
  const std::int64_t panels = packed.panels_per_group;
  for (bool accumulate : {false, true})
    for (std::int64_t split = 0; split <= panels; ++split) {  // two calls: [0, split), [split, P)
      std::vector<T> c(c0.data<T>(), c0.data<T>() + m * n);
      loom::detail::gemm_packed(m, a.data<T>(), k, packed, 0, split, c.data(), n, accumulate);
      loom::detail::gemm_packed(m, a.data<T>(), k, packed, split, panels, c.data(), n, accumulate);
      double worst = 0;  // |packed - blas| / sum |a| |w| over the products of one entry
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t j = 0; j < n; ++j) {
          const T expected = product.data<T>()[i * n + j] + (accumulate ? c0.data<T>()[i * n + j] : T(0));
          const T got = c[i * n + j];
          if (integers) {
            REQUIRE(got == expected);
            continue;
          }
          double scale = std::abs(accumulate ? c0.data<T>()[i * n + j] : T(0));
          for (std::int64_t kk = 0; kk < k; ++kk)
            scale += std::abs(a.data<T>()[i * k + kk]) *
                     std::abs(transposed ? w.data<T>()[j * k + kk] : w.data<T>()[kk * n + j]);
          worst = std::max(worst, std::abs(double(got) - double(expected)) / scale);
        }
      CHECK(worst <= (sizeof(T) == 4 ? 1e-6 : 1e-15));
    }
}

}  // namespace

TEST_CASE("packed GEMM equals BLAS exactly on integer data: odd sizes, partial panels, splits") {
  for (bool transposed : {true, false}) {
    // rows: below, at and above the 6-row kernel; columns: partial panels in every group
    for (SimdLevel kernel : float_kernels()) {
      // every row count of the 6-row and 12-row kernels; 3 groups: a pair and a single panel
      for (std::int64_t m : {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 24, 25})
        check_against_blas<float>(m, 36, 13, 3, transposed, true, kernel);
      check_against_blas<float>(13, 68, 129, 4, transposed, true, kernel);
      check_against_blas<float>(32, 33, 65, 1, transposed, true, kernel);
    }
    check_against_blas<double>(5, 36, 17, 4, transposed, true);
    check_against_blas<double>(12, 9, 31, 1, transposed, true);
  }
}

TEST_CASE("packed GEMM agrees with BLAS within rounding on random data (float32 and float64)") {
  for (bool transposed : {true, false}) {
    for (SimdLevel kernel : float_kernels()) {
      check_against_blas<float>(32, 512, 128, 4, transposed, false, kernel);  // the H=128 LSTM step
      check_against_blas<float>(11, 100, 257, 4, transposed, false, kernel);
      check_against_blas<float>(32, 96, 64, 3, transposed, false, kernel);  // a GRU step
    }
    check_against_blas<double>(9, 60, 95, 4, transposed, false);
    check_against_blas<double>(3, 23, 40, 1, transposed, false);
  }
}

TEST_CASE("the AVX2 and AVX-512 kernels give the same bits on random data") {
  using loom::detail::simd_level_available;
  if (!simd_level_available(SimdLevel::Avx2) || !simd_level_available(SimdLevel::Avx512)) {
    MESSAGE("skipped: this CPU lacks AVX2 or AVX-512");
    return;
  }
  for (auto [m, n, k, groups] : {std::array<std::int64_t, 4>{32, 512, 128, 4}, {7, 100, 257, 4},
                                 {32, 48, 96, 3}, {13, 40, 33, 1}}) {
    const loom::Tensor a = matrix<float>(m, k, 4, false), w = matrix<float>(n, k, 5, false);
    const loom::Tensor c0 = matrix<float>(m, n, 6, false);
    loom::detail::PackedMatrix<float> packed;
    loom::detail::pack_transposed(w.data<float>(), n, k, groups, packed);
    std::vector<float> results[2];
    int slot = 0;
    for (SimdLevel kernel : {SimdLevel::Avx2, SimdLevel::Avx512}) {
      packed.kernel = kernel;
      std::vector<float>& c = results[slot++];
      c.assign(c0.data<float>(), c0.data<float>() + m * n);
      loom::detail::gemm_packed(m, a.data<float>(), k, packed, 0, packed.panels_per_group, c.data(), n, true);
    }
    CAPTURE(m);
    CAPTURE(n);
    CHECK(std::memcmp(results[0].data(), results[1].data(), sizeof(float) * m * n) == 0);
  }
}

TEST_CASE("LOOM_SIMD caps the kernels and rejects other values with a clear error") {
  using loom::detail::select_simd_level;
  const SimdLevel best = float_kernels().back();  // the widest this CPU runs
  const loom_test::ScopedEnv simd("LOOM_SIMD", nullptr);
  CHECK(select_simd_level() == best);
  simd.set("portable");
  CHECK(select_simd_level() == SimdLevel::Portable);
  loom::detail::PackedMatrix<float> packed;
  const std::vector<float> w(4 * 3, 1.0f);
  loom::detail::pack_transposed(w.data(), 4, 3, 1, packed);
  CHECK(packed.kernel == SimdLevel::Portable);
  simd.set("avx1024");
  CHECK_THROWS_WITH_AS(select_simd_level(),
                       "LOOM_SIMD: expected portable, avx2 or avx512, got 'avx1024'", loom::ValueError);
  if (!loom::detail::simd_level_available(SimdLevel::Avx512)) {
    simd.set("avx512");
    CHECK_THROWS_WITH_AS(select_simd_level(), "LOOM_SIMD: this CPU cannot run the avx512 kernels",
                         loom::ValueError);
  }
}
