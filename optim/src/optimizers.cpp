// The update rules, each written as torch.optim 1.13 writes it, over raw storage in the
// parameter's own precision.
#include "loom/optim/optimizers.h"

#include <cmath>
#include <type_traits>

#include <fmt/format.h>

#include "detail/kernels.h"
#include "detail/parallel.h"

namespace loom::optim {

namespace {

using detail::with_flag;

// Parameters per thread below which an update stays on one thread (waking a worker costs more).
constexpr std::int64_t kElementsPerThread = 1 << 16;

// The named buffer of a parameter's state, created as `initial` (zeros by default) on first use.
Tensor& buffer(ParamState& state, const char* name, const Tensor& like, double initial = 0.0) {
  auto it = state.buffers.find(name);
  if (it == state.buffers.end()) it = state.buffers.emplace(name, full_like(like, initial)).first;
  return it->second;
}

// Each element's update is independent: split between the threads for large parameters (the
// result does not depend on the split). `count` is read once: numel() called per element, out of
// line, kept the loops scalar.
template <class Update>
void for_each_element(std::int64_t count, const Update& update) {
  detail::parallel_for(count, kElementsPerThread, update);
}

void check_nonnegative(const char* op, const char* what, double value) {
  if (!(value >= 0.0)) throw ValueError(fmt::format("{}: {} must be >= 0, got {}", op, what, value));
}

}  // namespace

// ---- SGD ------------------------------------------------------------------------------------

SGD::SGD(const NamedTensors& params, SGDOptions options)
    : SGD(single_group(params, options.lr(), options.weight_decay()), options) {}

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions options)
    : Optimizer(std::move(groups), "SGD"), options_(options) {
  check_nonnegative(name_, "momentum", options_.momentum());
  if (options_.nesterov() && (options_.momentum() <= 0.0 || options_.dampening() != 0.0))
    throw ValueError("SGD: Nesterov momentum requires a momentum and zero dampening");
}

void SGD::update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) {
  const double momentum = options_.momentum(), dampening = options_.dampening();
  const bool first = state.buffers.count("momentum_buffer") == 0;
  Tensor momentum_buffer = momentum != 0.0 ? buffer(state, "momentum_buffer", param) : Tensor();
  detail::dispatch_floating("SGD", param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* buf = momentum != 0.0 ? momentum_buffer.data<T>() : nullptr;
    const T lr = static_cast<T>(group.lr), wd = static_cast<T>(group.weight_decay);
    const T mu = static_cast<T>(momentum), damp = static_cast<T>(1.0 - dampening);
    const bool nesterov = options_.nesterov();
    with_flag(wd != T(0), [&](auto decays) {
      with_flag(buf != nullptr, [&](auto has_momentum) {
        for_each_element(param.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
          for (std::int64_t i = begin; i < end; ++i) {
            T d_p = g[i];
            if constexpr (decltype(decays)::value) d_p += wd * p[i];
            if constexpr (decltype(has_momentum)::value) {
              buf[i] = first ? d_p : mu * buf[i] + damp * d_p;  // the first step copies d_p
              d_p = nesterov ? d_p + mu * buf[i] : buf[i];
            }
            p[i] -= lr * d_p;
          }
        });
      });
    });
  });
  ++state.step;
}

// ---- Adam and AdamW -------------------------------------------------------------------------

Adam::Adam(const NamedTensors& params, AdamOptions options)
    : Adam(single_group(params, options.lr(), options.weight_decay()), options) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options)
    : Adam(std::move(groups), options, "Adam", false) {}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions options, const char* name, bool decoupled)
    : Optimizer(std::move(groups), name), options_(options), decoupled_weight_decay_(decoupled) {
  if (!(options_.beta1() >= 0.0 && options_.beta1() < 1.0) ||
      !(options_.beta2() >= 0.0 && options_.beta2() < 1.0))
    throw ValueError(fmt::format("{}: betas must be in [0, 1), got ({}, {})", name_,
                                 options_.beta1(), options_.beta2()));
  check_nonnegative(name_, "eps", options_.eps());
}

AdamW::AdamW(const NamedTensors& params, AdamOptions options)
    : AdamW(single_group(params, options.lr(), options.weight_decay()), options) {}

AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions options)
    : Adam(std::move(groups), options, "AdamW", true) {}

