#include "loom/optim/scheduler.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace loom::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  for (const auto& group : optimizer_.param_groups()) base_lrs_.push_back(group.lr);
}

void LRScheduler::step() {
  ++epoch_;
  apply();
}

void LRScheduler::set_epoch(std::int64_t epoch) {
  if (epoch < 0) throw ValueError(fmt::format("LRScheduler: epoch must be >= 0, got {}", epoch));
  epoch_ = epoch;
  apply();
}

void LRScheduler::apply() {
  auto& groups = optimizer_.param_groups();
  for (std::size_t i = 0; i < groups.size() && i < base_lrs_.size(); ++i)
    groups[i].lr = lr_at(base_lrs_[i], epoch_);
}

std::vector<double> LRScheduler::lr() const {
  std::vector<double> out;
  for (const auto& group : optimizer_.param_groups()) out.push_back(group.lr);
  return out;
}

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0) throw ValueError(fmt::format("StepLR: step_size must be positive, got {}", step_size));
}
double StepLR::lr_at(double base, std::int64_t epoch) const {
  return base * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {}
double ExponentialLR::lr_at(double base, std::int64_t epoch) const {
  return base * std::pow(gamma_, static_cast<double>(epoch));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
  if (t_max <= 0) throw ValueError(fmt::format("CosineAnnealingLR: t_max must be positive, got {}", t_max));
}
double CosineAnnealingLR::lr_at(double base, std::int64_t epoch) const {
  return eta_min_ + (base - eta_min_) * (1.0 + std::cos(M_PI * static_cast<double>(epoch) / static_cast<double>(t_max_))) / 2.0;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, std::int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  if (!(start_factor > 0.0 && start_factor <= 1.0) || !(end_factor >= 0.0 && end_factor <= 1.0))
    throw ValueError(fmt::format("LinearLR: factors must be in (0, 1] and [0, 1], got {} and {}",
                                 start_factor, end_factor));
  if (total_iters <= 0)
    throw ValueError(fmt::format("LinearLR: total_iters must be positive, got {}", total_iters));
  apply();  // as PyTorch, the first epoch already runs at start_factor
}
double LinearLR::lr_at(double base, std::int64_t epoch) const {
  const double progress = static_cast<double>(std::min(epoch, total_iters_)) / static_cast<double>(total_iters_);
  return base * (start_factor_ + (end_factor_ - start_factor_) * progress);
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, PlateauOptions options)
    : optimizer_(optimizer), options_(std::move(options)) {
  if (options_.mode() != "min" && options_.mode() != "max")
    throw ValueError(fmt::format("ReduceLROnPlateau: mode must be \"min\" or \"max\", got \"{}\"", options_.mode()));
  if (options_.threshold_mode() != "rel" && options_.threshold_mode() != "abs")
    throw ValueError(fmt::format("ReduceLROnPlateau: threshold_mode must be \"rel\" or \"abs\", got \"{}\"",
                                 options_.threshold_mode()));
  if (!(options_.factor() > 0.0 && options_.factor() < 1.0))
    throw ValueError(fmt::format("ReduceLROnPlateau: factor must be in (0, 1), got {}", options_.factor()));
  best_ = options_.mode() == "min" ? std::numeric_limits<double>::infinity()
                                   : -std::numeric_limits<double>::infinity();
}

std::vector<double> ReduceLROnPlateau::state() const {
  return {best_, static_cast<double>(bad_epochs_), static_cast<double>(cooldown_left_)};
}

void ReduceLROnPlateau::restore(const std::vector<double>& state) {
  if (state.size() != 3) throw ValueError(fmt::format("ReduceLROnPlateau: expected 3 state values, got {}", state.size()));
  for (std::size_t i = 1; i < 3; ++i)
    if (!(state[i] >= 0 && state[i] <= 1e15 && state[i] == std::floor(state[i])))
      throw ValueError(fmt::format("ReduceLROnPlateau: expected the epoch counts to be whole numbers in [0, 1e15], "
                                   "got {}", state[i]));
  best_ = state[0];
  bad_epochs_ = static_cast<std::int64_t>(state[1]);
  cooldown_left_ = static_cast<std::int64_t>(state[2]);
}

bool ReduceLROnPlateau::is_better(double metric) const {
  const bool relative = options_.threshold_mode() == "rel";
  if (options_.mode() == "min")
    return metric < (relative ? best_ * (1.0 - options_.threshold()) : best_ - options_.threshold());
  return metric > (relative ? best_ * (1.0 + options_.threshold()) : best_ + options_.threshold());
}

void ReduceLROnPlateau::step(double metric) {
  if (is_better(metric)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_left_ > 0) {
    --cooldown_left_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > options_.patience()) {
    for (auto& group : optimizer_.param_groups()) {
      const double reduced = std::max(group.lr * options_.factor(), options_.min_lr());
      if (group.lr - reduced > options_.eps()) group.lr = reduced;
    }
    cooldown_left_ = options_.cooldown();
    bad_epochs_ = 0;
  }
}

}  // namespace loom::optim
