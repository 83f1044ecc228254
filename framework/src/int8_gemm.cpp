// The int8 GEMM of detail/int8_gemm.h: register-blocked micro-kernels of up to 4 rows by two
// blocks of 8 channels, in AVX2 intrinsics (maddubs u8 x s8 -> int16 pairs, madd with ones ->
// int32) or a plain loop; on CPUs with AVX-512 VNNI, up to 6 rows with one vpdpbusd per row and
// block in place of those three instructions. The kernel is chosen at run time
// (detail/simd_level.h); the dequantization and the activations' coding around it are compiled
// for the build's target. The integer sums are exact, so any kernel and any split of the work
// between threads give the same bits.
#include "detail/int8_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "detail/simd_level.h"

#if defined(__AVX2__) || defined(LOOM_X86_KERNELS)
#include <immintrin.h>
#endif

namespace loom::detail {
namespace {

constexpr std::int64_t kMaxRows = 6;    // rows of X per micro-kernel call (VNNI; the others 4)
constexpr std::int64_t kMaxBlocks = 2;  // blocks of 8 channels per micro-kernel call
constexpr std::int64_t kQuadBytes = Int8Matrix::kBlock * 4;  // one quad of K for a block
constexpr float kActivationMax = 127.0f;  // the 7-bit range (see the header)

using Tile = std::int32_t[kMaxRows][kMaxBlocks * Int8Matrix::kBlock];

// The plain loop.
template <int Rows, int Blocks>
void micro_kernel(std::int64_t quads, const std::uint8_t* x, std::int64_t ldx,
                  const std::int8_t* block0, const std::int8_t* block1, Tile& tile) {
  const std::int8_t* blocks[2] = {block0, block1};
  for (int i = 0; i < Rows; ++i)
    for (int b = 0; b < Blocks; ++b)
      for (std::int64_t lane = 0; lane < Int8Matrix::kBlock; ++lane) {
        std::int32_t sum = 0;
        for (std::int64_t q = 0; q < quads; ++q)
          for (std::int64_t e = 0; e < 4; ++e)
            sum += std::int32_t(x[i * ldx + q * 4 + e]) * blocks[b][q * kQuadBytes + lane * 4 + e];
        tile[i][b * Int8Matrix::kBlock + lane] = sum;
      }
}

#ifdef LOOM_X86_KERNELS
// Rows x (8 * Blocks) int32 accumulators in ymm registers; per quad of K one 4-byte broadcast of
// each row of X and one load per block of W.
template <int Rows, int Blocks>
LOOM_TARGET_AVX2 void micro_kernel_avx2(std::int64_t quads, const std::uint8_t* x, std::int64_t ldx,
                                        const std::int8_t* block0, const std::int8_t* block1, Tile& tile) {
  const __m256i ones = _mm256_set1_epi16(1);
  // Named accumulators, not an array: GCC spills an array of vectors to the stack every step.
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
          c30 = c00, c31 = c00;
  for (std::int64_t q = 0; q < quads; ++q) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block0 + q * kQuadBytes));
    const __m256i w1 = Blocks > 1
        ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block1 + q * kQuadBytes)) : w0;
#define LOOM_ROW(i)                                                                      \
    if constexpr (Rows > i) {                                                            \
      std::int32_t quad;                                                                 \
      std::memcpy(&quad, x + i * ldx + q * 4, sizeof quad);                              \
      const __m256i xi = _mm256_set1_epi32(quad);                                        \
      c##i##0 = _mm256_add_epi32(c##i##0, _mm256_madd_epi16(_mm256_maddubs_epi16(xi, w0), ones)); \
      if constexpr (Blocks > 1)                                                          \
        c##i##1 = _mm256_add_epi32(c##i##1, _mm256_madd_epi16(_mm256_maddubs_epi16(xi, w1), ones)); \
    }
    LOOM_ROW(0) LOOM_ROW(1) LOOM_ROW(2) LOOM_ROW(3)
#undef LOOM_ROW
  }
  const __m256i acc[4][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}};
  for (int i = 0; i < Rows; ++i)
    for (int b = 0; b < Blocks; ++b)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile[i] + b * Int8Matrix::kBlock), acc[i][b]);
}

// Rows x (8 * Blocks) int32 accumulators; per quad of K one 4-byte broadcast of each row of X
// and one load per block of W, then one vpdpbusd (u8 x s8, four products summed into int32) per
// row and block. 6 rows of two blocks keep 12 independent sums in flight, enough to hide its
// latency.
template <int Rows, int Blocks>
LOOM_TARGET_AVX512_VNNI void micro_kernel_vnni(std::int64_t quads, const std::uint8_t* x, std::int64_t ldx,
                                               const std::int8_t* block0, const std::int8_t* block1, Tile& tile) {
  __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
          c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (std::int64_t q = 0; q < quads; ++q) {
    const __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block0 + q * kQuadBytes));
    const __m256i w1 = Blocks > 1
        ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block1 + q * kQuadBytes)) : w0;
