#include "loom/optim/clip.h"

#include <cmath>

#include <fmt/format.h>

#include "detail/kernels.h"

namespace loom::optim {

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  if (!(max_norm > 0.0))
    throw ValueError(fmt::format("clip_grad_norm: max_norm must be positive, got {}", max_norm));
  double squares = 0.0;
  for (const auto& p : params) {
    const Tensor g = p.grad();
    if (!g.defined()) continue;
    detail::dispatch_floating("clip_grad_norm", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* d = g.data<T>();
      for (std::int64_t i = 0; i < g.numel(); ++i) squares += static_cast<double>(d[i]) * d[i];
    });
  }
  const double norm = std::sqrt(squares);
  const double coefficient = max_norm / (norm + 1e-6);  // PyTorch's epsilon
  if (coefficient < 1.0) {
    for (const auto& p : params) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      detail::dispatch_floating("clip_grad_norm", g.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* d = g.data<T>();
        for (std::int64_t i = 0; i < g.numel(); ++i) d[i] *= static_cast<T>(coefficient);
      });
    }
  }
  return norm;
}

void clip_grad_value(const std::vector<Tensor>& params, double clip_value) {
  if (!(clip_value > 0.0))
    throw ValueError(fmt::format("clip_grad_value: clip_value must be positive, got {}", clip_value));
  for (const auto& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    detail::dispatch_floating("clip_grad_value", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      T* d = g.data<T>();
      const T limit = static_cast<T>(clip_value);
      for (std::int64_t i = 0; i < g.numel(); ++i) d[i] = std::clamp(d[i], -limit, limit);
    });
  }
}

}  // namespace loom::optim
