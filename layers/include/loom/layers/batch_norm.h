#pragma once
/// Batch normalisation over the channel axis 1, as torch.nn.BatchNorm1d / BatchNorm2d: in
/// training the batch's mean and biased variance normalise the input and the running statistics
/// move towards the batch's (unbiased variance) by `momentum`; in eval the running statistics
/// normalise. Parameters `weight` (C, ones) and `bias` (C, zeros) when affine; buffers
/// `running_mean` (C), `running_var` (C) and `num_batches_tracked` (int64 scalar) when
/// track_running_stats — PyTorch's names, so state dicts travel unchanged.
///
///     loom::BatchNorm2d norm(loom::BatchNormOptions(16));
///     auto y = norm(loom::randn({8, 16, 28, 28}));   // (8, 16, 28, 28), batch statistics
///     norm.eval();
///     auto z = norm(loom::randn({1, 16, 28, 28}));   // running statistics
#include <cstdint>

#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct BatchNormOptions {
  BatchNormOptions(std::int64_t num_features) : num_features_(num_features) {}
  LOOM_ARG(std::int64_t, num_features, 1)
  LOOM_ARG(double, eps, 1e-5)
  LOOM_ARG(double, momentum, 0.1)
  LOOM_ARG(bool, affine, true)
  LOOM_ARG(bool, track_running_stats, true)
};

/// What BatchNorm1d and BatchNorm2d share; they differ only in the input ranks they accept.
/// Composed from differentiable ops, so its gradient is autograd's.
class BatchNorm : public UnaryModule {
 public:
  /// (N, C, ...) -> the same shape.
  Tensor forward(const Tensor& input) override;
  const BatchNormOptions& options() const { return options_; }

  Tensor weight;               // (C)
  Tensor bias;                 // (C)
  Tensor running_mean;         // (C)
  Tensor running_var;          // (C)
  Tensor num_batches_tracked;  // () int64

 protected:
  BatchNorm(const BatchNormOptions& options, const char* name, std::int64_t min_rank,
            std::int64_t max_rank);

 private:
  BatchNormOptions options_;
  const char* name_;
  std::int64_t min_rank_, max_rank_;
};

/// Over (N, C) or (N, C, L): statistics per channel over N (and L).
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(const BatchNormOptions& options)
      : BatchNorm(options, "BatchNorm1d", 2, 3) {}
};

/// Over (N, C, H, W): statistics per channel over N, H and W.
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(const BatchNormOptions& options)
      : BatchNorm(options, "BatchNorm2d", 4, 4) {}
};

}  // namespace loom