#define LOOM_ROW(i)                                                      \
    if constexpr (Rows > i) {                                            \
      std::int32_t quad;                                                 \
      std::memcpy(&quad, x + i * ldx + q * 4, sizeof quad);              \
      const __m256i xi = _mm256_set1_epi32(quad);                        \
      c##i##0 = _mm256_dpbusd_epi32(c##i##0, xi, w0);                    \
      if constexpr (Blocks > 1) c##i##1 = _mm256_dpbusd_epi32(c##i##1, xi, w1); \
    }
    LOOM_ROW(0) LOOM_ROW(1) LOOM_ROW(2) LOOM_ROW(3) LOOM_ROW(4) LOOM_ROW(5)
#undef LOOM_ROW
  }
  const __m256i acc[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < Rows; ++i)
    for (int b = 0; b < Blocks; ++b)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(tile[i] + b * Int8Matrix::kBlock), acc[i][b]);
}
#endif

using MicroKernel = void (*)(std::int64_t, const std::uint8_t*, std::int64_t, const std::int8_t*,
                             const std::int8_t*, Tile&);
using KernelTable = MicroKernel[kMaxRows][kMaxBlocks];  // [rows - 1][blocks - 1]

#define LOOM_KERNEL_ROW(kernel, rows) {kernel<rows, 1>, kernel<rows, 2>}
constexpr KernelTable kPlainKernels = {LOOM_KERNEL_ROW(micro_kernel, 1), LOOM_KERNEL_ROW(micro_kernel, 2),
                                       LOOM_KERNEL_ROW(micro_kernel, 3), LOOM_KERNEL_ROW(micro_kernel, 4)};
#ifdef LOOM_X86_KERNELS
constexpr KernelTable kAvx2Kernels = {LOOM_KERNEL_ROW(micro_kernel_avx2, 1), LOOM_KERNEL_ROW(micro_kernel_avx2, 2),
                                      LOOM_KERNEL_ROW(micro_kernel_avx2, 3), LOOM_KERNEL_ROW(micro_kernel_avx2, 4)};
constexpr KernelTable kVnniKernels = {LOOM_KERNEL_ROW(micro_kernel_vnni, 1), LOOM_KERNEL_ROW(micro_kernel_vnni, 2),
                                      LOOM_KERNEL_ROW(micro_kernel_vnni, 3), LOOM_KERNEL_ROW(micro_kernel_vnni, 4),
                                      LOOM_KERNEL_ROW(micro_kernel_vnni, 5), LOOM_KERNEL_ROW(micro_kernel_vnni, 6)};
#endif
#undef LOOM_KERNEL_ROW

// Runs the micro-kernels over rows [0, m) and blocks [block_begin, block_end) of `group`, two
// blocks at a time (they stay in L1 while the rows of X stream past), and hands each tile to
// epilogue(row, rows, block, blocks, tile).
template <class Epilogue>
void for_each_tile(std::int64_t m, const Int8Rows& x, const Int8Matrix& w, std::int64_t group,
                   std::int64_t block_begin, std::int64_t block_end, Epilogue&& epilogue) {
  const std::int64_t quads = w.depth_padded / 4, block_bytes = quads * kQuadBytes;
  const std::int8_t* group_data = w.data.data() + group * w.blocks_per_group * block_bytes;
  Tile tile;
  const KernelTable* kernels = &kPlainKernels;
  std::int64_t max_rows = 4;
#ifdef LOOM_X86_KERNELS
  if (w.kernel == SimdLevel::Avx2) kernels = &kAvx2Kernels;
  if (w.kernel == SimdLevel::Avx512) {
    kernels = &kVnniKernels;
    max_rows = kMaxRows;
  }
#endif
  for (std::int64_t block = block_begin; block < block_end; block += kMaxBlocks) {
    const std::int64_t blocks = std::min(kMaxBlocks, block_end - block);
    const std::int8_t* block0 = group_data + block * block_bytes;
    for (std::int64_t row = 0; row < m; row += max_rows) {
      const std::int64_t rows = std::min(max_rows, m - row);
      (*kernels)[rows - 1][blocks - 1](quads, x.data.data() + row * x.depth_padded, x.depth_padded,
                                     block0, block0 + block_bytes, tile);
      epilogue(row, rows, block, blocks, tile);
    }
  }
}

