#pragma once
/// SGD (momentum, dampening, Nesterov), Adam (AMSGrad), AdamW (decoupled weight decay),
/// RMSprop (centered, momentum) and Adagrad, with PyTorch's defaults and update rules.
///
///     using namespace loom::optim;
///     SGD sgd(model.named_parameters(), SGDOptions(0.1).momentum(0.9).nesterov(true));
///     AdamW adamw({{encoder.named_parameters(), 1e-3, 0.01}, {head.named_parameters(), 1e-2, 0.0}},
///                 AdamOptions(1e-3));   // two groups with their own lr and weight decay
#include "loom/optim/optimizer.h"
#include "loom/options.h"

namespace loom::optim {

struct SGDOptions {
  explicit SGDOptions(double lr) : lr_(lr) {}
  LOOM_ARG(double, lr, 0.0)
  LOOM_ARG(double, momentum, 0.0)
  LOOM_ARG(double, dampening, 0.0)
  LOOM_ARG(double, weight_decay, 0.0)
  LOOM_ARG(bool, nesterov, false)
};

class SGD : public Optimizer {
 public:
  SGD(const NamedTensors& params, SGDOptions options);
  SGD(std::vector<ParamGroup> groups, SGDOptions options);

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) override;

 private:
  SGDOptions options_;
};

struct AdamOptions {
  explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
  LOOM_ARG(double, lr, 1e-3)
  LOOM_ARG(double, beta1, 0.9)
  LOOM_ARG(double, beta2, 0.999)
  LOOM_ARG(double, eps, 1e-8)
  LOOM_ARG(double, weight_decay, 0.0)
  LOOM_ARG(bool, amsgrad, false)
};

/// Adam; weight decay is L2 added to the gradient, as torch.optim.Adam.
class Adam : public Optimizer {
 public:
  Adam(const NamedTensors& params, AdamOptions options);
  Adam(std::vector<ParamGroup> groups, AdamOptions options);

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions options, const char* name, bool decoupled);
  void update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) override;

 private:
  AdamOptions options_;
  bool decoupled_weight_decay_;
};

/// Adam with decoupled weight decay (p *= 1 - lr * wd before the Adam step); PyTorch's default
/// weight decay for AdamW is 0.01.
class AdamW : public Adam {
 public:
  AdamW(const NamedTensors& params, AdamOptions options = AdamOptions().weight_decay(0.01));
  AdamW(std::vector<ParamGroup> groups, AdamOptions options = AdamOptions().weight_decay(0.01));
};

struct RMSpropOptions {
  explicit RMSpropOptions(double lr = 0.01) : lr_(lr) {}
  LOOM_ARG(double, lr, 0.01)
  LOOM_ARG(double, alpha, 0.99)
  LOOM_ARG(double, eps, 1e-8)
  LOOM_ARG(double, weight_decay, 0.0)
  LOOM_ARG(double, momentum, 0.0)
  LOOM_ARG(bool, centered, false)
};

class RMSprop : public Optimizer {
 public:
  RMSprop(const NamedTensors& params, RMSpropOptions options);
  RMSprop(std::vector<ParamGroup> groups, RMSpropOptions options);

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) override;

 private:
  RMSpropOptions options_;
};

struct AdagradOptions {
  explicit AdagradOptions(double lr = 0.01) : lr_(lr) {}
  LOOM_ARG(double, lr, 0.01)
  LOOM_ARG(double, lr_decay, 0.0)
  LOOM_ARG(double, weight_decay, 0.0)
  LOOM_ARG(double, initial_accumulator_value, 0.0)
  LOOM_ARG(double, eps, 1e-10)
};

class Adagrad : public Optimizer {
 public:
  Adagrad(const NamedTensors& params, AdagradOptions options);
  Adagrad(std::vector<ParamGroup> groups, AdagradOptions options);

 protected:
  void update(Tensor& param, const Tensor& grad, ParamState& state, const ParamGroup& group) override;

 private:
  AdagradOptions options_;
};

}  // namespace loom::optim
