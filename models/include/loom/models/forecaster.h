#pragma once
/// Forecaster: a window of past observations (B, window, F) -> the next `horizon` values of the
/// target (B, horizon). An LSTM or GRU reads the window; a Linear on its last state predicts all
/// horizon steps at once (many-to-one for horizon 1, multi-step many-to-many otherwise).
///
///     using namespace loom::models;
///     Forecaster model(ForecasterOptions(1).horizon(5).hidden_size(32));
///     auto prediction = model.forward(windows);         // (B, 30, 1) -> (B, 5)
///     auto loss = loom::mse_loss(prediction, targets);  // targets (B, 5)
///
/// Parameters: rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, ... (PyTorch's names),
/// fc.weight, fc.bias.
#include <cstdint>
#include <memory>
#include <string>

#include "loom/layers/dropout.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom::models {

struct ForecasterOptions {
  explicit ForecasterOptions(std::int64_t input_features) : input_features_(input_features) {}
  /// Features per time step (1 for a univariate series).
  LOOM_ARG(std::int64_t, input_features, 1)
  /// Future steps predicted.
  LOOM_ARG(std::int64_t, horizon, 1)
  /// "lstm" or "gru".
  LOOM_ARG(std::string, cell, "lstm")
  LOOM_ARG(std::int64_t, hidden_size, 64)
  LOOM_ARG(std::int64_t, num_layers, 1)
  /// Dropout between recurrent layers and on the last state, in training mode.
  LOOM_ARG(double, dropout, 0.0)
};

class Forecaster : public Module {
 public:
  explicit Forecaster(const ForecasterOptions& options);

  /// input: floating point (B, window, input_features) -> (B, horizon).
  Tensor forward(const Tensor& input);

  const ForecasterOptions& options() const { return options_; }

 private:
  ForecasterOptions options_;
  std::shared_ptr<Recurrent> rnn_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace loom::models
