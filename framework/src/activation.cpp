// Activations, softmax and dropout.
#include <cmath>
#include <limits>

#include "detail/kernels.h"
#include "loom/ops.h"
#include "loom/random.h"

namespace loom {

// The forward and backward lambdas map xsimd::batch<T> to xsimd::batch<T> (detail::simd_map).

Tensor tanh(const Tensor& x) {
  return detail::unary_from_output(
      "tanh", x, [](auto in) { return xsimd::tanh(in); },
      [](auto y, auto g) { return g * (decltype(y)(1) - y * y); });
}

Tensor sigmoid(const Tensor& x) {
  return detail::unary_from_output(
      "sigmoid", x,
      [](auto in) {
        using Batch = decltype(in);
        return Batch(1) / (Batch(1) + xsimd::exp(-in));
      },
      [](auto y, auto g) { return g * y * (decltype(y)(1) - y); });
}

Tensor relu(const Tensor& x) {
  return detail::unary_from_output(
      "relu", x, [](auto in) { return xsimd::max(in, decltype(in)(0)); },
      [](auto y, auto g) {
        using Batch = decltype(y);
        return xsimd::select(y > Batch(0), g, Batch(0));
      });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return detail::unary_from_input(
      "leaky_relu", x,
      [negative_slope](auto in) {
        using Batch = decltype(in);
        const Batch slope(static_cast<typename Batch::value_type>(negative_slope));
        return xsimd::select(in > Batch(0), in, in * slope);
      },
      [negative_slope](auto in, auto g) {
        using Batch = decltype(in);
        const Batch slope(static_cast<typename Batch::value_type>(negative_slope));
        return xsimd::select(in > Batch(0), g, g * slope);
      });
}

Tensor gelu(const Tensor& x) {
  return detail::unary_from_input(
      "gelu", x,
      [](auto in) {
        using Batch = decltype(in);
        return Batch(0.5) * in * (Batch(1) + xsimd::erf(in * Batch(M_SQRT1_2)));
      },
      [](auto in, auto g) {
        using Batch = decltype(in);
        // d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
        return g * (Batch(0.5) * (Batch(1) + xsimd::erf(in * Batch(M_SQRT1_2))) +
                    in * Batch(0.5 * M_2_SQRTPI * M_SQRT1_2) * xsimd::exp(Batch(-0.5) * in * in));
      });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  if (beta <= 0.0) throw ValueError(fmt::format("softplus: beta must be positive, got {}", beta));
  return detail::unary_from_input(
      "softplus", x,
      [beta, threshold](auto in) {
        using Batch = decltype(in);
        using T = typename Batch::value_type;
        const Batch scaled = in * Batch(static_cast<T>(beta));
        return xsimd::select(scaled > Batch(static_cast<T>(threshold)), in,
                             xsimd::log1p(xsimd::exp(scaled)) / Batch(static_cast<T>(beta)));
      },
      [beta, threshold](auto in, auto g) {
        using Batch = decltype(in);
        using T = typename Batch::value_type;
        const Batch scaled = in * Batch(static_cast<T>(beta));
        return xsimd::select(scaled > Batch(static_cast<T>(threshold)), g,
                             g / (Batch(1) + xsimd::exp(-scaled)));
      });
}

namespace {


// Softmax (or log-softmax) over the middle axis of (outer, length, inner), one block at a time;
// `max_row` and `sum_row` hold `inner` running values so each pass is a vectorised row op.
template <class T>
void softmax_rows(const T* in, T* out, const detail::AxisLayout& l, bool log_form);

template <class T>
void softmax_kernel(const T* in, T* out, const detail::AxisLayout& l, bool log_form) {
  if (l.inner == 1) return softmax_rows(in, out, l, log_form);
  const std::int64_t inner = l.inner;
  std::vector<T> max_buffer(static_cast<std::size_t>(inner));  // (inner) running max, then the shift
  std::vector<T> sum_buffer(static_cast<std::size_t>(inner));  // (inner) sum of exp(x - max)
  T* max_row = max_buffer.data();
  T* sum_row = sum_buffer.data();
  for (std::int64_t o = 0; o < l.outer; ++o) {
    const T* block = in + o * l.length * inner;
    T* dst = out + o * l.length * inner;
    std::fill(max_row, max_row + inner, -std::numeric_limits<T>::infinity());
    for (std::int64_t k = 0; k < l.length; ++k)
      for (std::int64_t j = 0; j < inner; ++j) max_row[j] = std::max(max_row[j], block[k * inner + j]);
    // A row that is all -inf (fully masked) is shifted by 0 and comes out as NaN, as in PyTorch.
    for (std::int64_t j = 0; j < inner; ++j)
      if (!std::isfinite(max_row[j])) max_row[j] = T(0);
    std::fill(sum_row, sum_row + inner, T(0));
    for (std::int64_t k = 0; k < l.length; ++k) {
      T* y = dst + k * inner;
      detail::simd_map(inner, y, [](auto x, auto m) { return xsimd::exp(x - m); }, block + k * inner,
                       static_cast<const T*>(max_row));
      for (std::int64_t j = 0; j < inner; ++j) sum_row[j] += y[j];
    }
    if (log_form) {
      // shift = max + log(sum exp(x - max))
      detail::simd_map(inner, max_row, [](auto m, auto total) { return m + xsimd::log(total); },
                       static_cast<const T*>(max_row), static_cast<const T*>(sum_row));
      for (std::int64_t k = 0; k < l.length; ++k)
        for (std::int64_t j = 0; j < inner; ++j) dst[k * inner + j] = block[k * inner + j] - max_row[j];
    } else {  // times 1 / sum, as softmax_rows does
      for (std::int64_t j = 0; j < inner; ++j) sum_row[j] = T(1) / sum_row[j];
      for (std::int64_t k = 0; k < l.length; ++k)
        for (std::int64_t j = 0; j < inner; ++j) dst[k * inner + j] *= sum_row[j];
    }
  }
}

// The common case, softmax over the last (contiguous) axis: three vectorised passes per row, the
// rows split between the threads.
template <class T>
void softmax_rows(const T* in, T* out, const detail::AxisLayout& l, bool log_form) {
  detail::parallel_rows(l.outer, l.length, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t o = begin; o < end; ++o) {
      const T* x = in + o * l.length;
      T* y = out + o * l.length;
      const auto [row_max, total] = detail::row_max_and_exp_sum(x, l.length, y);
      if (log_form) {
        const T shift = row_max + std::log(total);
#pragma omp simd
        for (std::int64_t k = 0; k < l.length; ++k) y[k] = x[k] - shift;
      } else {
        const T scale = T(1) / total;
#pragma omp simd
        for (std::int64_t k = 0; k < l.length; ++k) y[k] *= scale;
      }
    }
  });
}

