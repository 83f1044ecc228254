// layer_norm: one op with a hand-written backward, the affine map (weight, bias) included: a pass
// over each row instead of the eight temporaries a composition of ops would make, and no separate
// passes for the weight and the bias (as ops they took 2 of the 3 passes: 1.7x torch on Zen 4).
#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <utility>

#include "detail/kernels.h"
#include "detail/normalization.h"
#include "loom/autograd.h"
#include "loom/ops.h"

namespace loom {

namespace {

// y = (x - mean) * rstd * weight + bias over each of `rows` rows of length n (weight and bias: n
// values each, or null for none); keeps each row's mean and rstd = 1 / sqrt(var + eps). Rows are
// split between the threads; each row's sums run in xsimd lanes (simd_sum_map), in an order that
// depends on n alone. (4096 x 512 float32: 7.70 ms on Zen 3 with the scalar float64 sums of
// before, whose chain of dependent additions the compiler may not reorder.)
template <class T>
void normalize_rows(const T* x, const T* weight, const T* bias, T* y, T* mean_out, T* rstd_out,
                    std::int64_t rows, std::int64_t n, double eps) {
  // the options as compile-time branches, so the per-element lambda has none
  detail::with_flag(weight != nullptr, [&](auto scaled) { detail::with_flag(bias != nullptr, [&](auto shifted) {
    constexpr bool scale = decltype(scaled)::value, shift = decltype(shifted)::value;
    detail::parallel_rows(rows, n, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const T* xr = x + r * n;
        const T mean = detail::simd_sum_map<T>(n, [](auto v) { return v; }, xr) / static_cast<T>(n);
        const T variance = detail::simd_sum_map<T>(n, [mean](auto v) { return (v - mean) * (v - mean); }, xr) /
                           static_cast<T>(n);  // biased, as PyTorch
        const T inv = T(1) / std::sqrt(variance + static_cast<T>(eps));
        mean_out[r] = mean;
        rstd_out[r] = inv;
        // null weight or bias: read as x (never used), so that simd_map keeps one signature
        detail::simd_map(n, y + r * n, [=](auto v, auto w, auto b) {
          auto out = (v - mean) * inv;
          if constexpr (scale) out = out * w;
          if constexpr (shift) out = out + b;
          return out;
        }, xr, scale ? weight : xr, shift ? bias : xr);
      }
    });
  }); });
}

// dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) over each row, with gw = g * weight (g
// without a weight) and xhat = (x - mean) * rstd recomputed from the input; rows split between the
// threads.
template <class T>
void normalize_rows_backward(const T* g, const T* x, const T* weight, const T* mean, const T* rstd,
                             T* dx, std::int64_t rows, std::int64_t n) {
  detail::with_flag(weight != nullptr, [&](auto scaled) {
    const T* w = scaled ? weight : g;  // a stand-in that is never read without a weight
    const auto scaled_g = [](auto u, auto wv) {  // g * weight, or g
      if constexpr (decltype(scaled)::value) return u * wv;
      else return u;
    };
    detail::parallel_rows(rows, n, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t r = begin; r < end; ++r) {
        const T* gr = g + r * n;
        const T* xr = x + r * n;
        const T m = mean[r], s = rstd[r];
        const T mean_gw = detail::simd_sum_map<T>(n, scaled_g, gr, w) / static_cast<T>(n);
        const T mean_gwx = detail::simd_sum_map<T>(n, [&](auto u, auto wv, auto v) {
          return scaled_g(u, wv) * ((v - m) * s);
        }, gr, w, xr) / static_cast<T>(n);
        detail::simd_map(n, dx + r * n, [&](auto u, auto wv, auto v) {
          return s * (scaled_g(u, wv) - mean_gw - (v - m) * s * mean_gwx);
        }, gr, w, xr);
      }
    });
  });
}

// dweight = the column sums of g * xhat, dbias = those of g (null: not wanted), the rows added in
// order, the columns split between the threads: the same bits at any thread count.
template <class T>
void affine_gradients(const T* g, const T* x, const T* mean, const T* rstd, T* dweight, T* dbias,
                      std::int64_t rows, std::int64_t n) {
  constexpr std::int64_t kMinColumns = 16;  // a cache line of floats per thread at least
  detail::parallel_rows(n, rows, [&](std::int64_t begin, std::int64_t end) {
    const std::int64_t width = end - begin;
    if (dweight != nullptr) std::fill(dweight + begin, dweight + end, T(0));
    if (dbias != nullptr) std::fill(dbias + begin, dbias + end, T(0));
    for (std::int64_t r = 0; r < rows; ++r) {
      const T* gr = g + r * n + begin;
      const T m = mean[r], s = rstd[r];
      if (dweight != nullptr)
        detail::simd_map(width, dweight + begin, [m, s](auto acc, auto u, auto v) { return acc + u * ((v - m) * s); },
                         dweight + begin, gr, x + r * n + begin);
      if (dbias != nullptr)
        detail::simd_map(width, dbias + begin, [](auto acc, auto u) { return acc + u; }, dbias + begin, gr);
    }
  }, kMinColumns);
}

