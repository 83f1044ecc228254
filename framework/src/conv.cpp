// Convolution and pooling over (N, C, H, W) images. conv2d lowers a chunk of images (per group)
// through im2col into one column matrix and multiplies it with one GEMM; its backward recomputes
// the lowering (so the graph keeps only the input, not the kH kW times larger columns) and
// scatters the column gradient back with col2im. The pooling ops are direct loops over their
// windows.
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>

#include "detail/kernels.h"
#include "loom/conv_ops.h"
#include "loom/ops.h"

namespace loom {

namespace {

std::string pair_str(Size2 v) { return fmt::format("({}, {})", v.h, v.w); }

// A window sweep over one (H, W) plane: kernel, stride, padding, dilation and the output size.
struct Window {
  std::int64_t height, width;
  std::int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  std::int64_t out_h, out_w;
};

void check_image(const char* op, const Tensor& input) {
  detail::check_floating(op, input);
  if (input.dim() != 4)
    throw ShapeError(fmt::format("{}: expected a 4-D input (N, C, H, W), got {}", op,
                                 shape_str(input.shape())));
}

void check_positive(const char* op, const char* what, Size2 v) {
  if (v.h <= 0 || v.w <= 0)
    throw ValueError(fmt::format("{}: {} must be positive, got {}", op, what, pair_str(v)));
}

// Output extent of a sweep; 0 when the (dilated) kernel does not fit the padded input at all.
std::int64_t out_extent(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p,
                        std::int64_t d) {
  const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
  return span < 0 ? 0 : span / s + 1;
}

Window make_window(const char* op, const Tensor& input, Size2 kernel, Size2 stride,
                   Size2 padding, Size2 dilation) {
  check_positive(op, "kernel size", kernel);
  check_positive(op, "stride", stride);
  check_positive(op, "dilation", dilation);
  if (padding.h < 0 || padding.w < 0)
    throw ValueError(fmt::format("{}: padding must be non-negative, got {}", op,
                                 pair_str(padding)));
  const std::int64_t height = input.size(2), width = input.size(3);
  Window g{height, width, kernel.h, kernel.w, stride.h, stride.w, padding.h, padding.w,
           dilation.h, dilation.w,
           out_extent(height, kernel.h, stride.h, padding.h, dilation.h),
           out_extent(width, kernel.w, stride.w, padding.w, dilation.w)};
  if (g.out_h <= 0 || g.out_w <= 0)
    throw ShapeError(fmt::format(
        "{}: kernel {} (dilation {}) does not fit input {} with padding {}: output size would be "
        "empty", op, pair_str(kernel), pair_str(dilation), shape_str(input.shape()),
        pair_str(padding)));
  return g;
}

// Pooling windows: as PyTorch, padding may be at most half the kernel, so that every window
// overlaps the image.
Window pool_window(const char* op, const Tensor& input, Size2 kernel, Size2 stride,
                   Size2 padding) {
  check_image(op, input);
  check_positive(op, "kernel size", kernel);
  if (padding.h > kernel.h / 2 || padding.w > kernel.w / 2)
    throw ValueError(fmt::format("{}: padding {} must be at most half the kernel size {}", op,
                                 pair_str(padding), pair_str(kernel)));
  return make_window(op, input, kernel, stride, padding, 1);
}

// (C, H, W) -> (C kH kW, OH OW): row (c, i, j), column (oh, ow) holds
// image[c, oh sh - ph + i dh, ow sw - pw + j dw], or 0 in the padding. Rows are `row_stride`
// apart, so the columns of several images can sit side by side in one matrix.
template <class T>
void im2col(const T* image, std::int64_t channels, const Window& g, T* cols, std::int64_t row_stride) {
  for (std::int64_t c = 0; c < channels; ++c) {
    const T* plane = image + c * g.height * g.width;
    for (std::int64_t i = 0; i < g.kh; ++i)
      for (std::int64_t j = 0; j < g.kw; ++j) {
        T* row = cols + ((c * g.kh + i) * g.kw + j) * row_stride;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          T* dst = row + oh * g.out_w;
          const std::int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.height) {
            std::fill(dst, dst + g.out_w, T(0));
            continue;
          }
          const T* src = plane + ih * g.width;
          if (g.sw == 1) {  // a shifted copy of the input row, zeros where it reads the padding
            const std::int64_t shift = j * g.dw - g.pw;  // iw = ow + shift
            const std::int64_t begin = std::clamp<std::int64_t>(-shift, 0, g.out_w);
            const std::int64_t end = std::clamp<std::int64_t>(g.width - shift, begin, g.out_w);
            std::fill(dst, dst + begin, T(0));
            std::copy(src + begin + shift, src + end + shift, dst + begin);
            std::fill(dst + end, dst + g.out_w, T(0));
            continue;
          }
          for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
            const std::int64_t iw = ow * g.sw - g.pw + j * g.dw;
            dst[ow] = iw >= 0 && iw < g.width ? src[iw] : T(0);
          }
        }
      }
  }
}