Tensor softmax_forward(const char* op, const Tensor& input, std::int64_t axis, bool log_form) {
  detail::check_floating(op, input);
  const Tensor x = input.contiguous();  // the kernel walks rows of the storage
  const std::int64_t a = detail::normalize_axis(op, axis, x.dim());
  Tensor out = empty(x.shape(), x.dtype());
  detail::dispatch_floating(op, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    softmax_kernel<T>(x.data<T>(), out.data<T>(), detail::axis_layout(x.shape(), x.dim() ? a : 0),
                      log_form);
  });
  return out;
}

}  // namespace

Tensor softmax(const Tensor& x, std::int64_t axis) {
  Tensor out = softmax_forward("softmax", x, axis, false);
  const std::int64_t a = detail::normalize_axis("softmax", axis, x.dim());
  record_op(out, "softmax", {x}, [y = out.detach(), a](const Tensor& g) {
    return std::vector<Tensor>{y * (g - sum(g * y, {a}, true))};
  }, /*saved=*/{out});
  return out;
}

Tensor log_softmax(const Tensor& x, std::int64_t axis) {
  Tensor out = softmax_forward("log_softmax", x, axis, true);
  const std::int64_t a = detail::normalize_axis("log_softmax", axis, x.dim());
  record_op(out, "log_softmax", {x}, [y = out.detach(), a](const Tensor& g) {
    return std::vector<Tensor>{g - exp(y) * sum(g, {a}, true)};
  }, /*saved=*/{out});
  return out;
}

Tensor dropout(const Tensor& x, double p, bool training, Generator* generator) {
  detail::check_floating("dropout", x);
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(fmt::format("dropout: probability must be in [0, 1], got {}", p));
  if (!training || p == 0.0) return x;
  Generator& gen = generator ? *generator : default_generator();
  Tensor mask = empty(x.shape(), x.dtype());  // 0 or 1/(1-p): inverted dropout
  detail::dispatch_floating("dropout", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T keep_scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    T* m = mask.data<T>();
    for (std::int64_t i = 0; i < mask.numel(); ++i) m[i] = gen.uniform() >= p ? keep_scale : T(0);
  });
  return x * mask;
}

}  // namespace loom
