#pragma once
/// Controls over graph recording.
///
///     {
///       loom::NoGradGuard no_grad;   // nothing inside this scope records a graph
///       auto prediction = model.forward(x);
///     }
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

/// Runs backward from several roots at once (their gradients default to ones for scalars).
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& gradients = {});

}  // namespace loom
