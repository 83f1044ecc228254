// Sequence layers: stacking, directions, lengths, and the choice between the fused kernel and
// the composed cells.
#include "loom/layers/recurrent.h"

#include <cmath>

#include <fmt/format.h>

#include "loom/autograd.h"
#include "loom/layers/cells.h"
#include "loom/ops.h"
#include "quantized.h"
#include "recurrent_fused.h"

namespace loom {

namespace {

std::int64_t gate_count(CellType cell) {
  return cell == CellType::LSTM ? 4 : cell == CellType::GRU ? 3 : 1;
}

// Row indices into (T*B) time-major rows that reverse each sequence within its own length:
// step t of sequence b reads step len_b - 1 - t (padded steps stay in place). Applying it twice
// is the identity, so the same index maps outputs back.
Tensor reversal_index(const std::vector<std::int64_t>& lengths, std::int64_t steps) {
  const auto batch = static_cast<std::int64_t>(lengths.size());
  std::vector<std::int64_t> index(static_cast<std::size_t>(steps * batch));
  for (std::int64_t t = 0; t < steps; ++t)
    for (std::int64_t b = 0; b < batch; ++b)
      index[t * batch + b] = (t < lengths[b] ? lengths[b] - 1 - t : t) * batch + b;
  return from_vector(index);
}

// x (T, B, F) with each sequence reversed within its length.
Tensor reverse_sequences(const Tensor& x, const Tensor& index) {
  const Shape shape = x.shape();
  return index_select(x.reshape({shape[0] * shape[1], shape[2]}), 0, index).reshape(shape);
}

}  // namespace

Recurrent::Recurrent(CellType cell, RecurrentOptions options)
    : cell_(cell), options_(std::move(options)) {
  const auto& o = options_;
  if (o.input_size() <= 0 || o.hidden_size() <= 0 || o.num_layers() <= 0)
    throw ValueError(fmt::format("{}: input_size, hidden_size and num_layers must be positive, "
                                 "got {}, {} and {}", name(), o.input_size(), o.hidden_size(),
                                 o.num_layers()));
  if (!(o.dropout() >= 0.0 && o.dropout() <= 1.0))
    throw ValueError(fmt::format("{}: dropout must be in [0, 1], got {}", name(), o.dropout()));
  const std::int64_t hidden = o.hidden_size(), gates = gate_count(cell) * hidden;
  const std::int64_t directions = o.bidirectional() ? 2 : 1;
  const double bound = 1.0 / std::sqrt(static_cast<double>(hidden));
  for (std::int64_t layer = 0; layer < o.num_layers(); ++layer) {
    const std::int64_t layer_input = layer == 0 ? o.input_size() : hidden * directions;
    for (std::int64_t direction = 0; direction < directions; ++direction) {
      const std::string suffix = fmt::format("_l{}{}", layer, direction ? "_reverse" : "");
      Weights w;
      w.w_ih = register_parameter("weight_ih" + suffix, rand({gates, layer_input}, -bound, bound));
      w.w_hh = register_parameter("weight_hh" + suffix, rand({gates, hidden}, -bound, bound));
      if (o.bias()) {
        w.b_ih = register_parameter("bias_ih" + suffix, rand({gates}, -bound, bound));
        w.b_hh = register_parameter("bias_hh" + suffix, rand({gates}, -bound, bound));
      }
      weights_.push_back(w);
    }
  }
}

RNN::RNN(RNNOptions options)
    : Recurrent(options.nonlinearity() == "relu" ? CellType::RNNRelu : CellType::RNNTanh, options) {
  if (options.nonlinearity() != "tanh" && options.nonlinearity() != "relu")
    throw ValueError(fmt::format("RNN: nonlinearity must be \"tanh\" or \"relu\", got \"{}\"",
                                 options.nonlinearity()));
}

const char* Recurrent::name() const {
  switch (cell_) {
    case CellType::LSTM: return "LSTM";
    case CellType::GRU: return "GRU";
    default: return "RNN";
  }
}

void Recurrent::quantize() {
  if (cell_ != CellType::LSTM && cell_ != CellType::GRU)
    throw ValueError(fmt::format("{}: int8 quantization covers LSTM and GRU layers, got an {}", name(), name()));
  const std::int64_t gates = gate_count(cell_);
  for (Weights& w : weights_) {
    w.q_ih = std::make_shared<const detail::Int8Matrix>(detail::quantize_parameter(name(), w.w_ih, gates));
    w.q_hh = std::make_shared<const detail::Int8Matrix>(detail::quantize_parameter(name(), w.w_hh, gates));
  }
}

bool Recurrent::quantized() const { return weights_.front().q_ih != nullptr; }

std::vector<std::int64_t> Recurrent::check_lengths(const Tensor& lengths, std::int64_t batch,
                                                   std::int64_t steps) const {
  if (!lengths.defined()) return std::vector<std::int64_t>(static_cast<std::size_t>(batch), steps);
  if (lengths.dtype() != Dtype::Int64)
    throw DtypeError(fmt::format("{}: lengths must be int64, got {}", name(),
                                 dtype_name(lengths.dtype())));
  if (lengths.shape() != Shape{batch})
    throw ShapeError(fmt::format("{}: expected lengths of shape ({},), got {}", name(), batch,
                                 shape_str(lengths.shape())));
  auto values = lengths.to_vector<std::int64_t>();
  for (std::size_t b = 0; b < values.size(); ++b)
    if (values[b] < 1 || values[b] > steps)
      throw ValueError(fmt::format("{}: lengths must be in [1, {}] (the input's time steps), got "
                                   "{} for sequence {}", name(), steps, values[b], b));
  return values;
}

Tensor Recurrent::check_state(const Tensor& state, const char* which, std::int64_t batch,
                              const Tensor& input) const {
  const Shape expected{options_.num_layers() * (options_.bidirectional() ? 2 : 1), batch,
                       options_.hidden_size()};
  if (!state.defined()) return zeros(expected, input.dtype());
  if (state.shape() != expected)
    throw ShapeError(fmt::format("{}: expected {} of shape {}, got {}", name(), which,
                                 shape_str(expected), shape_str(state.shape())));
  if (state.dtype() != input.dtype())
    throw DtypeError(fmt::format("{}: {} is {} but the input is {}", name(), which,
                                 dtype_name(state.dtype()), dtype_name(input.dtype())));
  return state;
}

RecurrentOutput Recurrent::forward(const Tensor& input, const std::vector<std::int64_t>& lengths,
                                   const Tensor& h0, const Tensor& c0) {
  return forward(input, from_vector(lengths), h0, c0);
}

RecurrentOutput Recurrent::forward(const Tensor& input, const Tensor& lengths, const Tensor& h0,
                                   const Tensor& c0) {
  const auto& o = options_;
  if (!input.defined() || input.dim() != 3)
    throw ShapeError(fmt::format("{}: expected a 3-D input ({}), got {}", name(),
                                 o.batch_first() ? "B, T, F" : "T, B, F",
                                 input.defined() ? shape_str(input.shape()) : "an undefined tensor"));
  if (input.size(2) != o.input_size())
    throw ShapeError(fmt::format("{}: input.size(-1) must be equal to input_size. Expected {}, got {}",
                                 name(), o.input_size(), input.size(2)));
  if (input.dtype() != weights_[0].w_ih.dtype())
    throw DtypeError(fmt::format("{}: the input is {} but the parameters are {}", name(),
                                 dtype_name(input.dtype()), dtype_name(weights_[0].w_ih.dtype())));
  if (quantized() && is_training()) detail::refuse_training(name());
  if (c0.defined() && cell_ != CellType::LSTM)
    throw ValueError(fmt::format("{}: only an LSTM takes a cell state c0", name()));
  Tensor x = o.batch_first() ? input.transpose(0, 1) : input;  // (T, B, F) from here on
  const std::int64_t steps = x.size(0), batch = x.size(1);
  if (steps == 0) throw ShapeError(fmt::format("{}: the input has no time steps", name()));
  const std::vector<std::int64_t> length_values = check_lengths(lengths, batch, steps);
  const Tensor h_init = check_state(h0, "h0", batch, input);
  const Tensor c_init = cell_ == CellType::LSTM ? check_state(c0, "c0", batch, input) : Tensor();
  const std::int64_t directions = o.bidirectional() ? 2 : 1;
  const Tensor reversal = o.bidirectional() ? reversal_index(length_values, steps) : Tensor();

  std::vector<Tensor> final_h, final_c;
  for (std::int64_t layer = 0; layer < o.num_layers(); ++layer) {
    std::vector<Tensor> direction_outputs;
    for (std::int64_t direction = 0; direction < directions; ++direction) {
      const std::int64_t k = layer * directions + direction;
      const Tensor layer_input = direction ? reverse_sequences(x, reversal) : x;
      auto result = run_direction(layer_input, weights_[k], h_init.select(0, k),
                                  c_init.defined() ? c_init.select(0, k) : Tensor(), length_values);
      direction_outputs.push_back(direction ? reverse_sequences(result[0], reversal) : result[0]);
      final_h.push_back(result[1]);
      if (result[2].defined()) final_c.push_back(result[2]);
    }
    x = directions == 2 ? concat(direction_outputs, 2) : direction_outputs[0];  // (T, B, D*H)
    if (layer + 1 < o.num_layers()) x = dropout(x, o.dropout(), is_training());
  }
  RecurrentOutput out;
  out.output = o.batch_first() ? x.transpose(0, 1) : x;
  out.h_n = stack(final_h, 0);
  if (!final_c.empty()) out.c_n = stack(final_c, 0);
  return out;
}

std::vector<Tensor> Recurrent::run_direction(const Tensor& x, const Weights& w, const Tensor& h0,
                                             const Tensor& c0,
                                             const std::vector<std::int64_t>& lengths) const {
  if (w.q_ih)
    return detail::int8_recurrent(cell_, x, *w.q_ih, *w.q_hh, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h0, c0, lengths);
  if (options_.fused())
    return detail::fused_recurrent(cell_, x, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h0, c0, lengths);

  // The composed reference: the cell equations step by step through the autograd graph. Past a
  // sequence's end its state is carried unchanged and its output is zero.
  const std::int64_t steps = x.size(0), batch = x.size(1);
  // T x (B, F): views of x from one node, whose backward writes the steps' gradients into one
  // buffer of x's shape
  const std::vector<Tensor> inputs = unbind(x, 0);
  Tensor h = h0, c = c0;
  std::vector<Tensor> outputs;
  for (std::int64_t t = 0; t < steps; ++t) {
    const Tensor& x_t = inputs[t];  // (B, F)
    Tensor h_next, c_next;
    switch (cell_) {
      case CellType::LSTM: std::tie(h_next, c_next) = lstm_cell(x_t, h, c, w.w_ih, w.w_hh, w.b_ih, w.b_hh); break;
      case CellType::GRU: h_next = gru_cell(x_t, h, w.w_ih, w.w_hh, w.b_ih, w.b_hh); break;
      default: h_next = rnn_cell(x_t, h, w.w_ih, w.w_hh, w.b_ih, w.b_hh, cell_ == CellType::RNNRelu);
    }
    std::vector<double> active(static_cast<std::size_t>(batch));
    for (std::int64_t b = 0; b < batch; ++b) active[b] = t < lengths[b] ? 1.0 : 0.0;
    const Tensor mask = from_vector(active, {batch, 1}).to(x.dtype());  // (B, 1)
    h = where(mask, h_next, h);
    if (c_next.defined()) c = where(mask, c_next, c);
    outputs.push_back(h_next * mask);
  }
  return {stack(outputs, 0), h, c};
}

}  // namespace loom
