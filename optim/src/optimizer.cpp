// The optimizer base: groups, stepping, zeroing, and state for checkpoints.
#include "loom/optim/optimizer.h"

#include <fmt/format.h>

#include "detail/tensor_impl.h"
#include "loom/autograd.h"

namespace loom::optim {

std::vector<ParamGroup> single_group(const NamedTensors& params, double lr, double weight_decay) {
  return {ParamGroup{params, lr, weight_decay}};
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, const char* name)
    : name_(name), groups_(std::move(groups)) {
  std::map<std::string, bool> seen;
  for (const auto& group : groups_) {
    if (!(group.lr >= 0.0))
      throw ValueError(fmt::format("{}: learning rate must be >= 0, got {}", name_, group.lr));
    if (!(group.weight_decay >= 0.0))
      throw ValueError(fmt::format("{}: weight_decay must be >= 0, got {}", name_, group.weight_decay));
    for (const auto& [param_name, param] : group.params) {
      if (!param.defined() || !param.is_floating_point())
        throw ValueError(fmt::format("{}: parameter '{}' is not a floating tensor", name_, param_name));
      if (seen[param_name])
        throw ValueError(fmt::format("{}: parameter '{}' appears in more than one place", name_, param_name));
      seen[param_name] = true;
    }
  }
}

void Optimizer::step() {
  NoGradGuard no_grad;
  for (const auto& group : groups_)
    for (const auto& [param_name, param] : group.params) {
      const Tensor grad = param.grad();
      if (!grad.defined()) continue;
      Tensor target = param;
      update(target, grad, state_[param_name], group);
      detail::bump_version(target);
    }
}

void Optimizer::zero_grad() {
  for (auto& group : groups_)
    for (auto& entry : group.params) entry.second.zero_grad();
}

void Optimizer::set_lr(double lr) {
  for (auto& group : groups_) group.lr = lr;
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& [param_name, state] : state_) {
    for (const auto& [buffer, tensor] : state.buffers) out[param_name + "." + buffer] = tensor;
    out[param_name + ".step"] = from_vector(std::vector<std::int64_t>{state.step}).reshape({});
  }
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& saved) {
  std::map<std::string, Tensor> shapes;  // parameter name -> parameter
  for (const auto& group : groups_)
    for (const auto& [name, param] : group.params) shapes[name] = param;
  std::map<std::string, ParamState> restored;
  std::vector<std::string> problems;
  for (const auto& [key, tensor] : saved) {
    const auto dot = key.rfind('.');
    const std::string param_name = dot == std::string::npos ? key : key.substr(0, dot);
    const std::string buffer = dot == std::string::npos ? "" : key.substr(dot + 1);
    auto it = shapes.find(param_name);
    if (it == shapes.end()) {
      problems.push_back("unexpected " + key);
    } else if (buffer == "step") {
      // Bounded: a step count near INT64_MAX would overflow at the next step (and past 2^53 the
      // bias corrections' powers cannot tell steps apart anyway).
      const std::int64_t step = tensor.dtype() == Dtype::Int64 && tensor.numel() == 1 ? tensor.to_vector<std::int64_t>()[0] : -1;
      if (step < 0 || step > (std::int64_t(1) << 53))
        problems.push_back(key + ": expected one int64 step count in [0, 2^53]");
      else
        restored[param_name].step = step;
    } else if (tensor.shape() != it->second.shape() || tensor.dtype() != it->second.dtype()) {
      problems.push_back(fmt::format("{}: expected {} {}, got {} {}", key, dtype_name(it->second.dtype()),
                                     shape_str(it->second.shape()), dtype_name(tensor.dtype()),
                                     shape_str(tensor.shape())));
    } else {
      restored[param_name].buffers[buffer] = tensor.detach().clone();
    }
  }
  if (!problems.empty()) {
    std::string message = fmt::format("{}: load_state_dict: the state does not match:", name_);
    for (const auto& p : problems) message += "\n  " + p;
    throw ValueError(message);
  }
  state_ = std::move(restored);
}

}  // namespace loom::optim
