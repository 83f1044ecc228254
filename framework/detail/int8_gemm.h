#pragma once
// Private: the int8 GEMM behind dynamic quantization (loom::quantize_dynamic), as PyTorch's
// quantize_dynamic with the fbgemm engine computes it on x86.
//
// Weights W (N, K): symmetric int8 per output channel, q = round(w / s), s = max|w| / 127, so
// q is in [-127, 127]. Activations X (M, K): uint8 per row with a zero point, q = round(x / s) + z
// in 0..127 — a 7-bit range, as PyTorch's reduce_range=True for fbgemm: AVX2's maddubs sums two
// u8 x s8 products into int16, and 2 * 127 * 127 = 32258 can never saturate it (with 8 bits it
// could). The products are summed exactly in int32 and dequantized per element:
//   y[m, n] = s_x[m] s_w[n] (sum_k qx[m, k] qw[n, k] - z_x[m] sum_k qw[n, k]) + bias[n]
// with the row sums of qw computed once. Per-row activation scales (PyTorch uses one per tensor)
// cost the same and let every row of a batch, and of each step's h_t, keep its own range; rows
// are also quantized independently, so threads can split them.
//
// The weights are packed once, in the micro-kernel's order: channels in blocks of 8 (one vector
// of int32 accumulators), K in quads, block-major: block[k / 4][channel][k % 4]. Like
// PackedMatrix, the N channels may form `groups` equal groups (the gates of an LSTM), each padded
// to whole blocks, so the recurrent loop can give a thread the same hidden units of every gate.
#include <cstdint>
#include <vector>

#include "detail/simd_level.h"

namespace loom::detail {

struct Int8Matrix {
  static constexpr std::int64_t kBlock = 8;  // output channels per block
  std::int64_t depth = 0;             // K
  std::int64_t depth_padded = 0;      // K rounded up to a multiple of 4 (zeros in the padding)
  std::int64_t groups = 1;            // channel groups (gates); N = groups * group_rows
  std::int64_t group_rows = 0;        // channels per group
  std::int64_t blocks_per_group = 0;  // ceil(group_rows / kBlock)
  std::vector<std::int8_t> data;      // (groups, blocks_per_group, depth_padded / 4, kBlock, 4)
  std::vector<float> scales;          // (groups, blocks_per_group * kBlock), 0 in the padding
  std::vector<std::int32_t> row_sums; // (groups, blocks_per_group * kBlock) sum_k q[n, k]
  // The micro-kernel, set by quantize_weights from select_simd_level(): Avx512 is the AVX-512
  // VNNI kernel, taken only when the CPU has VNNI (else Avx2).
  SimdLevel kernel = SimdLevel::Portable;
};

/// Symmetric int8 codes of one row of k values into `codes` (k): returns the scale max|w| / 127,
/// 0 for an all-zero row (whose codes are 0). The weights' per-channel and the embedding
/// tables' per-row quantization.
float quantize_symmetric(const float* row, std::int64_t k, std::int8_t* codes);

/// Quantizes and packs a row-major float W (n, k) whose rows form `groups` equal groups, for the
/// kernels select_simd_level() allows (detail/simd_level.h).
Int8Matrix quantize_weights(const float* w, std::int64_t n, std::int64_t k, std::int64_t groups);

/// Activations quantized per row, uint8 in 0..127 with a zero point.
struct Int8Rows {
  std::int64_t depth = 0, depth_padded = 0;
  std::vector<std::uint8_t> data;         // (rows, depth_padded), zeros in the padding
  std::vector<float> scales;              // (rows)
  std::vector<std::int32_t> zero_points;  // (rows)
  /// Sizes the buffers for `rows` rows of depth k (kept between calls: no allocation per step).
  void resize(std::int64_t rows, std::int64_t k);
};

/// Quantizes rows [row_begin, row_end) of a row-major float X (ld = its leading dimension) into
/// the same rows of `out` (sized by resize). Returns false if a value is not finite (NaN or
/// infinity cannot be quantized; the caller throws), true otherwise.
bool quantize_rows(const float* x, std::int64_t ld, std::int64_t row_begin, std::int64_t row_end,
                   Int8Rows& out);

/// The exact products: acc[m, c] = sum_k qx[m, k] qw[c, k] for the M rows of `x` and the channels
/// of blocks [block_begin, block_end) of `group`, column c counted from the block_begin's first
/// channel (acc (M, ldc), padding channels included). For the tests and the reference.
void int8_gemm_exact(std::int64_t m, const Int8Rows& x, const Int8Matrix& w, std::int64_t group,
                     std::int64_t block_begin, std::int64_t block_end, std::int32_t* acc,
                     std::int64_t ldc);

/// Dequantized: for the rows [0, m) of `x` and the channels of blocks [block_begin, block_end) of
/// `group`, y[m, j] (+)= s_x s_w (acc - z_x rowsum) (+ bias[j]) where j is the channel's index
/// within the group (y points at the group's first column; padding channels are not written).
/// `bias` (group_rows) may be null; `accumulate` adds to y (beta = 1).
void int8_gemm(std::int64_t m, const Int8Rows& x, const Int8Matrix& w, std::int64_t group,
               std::int64_t block_begin, std::int64_t block_end, const float* bias, float* y,
               std::int64_t ldy, bool accumulate);

}  // namespace loom::detail