// layer_norm over the trailing axes holding `n` elements, weight and bias (n values, or
// undefined) included, with its backward.
Tensor normalize(const Tensor& x_view, const Tensor& weight_view, const Tensor& bias_view, std::int64_t n,
                 double eps) {
  const Tensor x = detail::dense(x_view);  // the kernels walk the storage row-major
  const Tensor weight = detail::dense(weight_view);  // (*normalized) or undefined
  const Tensor bias = detail::dense(bias_view);      // (*normalized) or undefined
  const std::int64_t rows = x.numel() / n;
  Tensor y = empty(x.shape(), x.dtype());  // (..., *normalized)
  Tensor mean = empty({rows}, x.dtype());  // (rows)
  Tensor rstd = empty({rows}, x.dtype());  // (rows)
  detail::dispatch_floating("layer_norm", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    normalize_rows<T>(x.data<T>(), detail::data_or_null<T>(weight), detail::data_or_null<T>(bias), y.data<T>(),
                      mean.data<T>(), rstd.data<T>(), rows, n, eps);
  });
  // which gradients the backward makes: (input, weight, bias)
  const std::array<bool, 3> wanted = {x_view.requires_grad(), weight.defined() && weight.requires_grad(),
                                      bias.defined() && bias.requires_grad()};
  record_op(y, "layer_norm", {x_view, weight_view, bias_view},
            [x, weight, bias_shape = bias.defined() ? bias.shape() : Shape{}, wanted, mean, rstd, rows,
             n](const Tensor& g_view) {
    const Tensor g = detail::dense(g_view);
    Tensor dx = wanted[0] ? empty(g.shape(), g.dtype()) : Tensor();
    Tensor dweight = wanted[1] ? empty(weight.shape(), g.dtype()) : Tensor();
    Tensor dbias = wanted[2] ? empty(bias_shape, g.dtype()) : Tensor();
    detail::dispatch_floating("layer_norm", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if (dx.defined())
        normalize_rows_backward<T>(g.data<T>(), x.data<T>(), detail::data_or_null<T>(weight), mean.data<T>(),
                                   rstd.data<T>(), dx.data<T>(), rows, n);
      if (dweight.defined() || dbias.defined())
        affine_gradients<T>(g.data<T>(), x.data<T>(), mean.data<T>(), rstd.data<T>(),
                            detail::data_or_null<T>(dweight), detail::data_or_null<T>(dbias), rows, n);
    });
    return std::vector<Tensor>{dx, dweight, dbias};
  }, /*saved=*/{x, weight});
  return y;
}

}  // namespace

namespace detail {
void check_layer_norm_arguments(const char* op, const Shape& normalized_shape, double eps) {
  if (normalized_shape.empty())
    throw ValueError(fmt::format("{}: normalized_shape must have at least one axis, got ()", op));
  for (std::int64_t size : normalized_shape)
    if (size <= 0)
      throw ValueError(fmt::format("{}: normalized_shape must be positive, got {}", op,
                                   shape_str(normalized_shape)));
  if (!(eps > 0.0)) throw ValueError(fmt::format("{}: eps must be positive, got {}", op, eps));
}
}  // namespace detail

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight,
                  const Tensor& bias, double eps) {
  detail::check_floating("layer_norm", x);
  detail::check_layer_norm_arguments("layer_norm", normalized_shape, eps);
  const std::int64_t k = static_cast<std::int64_t>(normalized_shape.size());
  if (x.dim() < k || !std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k)) {
    std::string expected = "(*";  // (*, 4, 5)
    for (std::int64_t size : normalized_shape) expected += fmt::format(", {}", size);
    throw ShapeError(fmt::format("layer_norm: expected input of shape {}), got {}", expected,
                                 shape_str(x.shape())));
  }
  for (const auto& [name, parameter] : {std::pair{"weight", weight}, std::pair{"bias", bias}}) {
    if (!parameter.defined()) continue;
    if (parameter.shape() != normalized_shape)
      throw ShapeError(fmt::format("layer_norm: {} must have the normalized shape {}, got {}", name,
                                   shape_str(normalized_shape), shape_str(parameter.shape())));
    detail::check_same_floating("layer_norm", x, parameter);  // one dtype: no silent mixed precision
  }
  return normalize(x, weight, bias, detail::numel_of(normalized_shape), eps);  // (..., *normalized_shape)
}

}  // namespace loom
