#pragma once
/// Module: the base of every layer and model. It owns named parameters, buffers (state that is
/// saved but not trained, such as running statistics) and child modules, and walks them with
/// dotted names as PyTorch does (`encoder.lstm.weight_ih_l0`).
///
///     struct TwoLayer : loom::Module {
///       loom::Tensor w1, w2;
///       TwoLayer() {
///         w1 = register_parameter("w1", loom::randn({1, 16}) * 0.5);
///         w2 = register_parameter("w2", loom::randn({16, 1}) * 0.5);
///       }
///       loom::Tensor forward(const loom::Tensor& x) {
///         return loom::matmul(loom::tanh(loom::matmul(x, w1)), w2);
///       }
///     };
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "loom/tensor.h"

namespace loom {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Parameters of this module and (when `recurse`) its children, in registration order.
  NamedTensors named_parameters(bool recurse = true) const;
  std::vector<Tensor> parameters(bool recurse = true) const;
  NamedTensors named_buffers(bool recurse = true) const;
  /// Direct children in registration order.
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> named_children() const;

  /// Parameters and buffers by dotted name.
  std::map<std::string, Tensor> state_dict() const;
  /// Copies values into the registered tensors. Strict: every missing, unexpected and
  /// shape- or dtype-mismatched name is listed in one ValueError, and nothing is changed.
  void load_state_dict(const std::map<std::string, Tensor>& state);

  /// Training mode (dropout active, batch statistics) for this module and its children.
  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Clears every parameter's gradient.
  void zero_grad();
  /// Converts every parameter and buffer to `dtype` in place (handles stay valid).
  void to(Dtype dtype);

 protected:
  /// Registers a trainable tensor; returns the stored handle (share it as a member).
  Tensor register_parameter(const std::string& name, Tensor tensor, bool requires_grad = true);
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> module);
  void check_new_name(const std::string& name) const;

  bool training_ = true;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

/// A module with one input and one output: what Sequential chains, and the base of most layers.
class UnaryModule : public Module {
 public:
  virtual Tensor forward(const Tensor& input) = 0;
  Tensor operator()(const Tensor& input) { return forward(input); }
};

}  // namespace loom