// im2col of `count` images `image_stride` apart, side by side in one (C kH kW, count OH OW)
// matrix with rows `row_stride` apart; the images are split between the threads.
template <class T>
void lower_images(const T* first_image, std::int64_t count, std::int64_t image_stride, std::int64_t channels,
                  const Window& g, T* cols, std::int64_t row_stride) {
  const std::int64_t length = g.out_h * g.out_w;
  detail::parallel_rows(count, channels * g.kh * g.kw * length, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t i = begin; i < end; ++i)
      im2col(first_image + i * image_stride, channels, g, cols + i * length, row_stride);
  });
}

// The adjoint of im2col: adds each column entry into the image position it was read from.
template <class T>
void col2im_add(const T* cols, std::int64_t channels, const Window& g, T* image, std::int64_t row_stride) {
  for (std::int64_t c = 0; c < channels; ++c) {
    T* plane = image + c * g.height * g.width;
    for (std::int64_t i = 0; i < g.kh; ++i)
      for (std::int64_t j = 0; j < g.kw; ++j) {
        const T* row = cols + ((c * g.kh + i) * g.kw + j) * row_stride;
        for (std::int64_t oh = 0; oh < g.out_h; ++oh) {
          const std::int64_t ih = oh * g.sh - g.ph + i * g.dh;
          if (ih < 0 || ih >= g.height) continue;
          const T* src = row + oh * g.out_w;
          T* dst = plane + ih * g.width;
          if (g.sw == 1) {  // the adjoint of im2col's shifted copy
            const std::int64_t shift = j * g.dw - g.pw;
            const std::int64_t begin = std::clamp<std::int64_t>(-shift, 0, g.out_w);
            const std::int64_t end = std::clamp<std::int64_t>(g.width - shift, begin, g.out_w);
            for (std::int64_t ow = begin; ow < end; ++ow) dst[ow + shift] += src[ow];
            continue;
          }
          for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
            const std::int64_t iw = ow * g.sw - g.pw + j * g.dw;
            if (iw >= 0 && iw < g.width) dst[iw] += src[ow];
          }
        }
      }
  }
}

// How many images conv2d lowers into one column matrix: one image of a small feature map is a
// product too narrow for BLAS to run at speed (a 14x14 map with 16 channels in, 32 out: 32 x 144
// x 196), so the columns of up to `batch` images share a GEMM, within 2^21 elements (8 MiB of
// float) of column buffer.
std::int64_t images_per_gemm(std::int64_t patch, std::int64_t length, std::int64_t batch) {
  constexpr std::int64_t column_budget = std::int64_t{1} << 21;
  return std::clamp<std::int64_t>(column_budget / std::max<std::int64_t>(patch * length, 1), 1,
                                  std::max<std::int64_t>(batch, 1));
}

