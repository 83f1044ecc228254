// The autograd engine: recording nodes while ops run, and the reverse pass over them.
#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "detail/kernels.h"
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

void record_region_view(Tensor& output, const char* name, const Tensor& input,
                        std::function<Tensor(const Tensor& input_gradient)> region) {
  if (!needs_graph({input})) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = {input};
  node->input_region = std::move(region);
  output.impl()->grad_fn = std::move(node);
  output.impl()->requires_grad = true;
}

}  // namespace detail

void record_op(std::vector<Tensor>& outputs, const char* name, std::vector<Tensor> inputs,
               MultiOutputBackwardFunction backward, const std::vector<Tensor>& saved) {
  if (!detail::needs_graph(inputs)) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  node->inputs = std::move(inputs);
  node->backward = std::move(backward);
  node->num_outputs = outputs.size();
  for (const Tensor& tensor : saved)
    if (tensor.defined()) node->saved_versions.emplace_back(tensor.impl()->storage, tensor.impl()->storage->version);
  for (std::size_t k = 0; k < outputs.size(); ++k) {
    if (!outputs[k].defined()) continue;
    TensorImpl& output = *outputs[k].impl();
    if (output.grad_fn)
      throw AutogradError(fmt::format("record_op: output {} of {} already belongs to {}; pass a "
                                      "fresh tensor for each output", k, name, output.grad_fn->name));
    output.grad_fn = node;
    output.output_index = k;
    output.requires_grad = true;
  }
}

