#pragma once
/// Learning-rate schedules, with PyTorch's formulas. Call `step()` once per epoch (or per
/// iteration, as you choose), after the optimizer's step; ReduceLROnPlateau takes the metric.
///
///     loom::optim::CosineAnnealingLR schedule(optimizer, /*t_max=*/50);
///     for (int epoch = 0; epoch < 50; ++epoch) { train_one_epoch(); schedule.step(); }
#include <cstdint>
#include <string>
#include <vector>

#include "loom/optim/optimizer.h"
#include "loom/options.h"

namespace loom::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;
  /// Advances one epoch and sets every group's learning rate.
  void step();
  std::int64_t epoch() const { return epoch_; }
  /// Restores the position of a resumed run (and sets the learning rates for it).
  void set_epoch(std::int64_t epoch);
  /// The current learning rate of each group.
  std::vector<double> lr() const;

 protected:
  /// The learning rate of a group whose initial rate is `base` at `epoch`.
  virtual double lr_at(double base, std::int64_t epoch) const = 0;
  void apply();

 private:
  Optimizer& optimizer_;
  std::vector<double> base_lrs_;
  std::int64_t epoch_ = 0;
};

/// base * gamma^(epoch / step_size)
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  double lr_at(double base, std::int64_t epoch) const override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// base * gamma^epoch
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, double gamma);

 protected:
  double lr_at(double base, std::int64_t epoch) const override;

 private:
  double gamma_;
};

/// eta_min + (base - eta_min) (1 + cos(pi epoch / t_max)) / 2
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min = 0.0);

 protected:
  double lr_at(double base, std::int64_t epoch) const override;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

/// Linear warmup (PyTorch's LinearLR): the factor goes from start_factor to end_factor over
/// total_iters epochs, then stays: base * (start + (end - start) min(epoch, total) / total).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3.0, double end_factor = 1.0,
           std::int64_t total_iters = 5);

 protected:
  double lr_at(double base, std::int64_t epoch) const override;

 private:
  double start_factor_, end_factor_;
  std::int64_t total_iters_;
};

struct PlateauOptions {
  LOOM_ARG(std::string, mode, "min")  ///< "min": lower is better; "max": higher is better
  LOOM_ARG(double, factor, 0.1)
  LOOM_ARG(std::int64_t, patience, 10)
  LOOM_ARG(double, threshold, 1e-4)
  LOOM_ARG(std::string, threshold_mode, "rel")  ///< "rel" or "abs"
  LOOM_ARG(std::int64_t, cooldown, 0)
  LOOM_ARG(double, min_lr, 0.0)
  LOOM_ARG(double, eps, 1e-8)
};

/// Multiplies the learning rates by `factor` when the metric has not improved for `patience`
/// epochs, as torch.optim.lr_scheduler.ReduceLROnPlateau.
class ReduceLROnPlateau {
 public:
  ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options = {});
  void step(double metric);
  double best() const { return best_; }
  /// {best, bad epochs, cooldown left}: what a checkpoint keeps to resume exactly.
  std::vector<double> state() const;
  void restore(const std::vector<double>& state);

 private:
  bool is_better(double metric) const;
  Optimizer& optimizer_;
  PlateauOptions options_;
  double best_;
  std::int64_t bad_epochs_ = 0, cooldown_left_ = 0;
};

}  // namespace loom::optim
