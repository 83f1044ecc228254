// Forecaster: recurrent encoder over the window -> linear on the last state.
#include "loom/models/forecaster.h"

#include "common.h"

namespace loom::models {

namespace {
constexpr const char* kName = "Forecaster";
}  // namespace

Forecaster::Forecaster(const ForecasterOptions& options) : options_(options) {
  const auto& o = options_;
  detail::check_positive(kName, "input_features", o.input_features());
  detail::check_positive(kName, "horizon", o.horizon());
  auto head = detail::make_recurrent_head(
      kName, o.cell(),
      RecurrentOptions(o.input_features(), o.hidden_size()).num_layers(o.num_layers()).dropout(o.dropout()),
      o.horizon());
  rnn_ = register_module("rnn", head.rnn);
  dropout_ = register_module("dropout", head.dropout);
  fc_ = register_module("fc", head.fc);
}

Tensor Forecaster::forward(const Tensor& input) {
  detail::check_features(kName, input, options_.input_features());
  const Tensor last = detail::last_layer_state(rnn_->forward(input).h_n, 1);  // (B, H)
  return fc_->forward(dropout_->forward(last));                               // (B, horizon)
}

}  // namespace loom::models
