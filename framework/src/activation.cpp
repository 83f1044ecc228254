// Activations, softmax and dropout.
#include <cmath>
#include <limits>

#include "detail/kernels.h"
#include "loom/ops.h"
#include "loom/random.h"

namespace loom {

Tensor tanh(const Tensor& x) {
  return detail::unary_from_output(
      "tanh", x, [](auto, const auto& in) { return xt::tanh(in); },
      [](auto tag, const auto& y, const auto& g) {
        using T = decltype(tag);
        return g * (T(1) - y * y);
      });
}

Tensor sigmoid(const Tensor& x) {
  return detail::unary_from_output(
      "sigmoid", x,
      [](auto tag, const auto& in) {
        using T = decltype(tag);
        return T(1) / (T(1) + xt::exp(-in));
      },
      [](auto tag, const auto& y, const auto& g) {
        using T = decltype(tag);
        return g * y * (T(1) - y);
      });
}

Tensor relu(const Tensor& x) {
  return detail::unary_from_output(
      "relu", x,
      [](auto tag, const auto& in) {
        using T = decltype(tag);
        return xt::maximum(in, T(0));
      },
      [](auto tag, const auto& y, const auto& g) {
        using T = decltype(tag);
        return xt::where(y > T(0), g, T(0));
      });
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  return detail::unary_from_input(
      "leaky_relu", x,
      [negative_slope](auto tag, const auto& in) {
        using T = decltype(tag);
        return xt::where(in > T(0), in, in * static_cast<T>(negative_slope));
      },
      [negative_slope](auto tag, const auto& in, const auto& g) {
        using T = decltype(tag);
        return xt::where(in > T(0), g, g * static_cast<T>(negative_slope));
      });
}

Tensor gelu(const Tensor& x) {
  return detail::unary_from_input(
      "gelu", x,
      [](auto tag, const auto& in) {
        using T = decltype(tag);
        return T(0.5) * in * (T(1) + xt::erf(in * T(M_SQRT1_2)));
      },
      [](auto tag, const auto& in, const auto& g) {
        using T = decltype(tag);
        // d/dx x Phi(x) = Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi). Constants are
        // written inline: xtensor expressions keep references to named locals.
        return g * (T(0.5) * (T(1) + xt::erf(in * T(M_SQRT1_2))) +
                    in * T(0.5 * M_2_SQRTPI * M_SQRT1_2) * xt::exp(T(-0.5) * in * in));
      });
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  if (beta <= 0.0) throw ValueError(fmt::format("softplus: beta must be positive, got {}", beta));
  return detail::unary_from_input(
      "softplus", x,
      [beta, threshold](auto tag, const auto& in) {
        using T = decltype(tag);
        return xt::where(in * static_cast<T>(beta) > static_cast<T>(threshold), in,
                         xt::log1p(xt::exp(in * static_cast<T>(beta))) / static_cast<T>(beta));
      },
      [beta, threshold](auto tag, const auto& in, const auto& g) {
        using T = decltype(tag);
        return xt::where(in * static_cast<T>(beta) > static_cast<T>(threshold), g,
                         g / (T(1) + xt::exp(-in * static_cast<T>(beta))));
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
  std::vector<T> max_buffer(static_cast<std::size_t>(l.inner));
  std::vector<T> sum_buffer(static_cast<std::size_t>(l.inner));
  auto max_row = detail::span(max_buffer.data(), l.inner);
  auto sum_row = detail::span(sum_buffer.data(), l.inner);
  for (std::int64_t o = 0; o < l.outer; ++o) {
    const T* block = in + o * l.length * l.inner;
    T* dst = out + o * l.length * l.inner;
    max_row.fill(-std::numeric_limits<T>::infinity());
    for (std::int64_t k = 0; k < l.length; ++k)
      xt::noalias(max_row) = xt::maximum(max_row, detail::span(const_cast<T*>(block) + k * l.inner, l.inner));
    // A row that is all -inf (fully masked) is shifted by 0 and comes out as NaN, as in PyTorch.
    for (auto& m : max_row)
      if (!std::isfinite(m)) m = T(0);
    sum_row.fill(T(0));
    for (std::int64_t k = 0; k < l.length; ++k) {
      auto y = detail::span(dst + k * l.inner, l.inner);
      xt::noalias(y) = xt::exp(detail::span(const_cast<T*>(block) + k * l.inner, l.inner) - max_row);
      xt::noalias(sum_row) += y;
    }
    if (log_form) {
      xt::noalias(max_row) += xt::log(sum_row);  // max + log(sum exp(x - max))
      for (std::int64_t k = 0; k < l.length; ++k) {
        auto y = detail::span(dst + k * l.inner, l.inner);
        xt::noalias(y) = detail::span(const_cast<T*>(block) + k * l.inner, l.inner) - max_row;
      }
    } else {
      xt::noalias(sum_row) = T(1) / sum_row;
      for (std::int64_t k = 0; k < l.length; ++k) {
        auto y = detail::span(dst + k * l.inner, l.inner);
        xt::noalias(y) *= sum_row;
      }
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

Tensor softmax_forward(const char* op, const Tensor& x, std::int64_t axis, bool log_form) {
  detail::check_floating(op, x);
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
  });
  return out;
}

Tensor log_softmax(const Tensor& x, std::int64_t axis) {
  Tensor out = softmax_forward("log_softmax", x, axis, true);
  const std::int64_t a = detail::normalize_axis("log_softmax", axis, x.dim());
  record_op(out, "log_softmax", {x}, [y = out.detach(), a](const Tensor& g) {
    return std::vector<Tensor>{g - exp(y) * sum(g, {a}, true)};
  });
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
