#pragma once
/// Convolution and pooling over images laid out (N, C, H, W), as torch.nn.functional's conv2d,
/// max_pool2d, avg_pool2d and adaptive_avg_pool2d. Each op checks its shapes when called and
/// throws loom::ShapeError / loom::ValueError naming the op, what it expected and what it got.
///
///     auto x = loom::randn({8, 3, 28, 28});                           // (N, C, H, W)
///     auto w = loom::randn({16, 3, 3, 3});                            // (O, C, kH, kW)
///     auto y = loom::conv2d(x, w, loom::Tensor(), {/*stride*/ 1, /*padding*/ 1});
///                                                     // (8, 16, 28, 28)
///     auto p = loom::max_pool2d(y, 2);                                // (8, 16, 14, 14)
#include <cstdint>

#include "loom/tensor.h"

namespace loom {

/// A (height, width) pair; one number means both, as PyTorch's `3` for `(3, 3)`.
struct Size2 {
  std::int64_t h = 0, w = 0;
  Size2(std::int64_t both) : h(both), w(both) {}  // NOLINT: implicit on purpose, `stride = 2`
  Size2(std::int64_t height, std::int64_t width) : h(height), w(width) {}
  bool operator==(const Size2& other) const { return h == other.h && w == other.w; }
  bool operator!=(const Size2& other) const { return !(*this == other); }
};

/// Geometry of a convolution: `Conv2dArgs{2, 1}` is stride 2, padding 1.
struct Conv2dArgs {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  std::int64_t groups = 1;
};

/// 2-D cross-correlation, as torch.nn.functional.conv2d: input (N, C, H, W), weight
/// (O, C / groups, kH, kW), bias (O) or undefined -> (N, O, OH, OW) with
/// OH = (H + 2 padding.h - dilation.h (kH - 1) - 1) / stride.h + 1 (likewise OW).
/// Runs as im2col and one GEMM per image and group; the backward uses the same GEMMs and col2im.
///
///     auto y = loom::conv2d(x, w, b, {/*stride*/ 2, /*padding*/ 1, /*dilation*/ 1, /*groups*/ 1});
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(),
              const Conv2dArgs& args = {});

/// Maximum over each kernel window of (N, C, H, W) -> (N, C, OH, OW), padding counting as -inf.
/// The gradient goes to the first maximal entry of each window. Stride defaults to the kernel;
/// padding may be at most half the kernel, as in PyTorch.
///
///     auto y = loom::max_pool2d(x, 2);             // halves H and W
///     auto z = loom::max_pool2d(x, 3, 2, 1);       // kernel 3, stride 2, padding 1
Tensor max_pool2d(const Tensor& input, Size2 kernel);
Tensor max_pool2d(const Tensor& input, Size2 kernel, Size2 stride, Size2 padding = 0);

/// Mean over each kernel window of (N, C, H, W) -> (N, C, OH, OW). With count_include_pad the
/// divisor is kH * kW; otherwise it is the number of entries inside the image.
///
///     auto y = loom::avg_pool2d(x, 3, 1, 1, /*count_include_pad=*/false);
Tensor avg_pool2d(const Tensor& input, Size2 kernel);
Tensor avg_pool2d(const Tensor& input, Size2 kernel, Size2 stride, Size2 padding = 0,
                  bool count_include_pad = true);

/// Mean over adaptive windows so that (N, C, H, W) -> (N, C, oh, ow) for any H, W: output row i
/// averages input rows [floor(i H / oh), ceil((i + 1) H / oh)), as PyTorch.
///
///     auto features = loom::adaptive_avg_pool2d(x, 1).flatten(1);   // (N, C)
Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size);

}  // namespace loom