void Adam::update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) {
  Tensor exp_avg = buffer(state, "exp_avg", param);
  Tensor exp_avg_sq = buffer(state, "exp_avg_sq", param);
  Tensor max_exp_avg_sq = options_.amsgrad() ? buffer(state, "max_exp_avg_sq", param) : Tensor();
  const std::int64_t step = ++state.step;
  detail::dispatch_floating(name_, param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.data<T>();
    T* v = exp_avg_sq.data<T>();
    T* v_max = options_.amsgrad() ? max_exp_avg_sq.data<T>() : nullptr;
    const T lr = static_cast<T>(group.lr), wd = static_cast<T>(group.weight_decay);
    const T beta1 = static_cast<T>(options_.beta1()), beta2 = static_cast<T>(options_.beta2());
    const T eps = static_cast<T>(options_.eps());
    const double bias_correction1 = 1.0 - std::pow(options_.beta1(), static_cast<double>(step));
    const double bias_correction2 = 1.0 - std::pow(options_.beta2(), static_cast<double>(step));
    const T step_size = static_cast<T>(group.lr / bias_correction1);
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    // AdamW decays the weights (decay < 1: exact when 1); Adam adds wd * p to the gradient.
    const T decay = decoupled_weight_decay_ ? T(1) - lr * wd : T(1);
    with_flag(!decoupled_weight_decay_ && wd != T(0), [&](auto adds_decay) {
      with_flag(v_max != nullptr, [&](auto amsgrad) {
        for_each_element(param.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
          for (std::int64_t i = begin; i < end; ++i) {
            p[i] *= decay;
            T gi = g[i];
            if constexpr (decltype(adds_decay)::value) gi += wd * p[i];
            m[i] = beta1 * m[i] + (T(1) - beta1) * gi;
            v[i] = beta2 * v[i] + (T(1) - beta2) * gi * gi;
            T second = v[i];
            if constexpr (decltype(amsgrad)::value) second = v_max[i] = std::max(v_max[i], v[i]);
            const T denom = std::sqrt(second) / bias_correction2_sqrt + eps;
            p[i] -= step_size * (m[i] / denom);
          }
        });
      });
    });
  });
}

// ---- RMSprop --------------------------------------------------------------------------------

RMSprop::RMSprop(const NamedTensors& params, RMSpropOptions options)
    : RMSprop(single_group(params, options.lr(), options.weight_decay()), options) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, RMSpropOptions options)
    : Optimizer(std::move(groups), "RMSprop"), options_(options) {
  check_nonnegative(name_, "alpha", options_.alpha());
  check_nonnegative(name_, "eps", options_.eps());
  check_nonnegative(name_, "momentum", options_.momentum());
}

void RMSprop::update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) {
  Tensor square_avg = buffer(state, "square_avg", param);
  Tensor grad_avg = options_.centered() ? buffer(state, "grad_avg", param) : Tensor();
  Tensor momentum_buffer = options_.momentum() > 0 ? buffer(state, "momentum_buffer", param) : Tensor();
  ++state.step;
  detail::dispatch_floating(name_, param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* sq = square_avg.data<T>();
    T* ga = detail::data_or_null<T>(grad_avg);
    T* buf = detail::data_or_null<T>(momentum_buffer);
    const T lr = static_cast<T>(group.lr), wd = static_cast<T>(group.weight_decay);
    const T alpha = static_cast<T>(options_.alpha()), eps = static_cast<T>(options_.eps());
    const T momentum = static_cast<T>(options_.momentum());
    with_flag(wd != T(0), [&](auto decays) {
      with_flag(ga != nullptr, [&](auto centered) {
        with_flag(buf != nullptr, [&](auto has_momentum) {
          for_each_element(param.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
            for (std::int64_t i = begin; i < end; ++i) {
              T gi = g[i];
              if constexpr (decltype(decays)::value) gi += wd * p[i];
              sq[i] = alpha * sq[i] + (T(1) - alpha) * gi * gi;
              T avg;
              if constexpr (decltype(centered)::value) {
                ga[i] = alpha * ga[i] + (T(1) - alpha) * gi;
                avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
              } else {
                avg = std::sqrt(sq[i]) + eps;
              }
              if constexpr (decltype(has_momentum)::value) {
                buf[i] = momentum * buf[i] + gi / avg;
                p[i] -= lr * buf[i];
              } else {
                p[i] -= lr * (gi / avg);
              }
            }
          });
        });
      });
    });
  });
}

// ---- Adagrad --------------------------------------------------------------------------------

Adagrad::Adagrad(const NamedTensors& params, AdagradOptions options)
    : Adagrad(single_group(params, options.lr(), options.weight_decay()), options) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, AdagradOptions options)
    : Optimizer(std::move(groups), "Adagrad"), options_(options) {
  check_nonnegative(name_, "lr_decay", options_.lr_decay());
  check_nonnegative(name_, "initial_accumulator_value", options_.initial_accumulator_value());
  check_nonnegative(name_, "eps", options_.eps());
}

void Adagrad::update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) {
  Tensor sum = buffer(state, "sum", param, options_.initial_accumulator_value());
  const std::int64_t step = ++state.step;
  detail::dispatch_floating(name_, param.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = param.data<T>();
    const T* g = grad.data<T>();
    T* s = sum.data<T>();
    const T wd = static_cast<T>(group.weight_decay), eps = static_cast<T>(options_.eps());
    const T clr = static_cast<T>(group.lr / (1.0 + static_cast<double>(step - 1) * options_.lr_decay()));
    with_flag(wd != T(0), [&](auto decays) {
      for_each_element(param.numel(), [&](std::int64_t begin, std::int64_t end) {
#pragma omp simd
        for (std::int64_t i = begin; i < end; ++i) {
          T gi = g[i];
          if constexpr (decltype(decays)::value) gi += wd * p[i];
          s[i] += gi * gi;
          p[i] -= clr * (gi / (std::sqrt(s[i]) + eps));
        }
      });
    });
  });
}

}  // namespace loom::optim