// Max pooling of the (H, W) planes [begin, end) of x into y, with the position of each maximum
// in its plane. The first maximum wins; NaN propagates (the last NaN wins), as PyTorch. The
// window comes by value: a local copy stays in registers while `where` is written, where a
// reference would be reloaded after every store that might alias it (the captioner's first
// pooling took 2.2 ms that way, 0.17 ms by value).
template <class T>
void max_pool_planes(const T* x, T* y, std::int64_t* where, const Window g, std::int64_t begin, std::int64_t end) {
  const auto take = [](T v, std::int64_t at, T& best, std::int64_t& best_at) {
    if (v > best || v != v) {
      best = v;
      best_at = at;
    }
  };
  const std::int64_t length = g.out_h * g.out_w;
  const bool two_by_two = g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
  for (std::int64_t p = begin; p < end; ++p) {
    const T* plane = x + p * g.height * g.width;
    T* y_plane = y + p * length;
    std::int64_t* where_plane = where + p * length;
    if (two_by_two) {  // the CNN encoder's pooling: no window bounds to clip
      for (std::int64_t oh = 0; oh < g.out_h; ++oh)
        for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
          const std::int64_t top_left = 2 * oh * g.width + 2 * ow;
          T best = plane[top_left];
          std::int64_t best_at = top_left;
          take(plane[top_left + 1], top_left + 1, best, best_at);
          take(plane[top_left + g.width], top_left + g.width, best, best_at);
          take(plane[top_left + g.width + 1], top_left + g.width + 1, best, best_at);
          y_plane[oh * g.out_w + ow] = best;
          where_plane[oh * g.out_w + ow] = best_at;
        }
      continue;
    }
    for (std::int64_t oh = 0; oh < g.out_h; ++oh)
      for (std::int64_t ow = 0; ow < g.out_w; ++ow) {
        const std::int64_t h0 = std::max<std::int64_t>(oh * g.sh - g.ph, 0);
        const std::int64_t h1 = std::min(oh * g.sh - g.ph + g.kh, g.height);
        const std::int64_t w0 = std::max<std::int64_t>(ow * g.sw - g.pw, 0);
        const std::int64_t w1 = std::min(ow * g.sw - g.pw + g.kw, g.width);
        T best = plane[h0 * g.width + w0];
        std::int64_t best_at = h0 * g.width + w0;
        for (std::int64_t ih = h0; ih < h1; ++ih)
          for (std::int64_t iw = w0; iw < w1; ++iw) take(plane[ih * g.width + iw], ih * g.width + iw, best, best_at);
        y_plane[oh * g.out_w + ow] = best;
        where_plane[oh * g.out_w + ow] = best_at;
      }
  }
}

// One averaging window [h0, h1) x [w0, w1) of the input plane, and what its sum is divided by.
struct Span {
  std::int64_t h0, h1, w0, w1;
  std::int64_t divisor;
};

// Means over the windows `span_of(oh, ow)` of every (H, W) plane: avg_pool2d and
// adaptive_avg_pool2d, whose backward spreads each output gradient evenly over its window.
template <class SpanOf>
Tensor average_windows(const char* op, const Tensor& input_view, std::int64_t out_h,
                       std::int64_t out_w, SpanOf span_of) {
  const Tensor input = detail::dense(input_view);  // the kernel walks the storage row-major
  const std::int64_t planes = input.size(0) * input.size(1);
  const std::int64_t height = input.size(2), width = input.size(3);
  // (N, C, OH, OW)
  Tensor out = empty({input.size(0), input.size(1), out_h, out_w}, input.dtype());
  detail::dispatch_floating(op, input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = input.data<T>();
    T* y = out.data<T>();
    for (std::int64_t p = 0; p < planes; ++p) {
      const T* plane = x + p * height * width;
      for (std::int64_t oh = 0; oh < out_h; ++oh)
        for (std::int64_t ow = 0; ow < out_w; ++ow) {
          const Span s = span_of(oh, ow);
          T total = 0;
          for (std::int64_t ih = s.h0; ih < s.h1; ++ih)
            for (std::int64_t iw = s.w0; iw < s.w1; ++iw) total += plane[ih * width + iw];
          y[(p * out_h + oh) * out_w + ow] = total / static_cast<T>(s.divisor);
        }
    }
  });
  record_op(out, op, {input}, [shape = input.shape(), op, out_h, out_w, span_of](
                                  const Tensor& grad) {
    Tensor grad_input = zeros(shape, grad.dtype());  // (N, C, H, W)
    const std::int64_t planes = shape[0] * shape[1], height = shape[2], width = shape[3];
    detail::dispatch_floating(op, grad.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = grad.data<T>();
      T* gx = grad_input.data<T>();
      for (std::int64_t p = 0; p < planes; ++p) {
        T* plane = gx + p * height * width;
        for (std::int64_t oh = 0; oh < out_h; ++oh)
          for (std::int64_t ow = 0; ow < out_w; ++ow) {
            const Span s = span_of(oh, ow);
            const T share = g[(p * out_h + oh) * out_w + ow] / static_cast<T>(s.divisor);
            for (std::int64_t ih = s.h0; ih < s.h1; ++ih)
              for (std::int64_t iw = s.w0; iw < s.w1; ++iw) plane[ih * width + iw] += share;
          }
      }
    });
    return std::vector<Tensor>{grad_input};
  });
  return out;
}

}  // namespace

