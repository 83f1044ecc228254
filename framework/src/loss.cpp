// Losses. Cross entropy and NLL have fused kernels (one pass forward, the softmax gradient
// written directly); the regression losses are compositions of differentiable ops.
#include <cmath>
#include <numeric>

#include "detail/kernels.h"
#include "loom/ops.h"

namespace loom {

namespace {

Tensor reduce(const Tensor& per_element, Reduction reduction) {
  switch (reduction) {
    case Reduction::Mean: return mean(per_element);
    case Reduction::Sum: return sum(per_element);
    case Reduction::None: return per_element;
  }
  return per_element;
}

// What the class targets of a (N, C) loss weigh: each class's weight and the sum of the
// counted targets' weights, the divisor of the mean (the number of counted targets unweighted).
struct TargetWeights {
  std::vector<double> per_class;  // (C)
  double total = 0.0;
  double of(std::int64_t target, std::int64_t ignore_index) const {
    return target == ignore_index ? 0.0 : per_class[static_cast<std::size_t>(target)];
  }
};

// Checks (N, C) scores against (N) int64 targets, each a class or ignore_index, and the
// optional (C) class weights.
TargetWeights check_class_targets(const char* op, const Tensor& scores, const Tensor& targets,
                                  const CrossEntropyOptions& options) {
  detail::check_floating(op, scores);
  detail::check_index_tensor(op, targets);
  if (scores.dim() != 2)
    throw ShapeError(fmt::format("{}: expected scores of shape (N, C), got {}; reshape (B, T, C) "
                                 "to (B*T, C)", op, shape_str(scores.shape())));
  if (targets.dim() != 1 || targets.size(0) != scores.size(0))
    throw ShapeError(fmt::format("{}: expected targets of shape ({},) for scores {}, got {}", op,
                                 scores.size(0), shape_str(scores.shape()),
                                 shape_str(targets.shape())));
  if (!(options.label_smoothing >= 0.0 && options.label_smoothing <= 1.0))
    throw ValueError(fmt::format("{}: label_smoothing must be in [0, 1], got {}", op,
                                 options.label_smoothing));
  const std::int64_t classes = scores.size(1);
  TargetWeights weights;
  if (options.weight.defined()) {
    detail::check_floating(op, options.weight);
    if (options.weight.dim() != 1 || options.weight.size(0) != classes)
      throw ShapeError(fmt::format("{}: expected class weights of shape ({},) for scores {}, got {}",
                                   op, classes, shape_str(scores.shape()),
                                   shape_str(options.weight.shape())));
    weights.per_class = options.weight.to_vector<double>();
    for (double w : weights.per_class)
      if (!(w >= 0.0 && std::isfinite(w)))
        throw ValueError(fmt::format("{}: class weights must be finite and non-negative, got {}", op, w));
  } else {
    weights.per_class.assign(static_cast<std::size_t>(classes), 1.0);
  }
  const std::int64_t* t = targets.data<std::int64_t>();
  for (std::int64_t i = 0; i < targets.numel(); ++i) {
    if (t[i] == options.ignore_index) continue;
    if (t[i] < 0 || t[i] >= classes)
      throw IndexError(fmt::format("{}: target {} at position {} is out of range for {} classes",
                                   op, t[i], i, classes));
    weights.total += weights.per_class[static_cast<std::size_t>(t[i])];
  }
  return weights;
}

// The weight each sample's loss carries into the reduced result: 1/total for mean.
double reduction_scale(Reduction reduction, double total) {
  return reduction == Reduction::Mean ? 1.0 / total : 1.0;
}

// Per-sample upstream gradient: g broadcast for mean/sum, g[i] for none.
template <class T>
T sample_grad(const Tensor& g, Reduction reduction, std::int64_t i, double scale) {
  const T* pg = g.data<T>();
  return static_cast<T>((reduction == Reduction::None ? pg[i] : pg[0]) * scale);
}

Tensor finish(Tensor per_sample, Reduction reduction, double total) {
  if (reduction == Reduction::None) return per_sample;
  Tensor sum_of_losses = sum(per_sample);
  return reduction == Reduction::Sum ? sum_of_losses : sum_of_losses / total;
}

}  // namespace

Tensor cross_entropy(const Tensor& logits_view, const Tensor& targets_view,
                     const CrossEntropyOptions& options) {
  const Tensor logits = detail::dense(logits_view), targets = detail::dense(targets_view);  // the kernel walks the storage row-major
  const TargetWeights weights = check_class_targets("cross_entropy", logits, targets, options);
  const std::int64_t n = logits.size(0), classes = logits.size(1);
  const double smoothing = options.label_smoothing;
  const double weight_sum = std::accumulate(weights.per_class.begin(), weights.per_class.end(), 0.0);  // W
  // Only each row's log-normaliser log(sum_c exp x_c) is kept, not the (N, C) log-probabilities:
  // the backward recomputes p = exp(x - normaliser) in the pass that writes the gradient.
  Tensor scores = logits.detach();                              // (N, C)
  Tensor log_normalizers = empty({n}, logits.dtype());          // (N)
  Tensor per_sample = empty({n}, logits.dtype());               // (N)
  detail::dispatch_floating("cross_entropy", logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* x = scores.data<T>();
    const std::int64_t* t = targets.data<std::int64_t>();
    const std::vector<T> w(weights.per_class.begin(), weights.per_class.end());  // (C)
    T* normalizer = log_normalizers.data<T>();
    T* loss = per_sample.data<T>();
    detail::parallel_rows(n, classes, [&](std::int64_t begin, std::int64_t end) {
      std::vector<T> exps(static_cast<std::size_t>(classes));  // (C) scratch
      for (std::int64_t i = begin; i < end; ++i) {
        const T* row = x + i * classes;
        const auto [row_max, total] = detail::row_max_and_exp_sum(row, classes, exps.data());
        normalizer[i] = row_max + std::log(total);
        if (t[i] == options.ignore_index) {
          loss[i] = T(0);
          continue;
        }
        // -log p_c = normaliser - x_c; the smoothing term is sum_c w_c log p_c
        double smoothing_term = 0;
        if (smoothing != 0.0) {
          T weighted_sum = 0;
#pragma omp simd reduction(+ : weighted_sum)
          for (std::int64_t c = 0; c < classes; ++c) weighted_sum += w[c] * row[c];
          smoothing_term = static_cast<double>(weighted_sum) - weight_sum * normalizer[i];
        }
        loss[i] = static_cast<T>((1.0 - smoothing) * w[t[i]] * (normalizer[i] - row[t[i]]) -
                                 smoothing / static_cast<double>(classes) * smoothing_term);
      }
    });
  });
  Tensor out = finish(per_sample.detach(), options.reduction, weights.total).detach();
  record_op(out, "cross_entropy", {logits},
                 [scores, log_normalizers, targets, options, weights, weight_sum, n, classes](const Tensor& g) {
    Tensor grad = empty(scores.shape(), scores.dtype());
    detail::dispatch_floating("cross_entropy", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const double scale = reduction_scale(options.reduction, weights.total);
      const double eps = options.label_smoothing;
      std::vector<T> smoothing_share(static_cast<std::size_t>(classes));  // eps w_c / C
      for (std::int64_t c = 0; c < classes; ++c)
        smoothing_share[c] = static_cast<T>(eps * weights.per_class[c] / static_cast<double>(classes));
      const T* x = scores.data<T>();
      const T* normalizer = log_normalizers.data<T>();
      const std::int64_t* t = targets.data<std::int64_t>();
      T* out_grad = grad.data<T>();
      const T* share = smoothing_share.data();
      // p = exp(x - normaliser), row by row (detail::simd_map: the same bits whatever the split)
      detail::parallel_rows(n, classes, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t i = begin; i < end; ++i) {
          T* p = out_grad + i * classes;
          if (t[i] == options.ignore_index) {
            std::fill(p, p + classes, T(0));
            continue;
          }
          const T shift = normalizer[i];
          detail::simd_map(classes, p, [shift](auto v) { return xsimd::exp(v - shift); }, x + i * classes);
          // d loss_i / d logit_c = p_c ((1 - eps) w_t + eps W / C) - eps w_c / C - (1 - eps) w_t [c == t]
          const T g_i = sample_grad<T>(g, options.reduction, i, scale);
          const double target_weight = weights.per_class[t[i]];
          const T p_factor = static_cast<T>((1.0 - eps) * target_weight + eps * weight_sum / static_cast<double>(classes));
#pragma omp simd
          for (std::int64_t c = 0; c < classes; ++c) p[c] = (p[c] * p_factor - share[c]) * g_i;
          p[t[i]] -= static_cast<T>((1.0 - eps) * target_weight) * g_i;
        }
      });
    });
    return std::vector<Tensor>{grad};
  });
  return out;
}

