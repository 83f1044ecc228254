#pragma once
// Private: the fused kernel behind RNN, LSTM and GRU (see recurrent_fused.cpp).
#include <cstdint>
#include <vector>

#include "loom/layers/recurrent.h"
#include "loom/tensor.h"

namespace loom::detail {

/// One direction of one layer: x (T, B, F) time-major, weights in PyTorch's layout, biases
/// possibly undefined, h0 (and for the LSTM c0) (B, H), lengths (B) in [1, T]. Returns
/// {y (T, B, H) zero at padded steps, h_n (B, H), c_n (B, H) or undefined}, differentiable with
/// respect to x, the weights, the biases and the initial states.
std::vector<Tensor> fused_recurrent(CellType cell, const Tensor& x, const Tensor& w_ih,
                                    const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                                    const Tensor& h0, const Tensor& c0,
                                    const std::vector<std::int64_t>& lengths);

}  // namespace loom::detail
