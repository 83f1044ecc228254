#pragma once
/// Gradient clipping, as torch.nn.utils.clip_grad_norm_ / clip_grad_value_.
///
///     double norm = loom::optim::clip_grad_norm(model.parameters(), 1.0);
#include <vector>

#include "loom/tensor.h"

namespace loom::optim {

/// Scales all gradients together so that their global L2 norm is at most `max_norm`; returns
/// the norm before clipping. Parameters without a gradient are ignored. A non-finite norm is
/// returned as is (the caller decides; the trainer stops with a clear message).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

/// Clamps every gradient entry to [-clip_value, clip_value].
void clip_grad_value(const std::vector<Tensor>& params, double clip_value);

}  // namespace loom::optim
