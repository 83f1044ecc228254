#pragma once
/// Optimizers update parameters from their gradients. Each keeps per-parameter state (momentum
/// buffers, moment estimates, step counts) that it can save and restore, and works over
/// parameter groups that carry their own learning rate and weight decay.
///
///     loom::optim::Adam optimizer(model.named_parameters(), loom::optim::AdamOptions(1e-3));
///     for (...) {
///       optimizer.zero_grad();
///       loss.backward();
///       optimizer.step();
///     }
///
/// Every update rule matches PyTorch's (torch.optim, 1.13) step for step.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loom/module.h"
#include "loom/tensor.h"

namespace loom::optim {

/// Parameters sharing a learning rate and weight decay.
struct ParamGroup {
  NamedTensors params;
  double lr = 0.0;
  double weight_decay = 0.0;
};

/// One parameter's saved state: named buffers and the number of steps taken.
struct ParamState {
  std::map<std::string, Tensor> buffers;
  std::int64_t step = 0;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// Applies one update to every parameter that has a gradient (others are skipped, as in
  /// PyTorch). Runs without recording a graph.
  void step();
  /// Clears the gradients of every parameter.
  void zero_grad();

  std::vector<ParamGroup>& param_groups() { return groups_; }
  const std::vector<ParamGroup>& param_groups() const { return groups_; }
  /// Sets the learning rate of every group (schedulers set each group's own).
  void set_lr(double lr);

  /// The state as named tensors ("<param>.<buffer>", "<param>.step" as a 0-d int64 tensor), for
  /// checkpoints; parameters are named as in the groups.
  std::map<std::string, Tensor> state_dict() const;
  /// Restores what state_dict() saved. Unknown or misshapen entries raise a ValueError listing
  /// them all, and nothing is changed.
  void load_state_dict(const std::map<std::string, Tensor>& state);

 protected:
  Optimizer(std::vector<ParamGroup> groups, const char* name);
  /// One parameter's update: param and grad share a dtype and shape; the state starts empty.
  virtual void update(Tensor& param, const Tensor& grad, ParamState& state,
                      const ParamGroup& group) = 0;
  const char* name_;

 private:
  std::vector<ParamGroup> groups_;
  std::map<std::string, ParamState> state_;  // by parameter name
};

/// One group of all `params` with one learning rate and weight decay.
std::vector<ParamGroup> single_group(const NamedTensors& params, double lr, double weight_decay);

}  // namespace loom::optim