Tensor conv2d(const Tensor& input_view, const Tensor& weight_view, const Tensor& bias_view,
              const Conv2dArgs& args) {
  const Tensor input = detail::dense(input_view), weight = detail::dense(weight_view), bias = detail::dense(bias_view);  // the kernel walks the storage row-major
  detail::check_same_floating("conv2d", input, weight);
  check_image("conv2d", input);
  if (weight.dim() != 4)
    throw ShapeError(fmt::format("conv2d: expected a 4-D weight (O, C / groups, kH, kW), got {}",
                                 shape_str(weight.shape())));
  const std::int64_t groups = args.groups;
  if (groups <= 0)
    throw ValueError(fmt::format("conv2d: groups must be positive, got {}", groups));
  const std::int64_t batch = input.size(0), channels = input.size(1);
  const std::int64_t out_channels = weight.size(0);
  if (out_channels % groups != 0)
    throw ValueError(fmt::format("conv2d: out_channels {} (weight {}) must be divisible by "
                                 "groups {}", out_channels, shape_str(weight.shape()), groups));
  if (channels != weight.size(1) * groups)
    throw ShapeError(fmt::format("conv2d: expected input with {} channels (weight {}{}), got {}",
                                 weight.size(1) * groups, shape_str(weight.shape()),
                                 groups == 1 ? "" : fmt::format(", groups {}", groups),
                                 shape_str(input.shape())));
  if (bias.defined()) {
    detail::check_same_floating("conv2d", input, bias);
    if (bias.shape() != Shape{out_channels})
      throw ShapeError(fmt::format("conv2d: expected a bias of shape ({},), got {}", out_channels,
                                   shape_str(bias.shape())));
  }
  const Window g = make_window("conv2d", input, {weight.size(2), weight.size(3)}, args.stride,
                               args.padding, args.dilation);
  const std::int64_t group_in = channels / groups, group_out = out_channels / groups;
  const std::int64_t patch = group_in * g.kh * g.kw;  // GEMM inner size K
  const std::int64_t length = g.out_h * g.out_w;     // output positions per image L
  const std::int64_t plane = g.height * g.width;

  Tensor out = empty({batch, out_channels, g.out_h, g.out_w}, input.dtype());  // (N, O, OH, OW)
  detail::dispatch_floating("conv2d", input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = input.data<T>();
    const T* w = weight.data<T>();
    T* y = out.data<T>();
    const std::int64_t chunk = images_per_gemm(patch, length, batch);
    // Left uninitialised: im2col and the GEMM write every element before it is read.
    // (C/groups kH kW, chunk OH OW)
    const std::unique_ptr<T[]> cols(new T[static_cast<std::size_t>(patch * chunk * length)]);
    // (O/groups, chunk OH OW)
    const std::unique_ptr<T[]> product(new T[static_cast<std::size_t>(group_out * chunk * length)]);
    for (std::int64_t first = 0; first < batch; first += chunk) {
      const std::int64_t count = std::min(chunk, batch - first), width = count * length;
      for (std::int64_t grp = 0; grp < groups; ++grp) {
        lower_images(x + (first * channels + grp * group_in) * plane, count, channels * plane, group_in, g,
                     cols.get(), width);
        detail::gemm<T>(false, false, group_out, width, patch, T(1), w + grp * group_out * patch, patch,
                        cols.get(), width, T(0), product.get(), width);
        // (O/groups, image i's OH OW) -> y[first + i]
        detail::parallel_rows(count, group_out * length, [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t i = begin; i < end; ++i)
            for (std::int64_t o = 0; o < group_out; ++o) {
              const T shift = bias.defined() ? bias.data<T>()[grp * group_out + o] : T(0);
              const T* src = product.get() + o * width + i * length;
              T* dst = y + ((first + i) * out_channels + grp * group_out + o) * length;
              for (std::int64_t l = 0; l < length; ++l) dst[l] = src[l] + shift;
            }
        });
      }
    }
  });

  record_op(out, "conv2d", {input, weight, bias}, [input, weight, bias, g, groups](
                                                      const Tensor& grad) {
    const std::int64_t batch = input.size(0), channels = input.size(1);
    const std::int64_t out_channels = weight.size(0);
    const std::int64_t group_in = channels / groups, group_out = out_channels / groups;
    const std::int64_t patch = group_in * g.kh * g.kw, length = g.out_h * g.out_w;
    const std::int64_t plane = g.height * g.width;
    Tensor grad_input, grad_weight, grad_bias;
    if (input.requires_grad()) grad_input = zeros(input.shape(), input.dtype());
    if (weight.requires_grad()) grad_weight = zeros(weight.shape(), weight.dtype());
    if (bias.defined() && bias.requires_grad()) grad_bias = zeros(bias.shape(), bias.dtype());
    detail::dispatch_floating("conv2d", grad.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* x = input.data<T>();
      const T* w = weight.data<T>();
      const T* dy = grad.data<T>();
      const std::int64_t chunk = images_per_gemm(patch, length, batch);
      // Left uninitialised: the copies, im2col and the GEMMs write every element before it is read.
      // (C/groups kH kW, chunk OH OW)
      const std::unique_ptr<T[]> cols(new T[static_cast<std::size_t>(patch * chunk * length)]);
      // (O/groups, chunk OH OW)
      const std::unique_ptr<T[]> dy_cols(new T[static_cast<std::size_t>(group_out * chunk * length)]);
      for (std::int64_t first = 0; first < batch; first += chunk) {
        const std::int64_t count = std::min(chunk, batch - first), width = count * length;
        for (std::int64_t grp = 0; grp < groups; ++grp) {
          // dy[first + i] -> (O/groups, image i's OH OW)
          detail::parallel_rows(count, group_out * length, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i)
              for (std::int64_t o = 0; o < group_out; ++o) {
                const T* src = dy + ((first + i) * out_channels + grp * group_out + o) * length;
                std::copy(src, src + length, dy_cols.get() + o * width + i * length);
              }
          });
          if (grad_weight.defined()) {  // dW += dY @ cols^T      (O/groups, K)
            lower_images(x + (first * channels + grp * group_in) * plane, count, channels * plane, group_in, g,
                         cols.get(), width);
            detail::gemm<T>(false, true, group_out, patch, width, T(1), dy_cols.get(), width, cols.get(), width,
                            T(1), grad_weight.data<T>() + grp * group_out * patch, patch);
          }
          if (grad_input.defined()) {  // dcols = W^T @ dY      (K, chunk L), then back to the images
            detail::gemm<T>(true, false, patch, width, group_out, T(1), w + grp * group_out * patch, patch,
                            dy_cols.get(), width, T(0), cols.get(), width);
            T* dx = grad_input.data<T>();
            detail::parallel_rows(count, patch * length, [&](std::int64_t begin, std::int64_t end) {
              for (std::int64_t i = begin; i < end; ++i)  // each image's gradient is its own
                col2im_add(cols.get() + i * length, group_in, g, dx + ((first + i) * channels + grp * group_in) * plane,
                           width);
            });
          }
        }
      }
      if (grad_bias.defined()) {  // db = dY summed over images and positions   (O)
        T* db = grad_bias.data<T>();
        detail::parallel_rows(out_channels, batch * length, [&](std::int64_t begin, std::int64_t end) {
          for (std::int64_t o = begin; o < end; ++o)
            for (std::int64_t n = 0; n < batch; ++n) {
              const T* row = dy + (n * out_channels + o) * length;
              T total = 0;
              // Vectorised: a serial sum waits on every add (1.2 M of them a step in the captioner).
#pragma omp simd reduction(+ : total)
              for (std::int64_t l = 0; l < length; ++l) total += row[l];
              db[o] += total;
            }
        });
      }
    });
    return std::vector<Tensor>{grad_input, grad_weight, grad_bias};
  }, /*saved=*/{input, weight});
  return out;
}

