#pragma once
/// Recurrent cells written from framework ops, so they read as the equations. One step of
///     h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          (RNNCell, the lecture's f_W)
/// and its LSTM and GRU kin, with PyTorch's parameter names, layouts and gate orders
/// (LSTM: i, f, g, o; GRU: r, z, n). The same weights are used at every step of a sequence.
///
///     loom::LSTMCell cell(loom::CellOptions(10, 20));
///     auto [h, c] = cell.forward(x, {h0, c0});       // x: (B, 10), h0, c0: (B, 20)
///
/// The three cells sit in one header on purpose: they are one idea, best read side by side.
#include <cstdint>
#include <string>
#include <utility>

#include "loom/module.h"
#include "loom/options.h"

namespace loom {

// ---- the equations as free functions (shared by the cells and the composed sequence layers) --

/// h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh), act = tanh or relu. Biases may be undefined.
Tensor rnn_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, bool relu = false);

/// (h', c'): i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh);
/// c' = sigmoid(f) c + sigmoid(i) tanh(g);  h' = sigmoid(o) tanh(c').
std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c,
                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                    const Tensor& b_hh);

/// r = sigmoid(x W_ir + b_ir + h W_hr + b_hr), z likewise,
/// n = tanh(x W_in + b_in + r (h W_hn + b_hn)),  h' = (1 - z) n + z h.
Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh);

// ---- the cells as modules -------------------------------------------------------------------

struct CellOptions {
  CellOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  LOOM_ARG(std::int64_t, input_size, 0)
  LOOM_ARG(std::int64_t, hidden_size, 0)
  LOOM_ARG(bool, bias, true)
  /// RNNCell only: "tanh" or "relu".
  LOOM_ARG(std::string, nonlinearity, "tanh")
};

/// Shared parameters of the three cells: weight_ih (G*H, F), weight_hh (G*H, H), bias_ih and
/// bias_hh (G*H), initialised U(-1/sqrt(H), 1/sqrt(H)) as PyTorch.
class CellBase : public Module {
 public:
  const CellOptions& options() const { return options_; }
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;

 protected:
  CellBase(const char* name, std::int64_t gates, CellOptions options);
  /// Checks x (B, F) and h (B, H); returns a zero state of (B, H) when h is undefined.
  Tensor check_step(const Tensor& x, const Tensor& h) const;
  const char* name_;
  CellOptions options_;
};

class RNNCell : public CellBase {
 public:
  explicit RNNCell(CellOptions options);
  /// x (B, F), h (B, H) or undefined for zeros -> h' (B, H).
  Tensor forward(const Tensor& x, const Tensor& h = Tensor());
};

class LSTMCell : public CellBase {
 public:
  explicit LSTMCell(CellOptions options);
  /// x (B, F), state {h, c} each (B, H) (undefined for zeros) -> {h', c'}.
  std::pair<Tensor, Tensor> forward(const Tensor& x,
                                    const std::pair<Tensor, Tensor>& state = {});
};

class GRUCell : public CellBase {
 public:
  explicit GRUCell(CellOptions options);
  /// x (B, F), h (B, H) or undefined for zeros -> h' (B, H).
  Tensor forward(const Tensor& x, const Tensor& h = Tensor());
};

}  // namespace loom