Tensor nll_loss(const Tensor& log_probs_view, const Tensor& targets_view,
                const CrossEntropyOptions& options) {
  const Tensor log_probs = detail::dense(log_probs_view), targets = detail::dense(targets_view);  // the kernel walks the storage row-major
  if (options.label_smoothing != 0.0)
    throw ValueError("nll_loss: label_smoothing is not defined for nll_loss; use cross_entropy");
  const TargetWeights weights = check_class_targets("nll_loss", log_probs, targets, options);
  const std::int64_t n = log_probs.size(0), classes = log_probs.size(1);
  Tensor per_sample = empty({n}, log_probs.dtype());
  detail::dispatch_floating("nll_loss", log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* lp = log_probs.data<T>();
    const std::int64_t* t = targets.data<std::int64_t>();
    T* loss = per_sample.data<T>();
    for (std::int64_t i = 0; i < n; ++i)
      loss[i] = t[i] == options.ignore_index
                    ? T(0)
                    : static_cast<T>(-weights.of(t[i], options.ignore_index) * lp[i * classes + t[i]]);
  });
  Tensor out = finish(per_sample, options.reduction, weights.total).detach();
  record_op(out, "nll_loss", {log_probs},
                 [targets, options, weights, shape = log_probs.shape(), classes](const Tensor& g) {
    Tensor grad = zeros(shape, g.dtype());
    detail::dispatch_floating("nll_loss", g.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const double scale = reduction_scale(options.reduction, weights.total);
      const std::int64_t* t = targets.data<std::int64_t>();
      T* out_grad = grad.data<T>();
      for (std::int64_t i = 0; i < shape[0]; ++i)
        if (t[i] != options.ignore_index)
          out_grad[i * classes + t[i]] = static_cast<T>(-weights.of(t[i], options.ignore_index)) *
                                         sample_grad<T>(g, options.reduction, i, scale);
    });
    return std::vector<Tensor>{grad};
  });
  return out;
}

