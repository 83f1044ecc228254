// Module: named parameters, buffers and children, walked with dotted names.
#include <set>

#include "detail/tensor_impl.h"
#include "loom/module.h"

namespace loom {

void Module::check_new_name(const std::string& name) const {
  if (name.empty() || name.find('.') != std::string::npos)
    throw ValueError(fmt::format("Module: invalid name '{}' (non-empty, no dots)", name));
  auto taken = [&](const auto& list) {
    for (const auto& entry : list)
      if (entry.first == name) return true;
    return false;
  };
  if (taken(parameters_) || taken(buffers_) || taken(children_))
    throw ValueError(fmt::format("Module: the name '{}' is already registered", name));
}

Tensor Module::register_parameter(const std::string& name, Tensor tensor, bool requires_grad) {
  check_new_name(name);
  detail::check_floating("register_parameter", tensor);
  Tensor parameter = tensor.detach();  // a leaf, whatever computed its initial value
  parameter.requires_grad_(requires_grad);
  parameters_.emplace_back(name, parameter);
  return parameter;
}

Tensor Module::register_buffer(const std::string& name, Tensor tensor) {
  check_new_name(name);
  detail::check_defined("register_buffer", tensor);
  Tensor buffer = tensor.detach();
  buffers_.emplace_back(name, buffer);
  return buffer;
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> module) {
  check_new_name(name);
  if (!module) throw ValueError(fmt::format("register_module: module '{}' is null", name));
  children_.emplace_back(name, std::move(module));
}

namespace {
// Own entries, then each child's with "child." in front, depth first.
template <class Own>
NamedTensors collect(const Module& module, bool recurse, Own own) {
  NamedTensors out = own(module);
  if (!recurse) return out;
  for (const auto& [child_name, child] : module.named_children())
    for (auto& [name, tensor] : collect(*child, true, own))
      out.emplace_back(child_name + "." + name, tensor);
  return out;
}
}  // namespace

namespace {
// A module shared by two parents is listed once, under its first name.
NamedTensors without_repeats(NamedTensors all) {
  std::set<const TensorImpl*> seen;
  NamedTensors unique;
  for (auto& entry : all)
    if (seen.insert(entry.second.impl()).second) unique.push_back(std::move(entry));
  return unique;
}
}  // namespace

NamedTensors Module::named_parameters(bool recurse) const {
  return without_repeats(collect(*this, recurse, [](const Module& m) { return m.parameters_; }));
}

std::vector<Tensor> Module::parameters(bool recurse) const {
  std::vector<Tensor> out;
  for (auto& entry : named_parameters(recurse)) out.push_back(entry.second);
  return out;
}

NamedTensors Module::named_buffers(bool recurse) const {
  return without_repeats(collect(*this, recurse, [](const Module& m) { return m.buffers_; }));
}

std::vector<std::pair<std::string, std::shared_ptr<Module>>> Module::named_children() const {
  return children_;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> state;
  for (auto& [name, tensor] : named_parameters()) state[name] = tensor;
  for (auto& [name, tensor] : named_buffers()) state[name] = tensor;
  return state;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state) {
  const auto own = state_dict();
  std::vector<std::string> problems;
  for (const auto& [name, tensor] : own) {
    auto it = state.find(name);
    if (it == state.end()) {
      problems.push_back("missing " + name);
    } else if (!it->second.defined() || it->second.shape() != tensor.shape() ||
               it->second.dtype() != tensor.dtype()) {
      problems.push_back(fmt::format(
          "{}: expected {} {}, got {}", name, dtype_name(tensor.dtype()), shape_str(tensor.shape()),
          it->second.defined()
              ? fmt::format("{} {}", dtype_name(it->second.dtype()), shape_str(it->second.shape()))
              : std::string("an undefined tensor")));
    }
  }
  for (const auto& entry : state)
    if (!own.count(entry.first)) problems.push_back("unexpected " + entry.first);
  if (!problems.empty()) {
    std::string message = "load_state_dict: the state does not match the module:";
    for (const auto& p : problems) message += "\n  " + p;
    throw ValueError(message);
  }
  for (const auto& [name, tensor] : own) const_cast<Tensor&>(tensor).copy_(state.at(name));
}

void Module::train(bool on) {
  training_ = on;
  for (auto& entry : children_) entry.second->train(on);
}

void Module::zero_grad() {
  for (auto& parameter : parameters()) parameter.zero_grad();
}

void Module::to(Dtype dtype) {
  detail::check_floating_dtype("Module::to", dtype);
  auto convert = [dtype](Tensor& t) {
    if (!t.is_floating_point() || t.dtype() == dtype) return;
    Tensor converted = t.detach().to(dtype);
    // Swap the storage under the existing handle so every holder sees the new dtype.
    TensorImpl& impl = *t.impl();
    impl.storage = converted.impl()->storage;
    impl.offset = 0;
    impl.strides = converted.impl()->strides;
    impl.dtype = dtype;
    impl.grad = Tensor();
  };
  for (auto& entry : parameters_) convert(entry.second);
  for (auto& entry : buffers_) convert(entry.second);
  for (auto& entry : children_) entry.second->to(dtype);
}

}  // namespace loom
