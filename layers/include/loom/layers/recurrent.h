#pragma once
/// Sequence layers RNN, LSTM and GRU: the cell applied over time with shared weights, stacked
/// (num_layers), optionally bidirectional, over batch-first (B, T, F) input. One call returns the
/// whole output sequence (many-to-many) and the final states (many-to-one).
///
///     loom::LSTM lstm(loom::LSTMOptions(64, 128).num_layers(2).bidirectional(true));
///     auto out = lstm.forward(x, lengths);   // x: (B, T, 64), lengths: int64 (B)
///     out.output;                            // (B, T, 2*128), zero at padded steps
///     out.h_n;                               // (2*2, B, 128): last real step of each sequence
///
/// Variable-length batches: steps at or past a sequence's length never affect its outputs,
/// final states or any gradient; the reverse direction starts at each sequence's own last step.
///
/// Two paths compute the same function. The fused path (the default) projects the inputs of
/// all time steps with one GEMM, runs the time loop over preallocated buffers and has a
/// hand-written backward through time that computes dW_ih and dW_hh with one GEMM each over all
/// steps. The composed path (`fused(false)`) applies the cells of cells.h step by step through
/// the autograd graph: slower, but it is the readable reference the tests hold the fused one to.
///
/// Parameters follow PyTorch: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}, with
/// a `_reverse` suffix for the backward direction; LSTM gates i, f, g, o and GRU gates r, z, n;
/// initialised U(-1/sqrt(H), 1/sqrt(H)). PyTorch weights load unchanged.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/module.h"
#include "loom/options.h"

namespace loom {

namespace detail {
struct Int8Matrix;
}

enum class CellType { RNNTanh, RNNRelu, LSTM, GRU };

struct RecurrentOptions {
  RecurrentOptions(std::int64_t input_size, std::int64_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
  LOOM_ARG(std::int64_t, input_size, 0)
  LOOM_ARG(std::int64_t, hidden_size, 0)
  LOOM_ARG(std::int64_t, num_layers, 1)
  LOOM_ARG(bool, bias, true)
  /// (B, T, F) input and output when true (the default), (T, B, F) when false.
  LOOM_ARG(bool, batch_first, true)
  /// Dropout on the outputs of every layer but the last, in training mode.
  LOOM_ARG(double, dropout, 0.0)
  LOOM_ARG(bool, bidirectional, false)
  /// RNN only: "tanh" or "relu".
  LOOM_ARG(std::string, nonlinearity, "tanh")
  /// The fused kernels (true) or the cell-by-cell autograd reference (false).
  LOOM_ARG(bool, fused, true)
};
using RNNOptions = RecurrentOptions;
using LSTMOptions = RecurrentOptions;
using GRUOptions = RecurrentOptions;

struct RecurrentOutput {
  Tensor output;  ///< (B, T, D*H) (or (T, B, D*H)); zeros at padded steps
  Tensor h_n;     ///< (L*D, B, H), index layer*D + direction
  Tensor c_n;     ///< LSTM only: (L*D, B, H)
};

class Recurrent : public Module {
 public:
  Recurrent(CellType cell, RecurrentOptions options);

  /// input (B, T, F); lengths: int64 (B) with values in [1, T], or undefined when every
  /// sequence has T steps; h0 and (LSTM) c0: (L*D, B, H) or undefined for zeros.
  RecurrentOutput forward(const Tensor& input, const Tensor& lengths = Tensor(),
                          const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());
  RecurrentOutput forward(const Tensor& input, const std::vector<std::int64_t>& lengths,
                          const Tensor& h0 = Tensor(), const Tensor& c0 = Tensor());

  const RecurrentOptions& options() const { return options_; }
  CellType cell_type() const { return cell_; }
  /// "RNN", "LSTM" or "GRU": the name errors use.
  const char* name() const;

  /// LSTM and GRU: int8 inference from now on (see loom::quantize_dynamic). W_ih and W_hh, as
  /// they are now, quantized per output channel; h_t is quantized afresh at every step. Forward
  /// then refuses training mode and its outputs refuse backward. ValueError for an RNN.
  void quantize();
  bool quantized() const;

 private:
  struct Weights {
    Tensor w_ih, w_hh, b_ih, b_hh;
    std::shared_ptr<const detail::Int8Matrix> q_ih, q_hh;  // set by quantize()
  };
  /// One direction of one layer over time-major x (T, B, F) -> {y (T, B, H), h_n, c_n}.
  std::vector<Tensor> run_direction(const Tensor& x, const Weights& weights, const Tensor& h0,
                                    const Tensor& c0, const std::vector<std::int64_t>& lengths) const;
  std::vector<std::int64_t> check_lengths(const Tensor& lengths, std::int64_t batch,
                                          std::int64_t steps) const;
  Tensor check_state(const Tensor& state, const char* which, std::int64_t batch,
                     const Tensor& input) const;

  CellType cell_;
  RecurrentOptions options_;
  std::vector<Weights> weights_;  // index layer * directions + direction
};

/// Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (or relu).
class RNN : public Recurrent {
 public:
  explicit RNN(RNNOptions options);
};

class LSTM : public Recurrent {
 public:
  explicit LSTM(LSTMOptions options) : Recurrent(CellType::LSTM, std::move(options)) {}
};

class GRU : public Recurrent {
 public:
  explicit GRU(GRUOptions options) : Recurrent(CellType::GRU, std::move(options)) {}
};

}  // namespace loom
