// The recurrent cells, composed from framework ops.
#include "loom/layers/cells.h"

#include <cmath>

#include <fmt/format.h>

#include "loom/ops.h"

namespace loom {

Tensor rnn_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh, bool relu) {
  Tensor preactivation = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh);  // (B, H)
  return relu ? loom::relu(preactivation) : loom::tanh(preactivation);
}

std::pair<Tensor, Tensor> lstm_cell(const Tensor& x, const Tensor& h, const Tensor& c,
                                    const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                    const Tensor& b_hh) {
  Tensor gates = linear(x, w_ih, b_ih) + linear(h, w_hh, b_hh);  // (B, 4H): i, f, g, o
  const std::vector<Tensor> preactivations = chunk(gates, 4, 1);  // 4 x (B, H), one node
  Tensor input_gate = sigmoid(preactivations[0]);
  Tensor forget_gate = sigmoid(preactivations[1]);
  Tensor candidate = tanh(preactivations[2]);
  Tensor output_gate = sigmoid(preactivations[3]);
  Tensor c_next = forget_gate * c + input_gate * candidate;  // (B, H)
  return {output_gate * tanh(c_next), c_next};
}

Tensor gru_cell(const Tensor& x, const Tensor& h, const Tensor& w_ih, const Tensor& w_hh,
                const Tensor& b_ih, const Tensor& b_hh) {
  const std::vector<Tensor> from_input = chunk(linear(x, w_ih, b_ih), 3, 1);   // 3 x (B, H): r, z, n
  const std::vector<Tensor> from_hidden = chunk(linear(h, w_hh, b_hh), 3, 1);  // 3 x (B, H)
  Tensor reset = sigmoid(from_input[0] + from_hidden[0]);
  Tensor update = sigmoid(from_input[1] + from_hidden[1]);
  Tensor candidate = tanh(from_input[2] + reset * from_hidden[2]);
  return (1.0 - update) * candidate + update * h;
}

CellBase::CellBase(const char* name, std::int64_t gates, CellOptions options)
    : name_(name), options_(std::move(options)) {
  const std::int64_t input = options_.input_size(), hidden = options_.hidden_size();
  if (input <= 0 || hidden <= 0)
    throw ValueError(fmt::format("{}: input_size and hidden_size must be positive, got {} and {}",
                                 name, input, hidden));
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  weight_ih = register_parameter("weight_ih", rand({gates * hidden, input}, -bound, bound));
  weight_hh = register_parameter("weight_hh", rand({gates * hidden, hidden}, -bound, bound));
  if (options_.bias()) {
    bias_ih = register_parameter("bias_ih", rand({gates * hidden}, -bound, bound));
    bias_hh = register_parameter("bias_hh", rand({gates * hidden}, -bound, bound));
  }
}

Tensor CellBase::check_step(const Tensor& x, const Tensor& h) const {
  if (!x.defined() || x.dim() != 2)
    throw ShapeError(fmt::format("{}: expected input of shape (B, {}), got {}", name_,
                                 options_.input_size(),
                                 x.defined() ? shape_str(x.shape()) : "an undefined tensor"));
  if (x.size(1) != options_.input_size())
    throw ShapeError(fmt::format("{}: input.size(-1) must be equal to input_size. Expected {}, got {}",
                                 name_, options_.input_size(), x.size(1)));
  const Shape expected{x.size(0), options_.hidden_size()};
  if (!h.defined()) return zeros(expected, x.dtype());
  if (h.shape() != expected)
    throw ShapeError(fmt::format("{}: expected hidden state of shape {}, got {}", name_,
                                 shape_str(expected), shape_str(h.shape())));
  return h;
}

RNNCell::RNNCell(CellOptions options) : CellBase("RNNCell", 1, std::move(options)) {
  if (options_.nonlinearity() != "tanh" && options_.nonlinearity() != "relu")
    throw ValueError(fmt::format("RNNCell: nonlinearity must be \"tanh\" or \"relu\", got \"{}\"",
                                 options_.nonlinearity()));
}

Tensor RNNCell::forward(const Tensor& x, const Tensor& h) {
  return rnn_cell(x, check_step(x, h), weight_ih, weight_hh, bias_ih, bias_hh,
                  options_.nonlinearity() == "relu");
}

LSTMCell::LSTMCell(CellOptions options) : CellBase("LSTMCell", 4, std::move(options)) {}

std::pair<Tensor, Tensor> LSTMCell::forward(const Tensor& x,
                                            const std::pair<Tensor, Tensor>& state) {
  Tensor h = check_step(x, state.first);
  Tensor c = check_step(x, state.second);
  return lstm_cell(x, h, c, weight_ih, weight_hh, bias_ih, bias_hh);
}

GRUCell::GRUCell(CellOptions options) : CellBase("GRUCell", 3, std::move(options)) {}

Tensor GRUCell::forward(const Tensor& x, const Tensor& h) {
  return gru_cell(x, check_step(x, h), weight_ih, weight_hh, bias_ih, bias_hh);
}

}  // namespace loom