Tensor max_pool2d(const Tensor& input, Size2 kernel) {
  return max_pool2d(input, kernel, kernel, 0);
}

Tensor max_pool2d(const Tensor& input_view, Size2 kernel, Size2 stride, Size2 padding) {
  const Tensor input = detail::dense(input_view);  // the kernel walks the storage row-major
  const Window g = pool_window("max_pool2d", input, kernel, stride, padding);
  const std::int64_t planes = input.size(0) * input.size(1), length = g.out_h * g.out_w;
  // (N, C, OH, OW)
  Tensor out = empty({input.size(0), input.size(1), g.out_h, g.out_w}, input.dtype());
  // Position of each output's maximum inside its (H, W) plane, for the backward.
  Tensor argmax = empty(out.shape(), Dtype::Int64);  // (N, C, OH, OW)
  detail::dispatch_floating("max_pool2d", input.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = input.data<T>();
    T* y = out.data<T>();
    std::int64_t* where = argmax.data<std::int64_t>();
    detail::parallel_rows(planes, g.height * g.width, [&](std::int64_t begin, std::int64_t end) {
      max_pool_planes(x, y, where, g, begin, end);
    });
  });
  record_op(out, "max_pool2d", {input}, [shape = input.shape(), argmax, planes, length](
                                            const Tensor& grad) {
    Tensor grad_input = zeros(shape, grad.dtype());  // (N, C, H, W)
    const std::int64_t plane = shape[2] * shape[3];
    detail::dispatch_floating("max_pool2d", grad.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* g = grad.data<T>();
      const std::int64_t* where = argmax.data<std::int64_t>();
      T* gx = grad_input.data<T>();
      detail::parallel_rows(planes, plane, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t p = begin; p < end; ++p)  // each plane's gradient is its own
          for (std::int64_t l = 0; l < length; ++l)
            gx[p * plane + where[p * length + l]] += g[p * length + l];
      });
    });
    return std::vector<Tensor>{grad_input};
  });
  return out;
}