// y[j] (+)= s_x s_w[j] (acc[j] - z_x rowsum[j]) (+ bias[j]) for the `count` channels of one
// block. A whole block takes the vector path, the ragged last one the scalar loop: a channel's
// path depends on its block alone, never on how threads split the blocks, so the bits do not.
void dequantize_block(const std::int32_t* acc, float x_scale, std::int32_t zero_point,
                      const float* scales, const std::int32_t* sums, const float* bias, float* y,
                      std::int64_t count, bool accumulate) {
#if defined(__AVX2__)
  if (count == Int8Matrix::kBlock) {
    const __m256i corrected = _mm256_sub_epi32(
        _mm256_loadu_si256(reinterpret_cast<const __m256i*>(acc)),
        _mm256_mullo_epi32(_mm256_set1_epi32(zero_point), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sums))));
    __m256 value = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(x_scale), _mm256_loadu_ps(scales)),
                                 _mm256_cvtepi32_ps(corrected));
    if (bias) value = _mm256_add_ps(value, _mm256_loadu_ps(bias));
    if (accumulate) value = _mm256_add_ps(_mm256_loadu_ps(y), value);
    _mm256_storeu_ps(y, value);
    return;
  }
#endif
  for (std::int64_t j = 0; j < count; ++j) {
    float value = x_scale * scales[j] * static_cast<float>(acc[j] - zero_point * sums[j]);
    if (bias) value += bias[j];
    y[j] = accumulate ? y[j] + value : value;
  }
}

// The 7-bit codes of one row: q = clamp(round(x / scale) + z, 0, 127), rounding half to even
// (the vector conversion and nearbyint both do, so both paths give the same codes).
void code_row(const float* x, std::int64_t k, float inverse, float zero_point, std::uint8_t* q) {
  std::int64_t e = 0;
#if defined(__AVX2__)
  const __m256 scale = _mm256_set1_ps(inverse);
  const __m256i zero = _mm256_set1_epi32(static_cast<std::int32_t>(zero_point)), low = _mm256_setzero_si256(),
                high = _mm256_set1_epi32(static_cast<std::int32_t>(kActivationMax));
  const __m256i gather = _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0);  // the 4 bytes of each lane
  for (; e + 8 <= k; e += 8) {
    __m256i codes = _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + e), scale)), zero);
    codes = _mm256_min_epi32(_mm256_max_epi32(codes, low), high);
    const __m256i bytes = _mm256_packus_epi16(_mm256_packs_epi32(codes, codes), codes);  // lane bytes 0-3
    _mm_storel_epi64(reinterpret_cast<__m128i*>(q + e),
                     _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bytes, gather)));
  }
#endif
  for (; e < k; ++e)
    q[e] = static_cast<std::uint8_t>(std::clamp(std::nearbyint(x[e] * inverse) + zero_point, 0.0f, kActivationMax));
}

// The range [low, high] of one row, widened to hold 0; false if a value is NaN or infinite.
bool row_range(const float* x, std::int64_t k, float& low, float& high) {
  std::int64_t e = 0;
  float poison = 0.0f;  // x * 0 summed: NaN as soon as one x is NaN or infinite
#if defined(__AVX2__)
  __m256 lows = _mm256_setzero_ps(), highs = lows, poisons = lows;
  for (; e + 8 <= k; e += 8) {
    const __m256 v = _mm256_loadu_ps(x + e);
    lows = _mm256_min_ps(lows, v);
    highs = _mm256_max_ps(highs, v);
    poisons = _mm256_add_ps(poisons, _mm256_mul_ps(v, _mm256_setzero_ps()));
  }
  float lanes[3][8];
  _mm256_storeu_ps(lanes[0], lows);
  _mm256_storeu_ps(lanes[1], highs);
  _mm256_storeu_ps(lanes[2], poisons);
  low = *std::min_element(lanes[0], lanes[0] + 8);
  high = *std::max_element(lanes[1], lanes[1] + 8);
  for (float p : lanes[2]) poison += p;
#else
  low = high = 0.0f;
#endif
  for (; e < k; ++e) {
    low = std::min(low, x[e]);
    high = std::max(high, x[e]);
    poison += x[e] * 0.0f;
  }
  return poison == 0.0f;
}

}  // namespace

float quantize_symmetric(const float* row, std::int64_t k, std::int8_t* codes) {
  float max_abs = 0.0f;
  for (std::int64_t e = 0; e < k; ++e) max_abs = std::max(max_abs, std::abs(row[e]));
  const float scale = max_abs / 127.0f;
  for (std::int64_t e = 0; e < k; ++e)
    codes[e] = scale > 0.0f ? static_cast<std::int8_t>(std::clamp(std::nearbyint(row[e] / scale), -127.0f, 127.0f)) : 0;
  return scale;
}

