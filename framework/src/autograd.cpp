// The autograd engine: recording nodes while ops run, and the reverse pass over them.
#include <unordered_map>
#include <unordered_set>

#include "detail/tensor_impl.h"
#include "loom/ops.h"

namespace loom {
namespace {
thread_local bool grad_enabled = true;
}  // namespace

bool is_grad_enabled() { return grad_enabled; }
void set_grad_enabled(bool enabled) { grad_enabled = enabled; }
NoGradGuard::NoGradGuard() : previous_(grad_enabled) { grad_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_enabled = previous_; }

namespace detail {

bool needs_graph(const std::vector<Tensor>& inputs) {
  if (!grad_enabled) return false;
  for (const auto& input : inputs)
    if (input.defined() && input.requires_grad()) return true;
  return false;
}

}  // namespace detail

void record_op(Tensor& output, const char* name, std::vector<Tensor> inputs,
               BackwardFunction backward) {
  if (!detail::needs_graph(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

void set_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook) {
  detail::check_defined("set_post_accumulate_grad_hook", leaf);
  if (!leaf.is_leaf() || !leaf.requires_grad())
    throw AutogradError(fmt::format("set_post_accumulate_grad_hook: expected a leaf that requires grad, got {}",
                                    leaf.is_leaf() ? "a leaf without requires_grad" : "the output of an op"));
  leaf.impl()->post_accumulate_grad_hook =
      hook ? std::make_shared<const PostAccumulateGradHook>(std::move(hook)) : nullptr;
}

namespace {

// True when nothing else refers to `t`'s data, so it may be changed in place.
bool exclusively_owned(const Tensor& t) {
  return t.impl_ptr().use_count() == 1 && t.impl()->storage.use_count() == 1;
}

template <class T>
void add_in_place(Tensor& target, const Tensor& addend) {
  T* out = target.data<T>();
  const T* in = addend.data<T>();
  for (std::int64_t i = 0, n = target.numel(); i < n; ++i) out[i] += in[i];
}

// Adds `grad` into the gradient slot of `impl`. Takes ownership when the slot is empty and the
// gradient is not shared (a pass-through op hands the same tensor to several inputs, and an
// in-place update of one gradient, such as clipping, must not change another).
void accumulate(TensorImpl& impl, Tensor grad) {
  if (grad.shape() != impl.shape)
    throw AutogradError(fmt::format("backward: gradient of shape {} for a tensor of shape {}",
                                    shape_str(grad.shape()), shape_str(impl.shape)));
  if (!impl.grad.defined()) {
    impl.grad = exclusively_owned(grad) ? std::move(grad) : grad.clone();
  } else if (exclusively_owned(impl.grad)) {
    if (impl.dtype == Dtype::Float32) add_in_place<float>(impl.grad, grad);
    else add_in_place<double>(impl.grad, grad);
  } else {
    impl.grad = impl.grad + grad;
  }
}

// Tensors reachable from the roots through grad_fn, inputs before the tensors computed from
// them. Iterative, so long recurrent graphs cannot overflow the stack. The order holds each
// tensor alive until the pass has processed it.
std::vector<std::shared_ptr<TensorImpl>> topological_order(const std::vector<Tensor>& roots) {
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> visited;
  // (tensor, next input to visit)
  std::vector<std::pair<std::shared_ptr<TensorImpl>, std::size_t>> stack;
  for (const auto& root : roots) {
    if (!visited.insert(root.impl()).second) continue;
    stack.emplace_back(root.impl_ptr(), 0);
    while (!stack.empty()) {
      auto& [impl, next_input] = stack.back();
      const Node* node = impl->grad_fn.get();
      if (node && next_input < node->inputs.size()) {
        const auto& input = node->inputs[next_input++].impl_ptr();
        if (input && input->requires_grad && visited.insert(input.get()).second)
          stack.emplace_back(input, 0);
      } else {
        order.push_back(std::move(impl));
        stack.pop_back();
      }
    }
  }
  return order;
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients) {
  if (!gradients.empty() && gradients.size() != roots.size())
    throw ValueError(fmt::format("backward: got {} gradients for {} roots", gradients.size(),
                                 roots.size()));
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    detail::check_defined("backward", root);
    if (!root.requires_grad())
      throw AutogradError("backward: the tensor does not require grad and has no grad_fn");
    Tensor gradient = gradients.empty() ? Tensor() : gradients[i];
    if (!gradient.defined()) {
      if (root.numel() != 1)
        throw AutogradError(fmt::format(
            "backward: a gradient is needed for a non-scalar output of shape {}",
            shape_str(root.shape())));
      gradient = ones_like(root);
    } else if (gradient.shape() != root.shape() || gradient.dtype() != root.dtype()) {
      throw ShapeError(fmt::format("backward: gradient must be {} {}, got {} {}",
                                   dtype_name(root.dtype()), shape_str(root.shape()),
                                   dtype_name(gradient.dtype()), shape_str(gradient.shape())));
    }
    if (root.impl()->grad_fn && root.impl()->grad_fn->released)
      throw AutogradError("backward: the graph was already freed by an earlier backward pass");
    accumulate(*root.impl(), gradient.detach());
  }

  NoGradGuard no_grad;  // gradients are computed with plain (unrecorded) ops
  std::vector<std::shared_ptr<TensorImpl>> order = topological_order(roots);
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    // Every consumer of this tensor has run: after its own node, nothing here needs it.
    const std::shared_ptr<TensorImpl> held = std::move(*it);
    TensorImpl& impl = *held;
    const std::shared_ptr<Node> node = impl.grad_fn;
    if (!node) {  // a leaf: its gradient stays where it was accumulated, and is now final
      if (impl.post_accumulate_grad_hook && impl.grad.defined()) (*impl.post_accumulate_grad_hook)(Tensor(held));
      continue;
    }
    if (node->released)
      throw AutogradError(fmt::format(
          "backward: the graph through {} was already freed by an earlier backward pass",
          node->name));
    if (impl.grad.defined()) {
      Tensor grad_output = impl.grad;
      if (!impl.retains_grad) impl.grad = Tensor();
      std::vector<Tensor> input_grads = node->backward(grad_output);
      grad_output = Tensor();  // so that a gradient passed straight through is not shared
      for (std::size_t k = 0; k < node->inputs.size() && k < input_grads.size(); ++k) {
        TensorImpl* input = node->inputs[k].impl();
        if (input && input->requires_grad && input_grads[k].defined())
          accumulate(*input, std::move(input_grads[k]));
      }
    }
    // Free the saved activations and this intermediate gradient as soon as they are used.
    node->inputs.clear();
    node->backward = nullptr;
    node->released = true;
  }
}

void Tensor::backward(const Tensor& gradient) const { loom::backward({*this}, {gradient}); }

}  // namespace loom
