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

/// The LSTM cell on hidden units [j0, j1) of one sequence at one step, shared by the fused loop
/// and the int8 one (quantized.cpp): `gates` (4H) holds the preactivations [i, f, g, o] and gets
/// the activations; c_next = f c_prev + i g, tanh_c = tanh(c_next), h_next = y = o tanh_c. Past
/// the sequence's end (!active) the state carries over and y is zero. All rows are (H).
template <class T>
void lstm_cell_units(bool active, T* gates, const T* h_prev, const T* c_prev, T* h_next,
                     T* c_next, T* tanh_c, T* y, std::int64_t hidden, std::int64_t j0,
                     std::int64_t j1);

/// The GRU cell on one sequence at one step, shared as lstm_cell_units: `gates` (3H) holds the
/// input parts [r, z, n] (with b_ih) and gets the activations, `hidden_parts` (3H) is
/// h_{t-1} W_hh^T + b_hh; hidden_n (H) receives its n part (the backward needs it);
/// h_next = (1 - z) n + z h_prev.
template <class T>
void gru_cell(T* gates, const T* hidden_parts, T* hidden_n, const T* h_prev, T* h_next,
              std::int64_t hidden);

}  // namespace loom::detail
