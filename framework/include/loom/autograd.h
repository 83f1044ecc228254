#pragma once
/// Controls over graph recording.
///
///     {
///       loom::NoGradGuard no_grad;   // nothing inside this scope records a graph
///       auto prediction = model.forward(x);
///     }
#include <functional>
#include <vector>

#include "loom/tensor.h"

namespace loom {

/// Whether operations on this thread currently record a graph.
bool is_grad_enabled();
void set_grad_enabled(bool enabled);

/// RAII scope under which no graph is recorded; restores the previous mode on exit.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

/// Receives the gradient of an op's output and returns one gradient per input (an undefined
/// Tensor where an input needs none). Runs with graph recording off.
using BackwardFunction = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

/// Writing your own op: compute `output` (without recording), then attach its backward. Does
/// nothing unless grad mode is on and some input requires a gradient. The closure must capture
/// only what the backward needs (inputs, saved values; never `output` itself, which would make
/// a cycle). `name` is a string literal shown in errors. `saved` lists the tensors whose values
/// the backward reads: if one of them is changed in place (copy_, fill_, an optimiser step)
/// before the backward runs, backward throws AutogradError instead of computing a wrong gradient.
///
///     Tensor square(const Tensor& x) {
///       Tensor out = x.detach() * x.detach();
///       loom::record_op(out, "square", {x}, [x](const Tensor& g) {
///         return std::vector<Tensor>{g * x * 2.0};
///       }, /*saved=*/{x});
///       return out;
///     }
void record_op(Tensor& output, const char* name, std::vector<Tensor> inputs,
               BackwardFunction backward, const std::vector<Tensor>& saved = {});

/// Receives one gradient per output of a multi-output op, in the order of `outputs`, and returns
/// one gradient per input. An output that the pass gave no gradient (nobody used it, or its
/// users passed none back) gets an undefined Tensor: skip it rather than making zeros.
using MultiOutputBackwardFunction =
    std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs)>;

/// An op with several outputs, recorded as one node (as `split`, `unbind`, a fused RNN's
/// output/h_n/c_n): its backward runs once per pass, after every output the pass reaches has
/// its gradient. The rules of the one-output form hold; undefined outputs are allowed (they get
/// an undefined gradient). Outputs must be distinct fresh tensors (from `empty`, `detach()`...).
///
///     std::vector<Tensor> sin_cos(const Tensor& x) {
///       std::vector<Tensor> outputs{loom::sin(x.detach()), loom::cos(x.detach())};
///       loom::record_op(outputs, "sin_cos", {x}, [x](const std::vector<Tensor>& g) {
///         Tensor dx = g[0].defined() ? g[0] * loom::cos(x) : loom::zeros_like(x);
///         if (g[1].defined()) dx = dx - g[1] * loom::sin(x);
///         return std::vector<Tensor>{dx};
///       }, /*saved=*/{x});
///       return outputs;
///     }
void record_op(std::vector<Tensor>& outputs, const char* name, std::vector<Tensor> inputs,
               MultiOutputBackwardFunction backward, const std::vector<Tensor>& saved = {});

/// Called during a backward pass once a leaf's gradient is final for that pass: every op that used
/// the leaf has added into `leaf.grad()`. It fires once per pass, and not at all for a leaf the
/// pass gave no gradient. The data-parallel reducer (loom/distributed.h) uses it to start
/// sending gradients while the rest of backward still runs, as PyTorch's
/// `register_post_accumulate_grad_hook` does.
///
///     loom::set_post_accumulate_grad_hook(weight, [](const loom::Tensor& w) { send(w.grad()); });
using PostAccumulateGradHook = std::function<void(const Tensor& leaf)>;

/// Sets the hook of a leaf that requires grad, replacing any earlier one; an empty hook removes
/// it. Throws AutogradError for a tensor computed by an op (its gradient is never final).
void set_post_accumulate_grad_hook(const Tensor& leaf, PostAccumulateGradHook hook);

/// Runs backward from several roots at once (their gradients default to ones for scalars),
/// adding into the `.grad()` of the leaves. The graph's saved values are freed as they are used
/// unless `retain_graph`, which lets a second pass run through the same graph.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients = {},
              bool retain_graph = false);

/// The gradients of `outputs` (weighted by `grad_outputs`, which default to ones for scalars)
/// with respect to `inputs`, returned rather than added into any `.grad()`; undefined for an
/// input the outputs do not depend on. As PyTorch's `torch.autograd.grad`.
///
///     Tensor dloss_dx = loom::grad({loss}, {x})[0];   // x.grad() is left as it was
std::vector<Tensor> grad(const std::vector<Tensor>& outputs, const std::vector<Tensor>& inputs,
                         const std::vector<Tensor>& grad_outputs = {}, bool retain_graph = false);

}  // namespace loom
