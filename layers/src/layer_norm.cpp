// LayerNorm: the normalisation is one op with a hand-written backward (a pass over each row
// instead of the eight temporaries a composition of ops would make); the affine map is ops.
#include "loom/layers/layer_norm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "detail/kernels.h"
#include "loom/autograd.h"
#include "loom/init.h"
#include "loom/ops.h"

namespace loom {

namespace {

// y = (x - mean) * rstd over each of `rows` rows of length n; keeps rstd = 1 / sqrt(var + eps).
template <class T>
void normalize_rows(const T* x, T* y, T* rstd, std::int64_t rows, std::int64_t n, double eps) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * n;
    T* yr = y + r * n;
    double mean = 0.0, variance = 0.0;
    for (std::int64_t i = 0; i < n; ++i) mean += xr[i];
    mean /= static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) variance += (xr[i] - mean) * (xr[i] - mean);
    variance /= static_cast<double>(n);  // biased, as PyTorch
    const double inv = 1.0 / std::sqrt(variance + eps);
    rstd[r] = static_cast<T>(inv);
    for (std::int64_t i = 0; i < n; ++i) yr[i] = static_cast<T>((xr[i] - mean) * inv);
  }
}

// dx = rstd * (g - mean(g) - y * mean(g * y)) over each row.
template <class T>
void normalize_rows_backward(const T* g, const T* y, const T* rstd, T* dx, std::int64_t rows,
                             std::int64_t n) {
  for (std::int64_t r = 0; r < rows; ++r) {
    const T* gr = g + r * n;
    const T* yr = y + r * n;
    T* dr = dx + r * n;
    double mean_g = 0.0, mean_gy = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      mean_g += gr[i];
      mean_gy += static_cast<double>(gr[i]) * yr[i];
    }
    mean_g /= static_cast<double>(n);
    mean_gy /= static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i)
      dr[i] = static_cast<T>(rstd[r] * (gr[i] - mean_g - yr[i] * mean_gy));
  }
}

// The normalisation over the trailing axes holding `n` elements, with its backward.
Tensor normalize(const Tensor& x_view, std::int64_t n, double eps) {
  const Tensor x = detail::dense(x_view);  // the kernel walks the storage row-major
  const std::int64_t rows = x.numel() / n;
  Tensor y = empty(x.shape(), x.dtype());  // (..., *normalized)
  Tensor rstd = empty({rows}, x.dtype());  // (rows)
  detail::dispatch_floating("LayerNorm", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normalize_rows<T>(x.data<T>(), y.data<T>(), rstd.data<T>(), rows, n, eps);
  });
  record_op(y, "LayerNorm", {x}, [saved = y.detach(), rstd, rows, n](const Tensor& g) {
    Tensor dx = empty(g.shape(), g.dtype());
    detail::dispatch_floating("LayerNorm", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      normalize_rows_backward<T>(g.data<T>(), saved.data<T>(), rstd.data<T>(), dx.data<T>(), rows,
                                 n);
    });
    return std::vector<Tensor>{dx};
  }, /*saved=*/{y});
  return y;
}

}  // namespace

LayerNorm::LayerNorm(const LayerNormOptions& options) : options_(options) {
  const Shape& shape = options.normalized_shape();
  if (shape.empty())
    throw ValueError("LayerNorm: normalized_shape must have at least one axis, got ()");
  for (std::int64_t size : shape)
    if (size <= 0)
      throw ValueError(fmt::format("LayerNorm: normalized_shape must be positive, got {}",
                                   shape_str(shape)));
  if (!(options.eps() > 0.0))
    throw ValueError(fmt::format("LayerNorm: eps must be positive, got {}", options.eps()));
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", empty(shape));
    bias = register_parameter("bias", empty(shape));
    reset_parameters();
  }
}

void LayerNorm::reset_parameters() {
  if (!options_.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
  detail::check_defined("LayerNorm", input);
  const Shape& normalized = options_.normalized_shape();
  const std::int64_t k = static_cast<std::int64_t>(normalized.size());
  if (input.dim() < k ||
      !std::equal(normalized.begin(), normalized.end(), input.shape().end() - k)) {
    std::string expected = "(*";
    for (std::int64_t size : normalized) expected += fmt::format(", {}", size);
    throw ShapeError(fmt::format("LayerNorm: expected input of shape {}), got {}", expected,
                                 shape_str(input.shape())));
  }
  Tensor normalised = normalize(input, detail::numel_of(normalized), options_.eps());
  if (!options_.elementwise_affine()) return normalised;
  return normalised * weight + bias;
}

}  // namespace loom