Tensor avg_pool2d(const Tensor& input, Size2 kernel) {
  return avg_pool2d(input, kernel, kernel, 0, true);
}

Tensor avg_pool2d(const Tensor& input, Size2 kernel, Size2 stride, Size2 padding,
                  bool count_include_pad) {
  const Window g = pool_window("avg_pool2d", input, kernel, stride, padding);
  return average_windows("avg_pool2d", input, g.out_h, g.out_w,
                         [g, count_include_pad](std::int64_t oh, std::int64_t ow) {
                           // PyTorch's window: clipped to the padded image for the divisor
                           // that counts padding, then to the image itself.
                           const std::int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
                           const std::int64_t h1 = std::min(h0 + g.kh, g.height + g.ph);
                           const std::int64_t w1 = std::min(w0 + g.kw, g.width + g.pw);
                           const std::int64_t padded = (h1 - h0) * (w1 - w0);
                           Span s{std::max<std::int64_t>(h0, 0), std::min(h1, g.height),
                                  std::max<std::int64_t>(w0, 0), std::min(w1, g.width), 0};
                           s.divisor = count_include_pad ? padded : (s.h1 - s.h0) * (s.w1 - s.w0);
                           return s;
                         });
}

Tensor adaptive_avg_pool2d(const Tensor& input, Size2 output_size) {
  check_image("adaptive_avg_pool2d", input);
  check_positive("adaptive_avg_pool2d", "output size", output_size);
  const std::int64_t height = input.size(2), width = input.size(3);
  if (height <= 0 || width <= 0)
    throw ShapeError(fmt::format("adaptive_avg_pool2d: expected a non-empty image, got {}",
                                 shape_str(input.shape())));
  const std::int64_t oh = output_size.h, ow = output_size.w;
  return average_windows("adaptive_avg_pool2d", input, oh, ow,
                         [height, width, oh, ow](std::int64_t i, std::int64_t j) {
                           // rows [floor(i H / oh), ceil((i + 1) H / oh)), likewise columns
                           Span s{i * height / oh, ((i + 1) * height + oh - 1) / oh,
                                  j * width / ow, ((j + 1) * width + ow - 1) / ow, 0};
                           s.divisor = (s.h1 - s.h0) * (s.w1 - s.w0);
                           return s;
                         });
}

}  // namespace loom