Int8Matrix quantize_weights(const float* w, std::int64_t n, std::int64_t k, std::int64_t groups) {
  Int8Matrix out;
  const SimdLevel level = select_simd_level();
  out.kernel = level == SimdLevel::Avx512 && !avx512_vnni_available() ? SimdLevel::Avx2 : level;
  out.depth = k;
  out.depth_padded = (k + 3) / 4 * 4;
  out.groups = groups;
  out.group_rows = n / groups;
  out.blocks_per_group = (out.group_rows + Int8Matrix::kBlock - 1) / Int8Matrix::kBlock;
  const std::int64_t channels = groups * out.blocks_per_group * Int8Matrix::kBlock;
  const std::int64_t quads = out.depth_padded / 4;
  out.data.assign(static_cast<std::size_t>(channels * out.depth_padded), 0);
  out.scales.assign(static_cast<std::size_t>(channels), 0.0f);
  out.row_sums.assign(static_cast<std::size_t>(channels), 0);
  std::vector<std::int8_t> codes(static_cast<std::size_t>(k));  // (k) one row's
  for (std::int64_t row = 0; row < n; ++row) {
    const float scale = quantize_symmetric(w + row * k, k, codes.data());
    const std::int64_t group = row / out.group_rows, unit = row % out.group_rows;
    const std::int64_t block = group * out.blocks_per_group + unit / Int8Matrix::kBlock;
    const std::int64_t lane = unit % Int8Matrix::kBlock;
    const std::int64_t channel = block * Int8Matrix::kBlock + lane;
    std::int8_t* packed = out.data.data() + block * quads * kQuadBytes + lane * 4;
    std::int32_t sum = 0;
    for (std::int64_t e = 0; e < k; ++e) {
      packed[(e / 4) * kQuadBytes + e % 4] = codes[e];
      sum += codes[e];
    }
    out.scales[channel] = scale;
    out.row_sums[channel] = sum;
  }
  return out;
}

void Int8Rows::resize(std::int64_t rows, std::int64_t k) {
  depth = k;
  depth_padded = (k + 3) / 4 * 4;
  data.assign(static_cast<std::size_t>(rows * depth_padded), 0);
  scales.resize(static_cast<std::size_t>(rows));
  zero_points.resize(static_cast<std::size_t>(rows));
}

bool quantize_rows(const float* x, std::int64_t ld, std::int64_t row_begin, std::int64_t row_end,
                   Int8Rows& out) {
  bool finite = true;
  for (std::int64_t row = row_begin; row < row_end; ++row) {
    const float* x_row = x + row * ld;
    // The range always holds 0, so that 0 (padding, ReLU outputs) is coded exactly.
    float low = 0.0f, high = 0.0f;
    if (!row_range(x_row, out.depth, low, high)) {  // no codes: the caller throws
      finite = false;
      continue;
    }
    const float scale = high > low ? (high - low) / kActivationMax : 1.0f;
    const float zero_point = std::nearbyint(-low / scale);
    code_row(x_row, out.depth, 1.0f / scale, zero_point, out.data.data() + row * out.depth_padded);
    out.scales[row] = scale;
    out.zero_points[row] = static_cast<std::int32_t>(zero_point);
  }
  return finite;
}

void int8_gemm_exact(std::int64_t m, const Int8Rows& x, const Int8Matrix& w, std::int64_t group,
                     std::int64_t block_begin, std::int64_t block_end, std::int32_t* acc,
                     std::int64_t ldc) {
  for_each_tile(m, x, w, group, block_begin, block_end,
                [&](std::int64_t row, std::int64_t rows, std::int64_t block, std::int64_t blocks, const Tile& tile) {
                  const std::int64_t column = (block - block_begin) * Int8Matrix::kBlock;
                  for (std::int64_t i = 0; i < rows; ++i)
                    std::copy(tile[i], tile[i] + blocks * Int8Matrix::kBlock, acc + (row + i) * ldc + column);
                });
}

void int8_gemm(std::int64_t m, const Int8Rows& x, const Int8Matrix& w, std::int64_t group,
               std::int64_t block_begin, std::int64_t block_end, const float* bias, float* y,
               std::int64_t ldy, bool accumulate) {
  const std::int64_t group_channel = group * w.blocks_per_group * Int8Matrix::kBlock;
  for_each_tile(m, x, w, group, block_begin, block_end,
                [&](std::int64_t row, std::int64_t rows, std::int64_t block, std::int64_t blocks, const Tile& tile) {
                  for (std::int64_t i = 0; i < rows; ++i)
                    for (std::int64_t b = 0; b < blocks; ++b) {
                      const std::int64_t first = (block + b) * Int8Matrix::kBlock;  // within the group
                      dequantize_block(tile[i] + b * Int8Matrix::kBlock, x.scales[row + i], x.zero_points[row + i],
                                       w.scales.data() + group_channel + first,
                                       w.row_sums.data() + group_channel + first, bias ? bias + first : nullptr,
                                       y + (row + i) * ldy + first, std::min(Int8Matrix::kBlock, w.group_rows - first),
                                       accumulate);
                    }
                });
}

}  // namespace loom::detail