void record_op(Tensor& output, const char* name, std::vector<Tensor> inputs,
               BackwardFunction backward, const std::vector<Tensor>& saved) {
  if (!detail::needs_graph(inputs)) return;  // before wrapping: most ops in inference stop here
  std::vector<Tensor> outputs{output};
  // One output's node runs only when that output has a gradient, so g[0] is always defined.
  auto backward_of_one = [backward = std::move(backward)](const std::vector<Tensor>& g) {
    return backward(g[0]);
  };
  record_op(outputs, name, std::move(inputs), std::move(backward_of_one), saved);
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

// target += addend, target read through its strides (a region of a gradient buffer), addend
// contiguous.
template <class T>
void add_in_place(Tensor& target, const Tensor& addend) {
  T* out = detail::first_element<T>(target);
  const T* in = addend.data<T>();
  detail::broadcast_loop<2>(target.shape(), {target.strides(), detail::contiguous_strides(target.shape())},
                            [&](const std::array<std::int64_t, 2>& off, std::int64_t n,
                                const std::array<std::int64_t, 2>& st) {
                              T* o = out + off[0];
                              const T* x = in + off[1];
                              if (st[0] == 1 && st[1] == 1) {  // the common case, vectorised
                                for (std::int64_t i = 0; i < n; ++i) o[i] += x[i];
                              } else {
                                for (std::int64_t i = 0; i < n; ++i) o[i * st[0]] += x[i * st[1]];
                              }
                            });
}

void add_into(Tensor& target, const Tensor& addend) {
  if (target.dtype() == Dtype::Float32) add_in_place<float>(target, addend);
  else add_in_place<double>(target, addend);
}

// Adds `grad` into `slot`, the gradient of a tensor of `shape`. Takes ownership when the slot is
// empty and the gradient is not shared (a pass-through op hands the same tensor to several inputs,
// and an in-place update of one gradient, such as clipping, must not change another).
void accumulate_into(Tensor& slot, const Shape& shape, Tensor grad) {
  if (grad.shape() != shape)
    throw AutogradError(fmt::format("backward: gradient of shape {} for a tensor of shape {}",
                                    shape_str(grad.shape()), shape_str(shape)));
  if (!grad.is_contiguous()) grad = grad.contiguous();  // a view's backward may hand back a view
  if (!slot.defined()) {
    slot = exclusively_owned(grad) ? std::move(grad) : grad.clone();
  } else if (exclusively_owned(slot)) {
    add_into(slot, grad);
  } else {
    slot = slot + grad;
  }
}

// Adds `grad`, the gradient of a view of part of `input`, into that part of `slot` (the input's
// gradient), which starts as zeros: the cost is the part's, whatever the input's size.
void accumulate_region(Tensor& slot, const TensorImpl& input, const Node& view, Tensor grad) {
  if (!grad.is_contiguous()) grad = grad.contiguous();
  if (!slot.defined()) slot = zeros(input.shape, input.dtype);
  else if (!exclusively_owned(slot)) slot = slot.clone();
  Tensor part = view.input_region(slot);
  if (part.shape() != grad.shape())
    throw AutogradError(fmt::format("backward: gradient of shape {} for a {} of shape {}",
                                    shape_str(grad.shape()), view.name, shape_str(part.shape())));
  add_into(part, grad);
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

namespace {

// The seeds of a pass: each root with its gradient (ones for a scalar root), checked.
std::vector<Tensor> root_gradients(const char* op, const std::vector<Tensor>& roots,
                                   const std::vector<Tensor>& gradients) {
  if (!gradients.empty() && gradients.size() != roots.size())
    throw ValueError(fmt::format("{}: got {} gradients for {} roots", op, gradients.size(),
                                 roots.size()));
  std::vector<Tensor> seeds;
  for (std::size_t i = 0; i < roots.size(); ++i) {
    const Tensor& root = roots[i];
    detail::check_defined(op, root);
    if (!root.requires_grad())
      throw AutogradError(fmt::format("{}: the tensor does not require grad and has no grad_fn", op));
    Tensor gradient = gradients.empty() ? Tensor() : gradients[i];
    if (!gradient.defined()) {
      if (root.numel() != 1)
        throw AutogradError(fmt::format(
            "{}: a gradient is needed for a non-scalar output of shape {}", op,
            shape_str(root.shape())));
      gradient = ones_like(root);
    } else if (gradient.shape() != root.shape() || gradient.dtype() != root.dtype()) {
      throw ShapeError(fmt::format("{}: gradient must be {} {}, got {} {}", op,
                                   dtype_name(root.dtype()), shape_str(root.shape()),
                                   dtype_name(gradient.dtype()), shape_str(gradient.shape())));
    }
    if (root.impl()->grad_fn && root.impl()->grad_fn->released)
      throw AutogradError(fmt::format("{}: the graph was already freed by an earlier backward pass", op));
    seeds.push_back(gradient.detach());
  }
  return seeds;
}

// Runs `node` once with its outputs' gradients (when any is defined), adding into `pending`, the
// gradients of its inputs. Checks first that no value its backward reads was changed in place.
void run_node(const char* op, Node& node, std::vector<Tensor> grad_outputs,
              std::unordered_map<TensorImpl*, Tensor>& pending) {
  if (std::none_of(grad_outputs.begin(), grad_outputs.end(),
                   [](const Tensor& g) { return g.defined(); }))
    return;
  for (const auto& [storage, version] : node.saved_versions)
    if (storage->version != version)
      throw AutogradError(fmt::format(
          "{}: a tensor that {} saved for its backward was changed in place since (version {}, "
          "saved at {}); change a clone() of it instead, or run backward first",
          op, node.name, storage->version, version));
  if (node.input_region) {
    TensorImpl* input = node.inputs[0].impl();
    if (input->requires_grad)
      accumulate_region(pending[input], *input, node, std::move(grad_outputs[0]));
    return;
  }
  std::vector<Tensor> input_grads = node.backward(grad_outputs);
  grad_outputs.clear();  // so that a gradient passed straight through is not shared
  for (std::size_t k = 0; k < node.inputs.size() && k < input_grads.size(); ++k) {
    TensorImpl* input = node.inputs[k].impl();
    if (input && input->requires_grad && input_grads[k].defined())
      accumulate_into(pending[input], input->shape, std::move(input_grads[k]));
  }
}

// The gradients a node with several outputs has received so far in a pass, and how many of its
// outputs the pass reaches but has not processed yet: the node runs when the last one is.
struct GatheredGradients {
  std::vector<Tensor> grad_outputs;
  std::size_t outputs_to_come = 0;
};

// The reverse pass shared by backward() and grad(). Gradients flow through a table of their own,
// one entry per tensor, dropped once the tensor's node has used it. `deliver(impl, gradient)` gets
// each tensor's final gradient (leaves and computed tensors alike) and says whether the pass
// still needs it afterwards (false lets it go). A node runs once, after all its outputs that the
// pass reaches. Without `retain_graph` each node frees its saved values once used.
template <class Deliver>
void run_backward(const char* op, const std::vector<Tensor>& roots,
                  const std::vector<Tensor>& gradients, bool retain_graph, Deliver deliver) {
  std::vector<Tensor> seeds = root_gradients(op, roots, gradients);
  std::unordered_map<TensorImpl*, Tensor> pending;  // gradients still to pass on, by tensor
  for (std::size_t i = 0; i < roots.size(); ++i)
    accumulate_into(pending[roots[i].impl()], roots[i].shape(), std::move(seeds[i]));

  NoGradGuard no_grad;  // gradients are computed with plain (unrecorded) ops
  std::vector<std::shared_ptr<TensorImpl>> order = topological_order(roots);
  std::unordered_map<const Node*, GatheredGradients> gathered;  // nodes of several outputs
  for (const auto& impl : order) {
    const Node* node = impl->grad_fn.get();
    if (!node || node->num_outputs == 1) continue;
    GatheredGradients& entry = gathered[node];
    entry.grad_outputs.resize(node->num_outputs);
    ++entry.outputs_to_come;
  }
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    // Every consumer of this tensor has run: after its own node, nothing here needs it.
    const std::shared_ptr<TensorImpl> held = std::move(*it);
    TensorImpl& impl = *held;
    const std::shared_ptr<Node> node = impl.grad_fn;
    if (node && node->released)
      throw AutogradError(fmt::format(
          "{}: the graph through {} was already freed by an earlier backward pass", op,
          node->name));
    const auto slot = pending.find(&impl);
    Tensor grad_output;
    if (slot != pending.end()) {
      grad_output = std::move(slot->second);
      pending.erase(slot);
    }
    if (grad_output.defined() && !deliver(held, grad_output)) grad_output = Tensor();
    if (!node) continue;
    std::vector<Tensor> grad_outputs;
    if (node->num_outputs == 1) {
      grad_outputs.push_back(std::move(grad_output));
    } else {
      const auto entry = gathered.find(node.get());
      entry->second.grad_outputs[impl.output_index] = std::move(grad_output);
      if (--entry->second.outputs_to_come > 0) continue;  // the node's other outputs come later
      grad_outputs = std::move(entry->second.grad_outputs);
      gathered.erase(entry);
    }
    run_node(op, *node, std::move(grad_outputs), pending);
    if (retain_graph) continue;
    // Free the saved activations and this intermediate gradient as soon as they are used.
    node->inputs.clear();
    node->saved_versions.clear();
    node->backward = nullptr;
    node->input_region = nullptr;
    node->released = true;
  }
}

}  // namespace

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients,
              bool retain_graph) {
  run_backward("backward", roots, gradients, retain_graph,
               [](const std::shared_ptr<TensorImpl>& held, Tensor& gradient) {
                 TensorImpl& impl = *held;
                 if (impl.grad_fn && !impl.retains_grad) return true;  // only passing through
                 accumulate_into(impl.grad, impl.shape, impl.grad_fn ? gradient : std::move(gradient));
                 if (!impl.grad_fn && impl.post_accumulate_grad_hook)
                   (*impl.post_accumulate_grad_hook)(Tensor(held));
                 return impl.grad_fn != nullptr;
               });
}

std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs, bool retain_graph) {
  std::unordered_map<TensorImpl*, std::size_t> wanted;  // input -> its place in the result
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    detail::check_defined("grad", inputs[i]);
    if (!inputs[i].requires_grad())
      throw AutogradError(fmt::format("grad: input {} does not require grad", i));
    wanted.emplace(inputs[i].impl(), i);
  }
  std::vector<Tensor> result(inputs.size());
  run_backward("grad", outputs, grad_outputs, retain_graph,
               [&](const std::shared_ptr<TensorImpl>& held, Tensor& gradient) {
                 const auto found = wanted.find(held.get());
                 if (found == wanted.end()) return true;
                 result[found->second] = held->grad_fn ? gradient.clone() : std::move(gradient);
                 return held->grad_fn != nullptr;  // a computed input's gradient flows on
               });
  for (std::size_t i = 0; i < inputs.size(); ++i)  // an input listed twice gets the one gradient
    if (!result[i].defined()) result[i] = result[wanted.at(inputs[i].impl())];
  return result;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  loom::backward({*this}, {gradient}, retain_graph);
}

}  // namespace loom