namespace {
void check_same_shape(const char* op, const Tensor& prediction, const Tensor& target) {
  detail::check_same_floating(op, prediction, target);
  if (prediction.shape() != target.shape())
    throw ShapeError(fmt::format("{}: prediction {} and target {} differ in shape", op,
                                 shape_str(prediction.shape()), shape_str(target.shape())));
}
}  // namespace

Tensor mse_loss(const Tensor& prediction, const Tensor& target, Reduction reduction) {
  check_same_shape("mse_loss", prediction, target);
  Tensor diff = prediction - target;
  return reduce(diff * diff, reduction);
}

Tensor l1_loss(const Tensor& prediction, const Tensor& target, Reduction reduction) {
  check_same_shape("l1_loss", prediction, target);
  return reduce(abs(prediction - target), reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& logits_view, const Tensor& target_view,
                                        Reduction reduction) {
  const Tensor logits = detail::dense(logits_view), target = detail::dense(target_view);  // the kernel walks the storage row-major
  check_same_shape("binary_cross_entropy_with_logits", logits, target);
  Tensor per_element = empty(logits.shape(), logits.dtype());
  detail::dispatch_floating("binary_cross_entropy_with_logits", logits.dtype(), [&](auto tag) {
    using T = decltype(tag);
    // max(x, 0) - x y + log(1 + exp(-|x|)): no overflow for any x
    detail::parallel_simd_map(
        logits.numel(), per_element.data<T>(),
        [](auto x, auto y) {
          return xsimd::max(x, decltype(x)(0)) - x * y + xsimd::log1p(xsimd::exp(-xsimd::abs(x)));
        },
        logits.data<T>(), target.data<T>());
  });
  record_op(per_element, "binary_cross_entropy_with_logits", {logits, target},
                 [logits, target](const Tensor& g) {
    // d/dx = sigmoid(x) - y, d/dy = -x
    return std::vector<Tensor>{g * (sigmoid(logits) - target), g * neg(logits)};
  });
  return reduce(per_element, reduction);
}

}  // namespace loom
