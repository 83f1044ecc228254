// SequenceTagger: (embedding ->) recurrent encoder -> linear on every step or on the last state.
#include "loom/models/sequence_tagger.h"

#include <fmt/format.h>

#include "common.h"

namespace loom::models {

namespace {
constexpr const char* kName = "SequenceTagger";
}  // namespace

SequenceTagger::SequenceTagger(const SequenceTaggerOptions& options) : options_(options) {
  const auto& o = options_;
  detail::check_positive(kName, "num_classes", o.num_classes());
  if ((o.vocab_size() > 0) == (o.input_features() > 0) || o.vocab_size() < 0 ||
      o.input_features() < 0)
    throw ValueError(
        fmt::format("{}: set exactly one of vocab_size (token input) and "
                    "input_features (dense input), got {} and {}",
                    kName, o.vocab_size(), o.input_features()));
  std::int64_t rnn_input = o.input_features();
  if (o.vocab_size() > 0) {
    detail::check_positive(kName, "embedding_dim", o.embedding_dim());
    embedding_ = register_module(
        "embedding", std::make_shared<Embedding>(
                         EmbeddingOptions(o.vocab_size(), o.embedding_dim()).padding_idx(0)));
    rnn_input = o.embedding_dim();
  }
  auto head = detail::make_recurrent_head(kName, o.cell(),
                                          RecurrentOptions(rnn_input, o.hidden_size())
                                              .num_layers(o.num_layers())
                                              .bidirectional(o.bidirectional())
                                              .dropout(o.dropout()),
                                          o.num_classes());
  rnn_ = register_module("rnn", head.rnn);
  dropout_ = register_module("dropout", head.dropout);
  fc_ = register_module("fc", head.fc);
}

RecurrentOutput SequenceTagger::encode(const Tensor& input, const Tensor& lengths) {
  if (embedding_)
    detail::check_ids(kName, input, options_.vocab_size());
  else
    detail::check_features(kName, input, options_.input_features());
  const auto length_values = detail::check_lengths(kName, lengths, input.size(0), input.size(1));
  const Tensor x = embedding_ ? embedding_->forward(input) : input;  // (B, T, F)
  return rnn_->forward(x, length_values);
}

Tensor SequenceTagger::forward(const Tensor& input, const Tensor& lengths) {
  const Tensor output = encode(input, lengths).output;  // (B, T, D*H)
  return fc_->forward(dropout_->forward(output));       // (B, T, C)
}

Tensor SequenceTagger::classify(const Tensor& input, const Tensor& lengths) {
  const Tensor last = detail::last_layer_state(encode(input, lengths).h_n,  // (B, D*H)
                                               options_.bidirectional() ? 2 : 1);
  return fc_->forward(dropout_->forward(last));  // (B, C)
}

}  // namespace loom::models
