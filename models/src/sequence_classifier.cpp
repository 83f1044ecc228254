// SequenceClassifier: embedding -> recurrent encoder -> length-aware summary -> linear.
#include "loom/models/sequence_classifier.h"

#include <fmt/format.h>

#include "common.h"

namespace loom::models {

namespace {
constexpr const char* kName = "SequenceClassifier";
}  // namespace

SequenceClassifier::SequenceClassifier(const SequenceClassifierOptions& options)
    : options_(options) {
  const auto& o = options_;
  detail::check_positive(kName, "vocab_size", o.vocab_size());
  detail::check_positive(kName, "num_classes", o.num_classes());
  detail::check_positive(kName, "embedding_dim", o.embedding_dim());
  if (o.pooling() != "last" && o.pooling() != "mean" && o.pooling() != "max")
    throw ValueError(fmt::format("{}: pooling must be \"last\", \"mean\" or \"max\", got \"{}\"",
                                 kName, o.pooling()));
  embedding_ = register_module(
      "embedding", std::make_shared<Embedding>(
                       EmbeddingOptions(o.vocab_size(), o.embedding_dim()).padding_idx(0)));
  auto head = detail::make_recurrent_head(kName, o.cell(),
                                          RecurrentOptions(o.embedding_dim(), o.hidden_size())
                                              .num_layers(o.num_layers())
                                              .bidirectional(o.bidirectional())
                                              .dropout(o.dropout()),
                                          o.num_classes());
  rnn_ = register_module("rnn", head.rnn);
  dropout_ = register_module("dropout", head.dropout);
  fc_ = register_module("fc", head.fc);
}

Tensor SequenceClassifier::forward(const Tensor& ids, const Tensor& lengths) {
  detail::check_ids(kName, ids, options_.vocab_size());
  const auto length_values = detail::check_lengths(kName, lengths, ids.size(0), ids.size(1));
  const Tensor embedded = embedding_->forward(ids);  // (B, T, E)
  const auto encoded = rnn_->forward(embedded, length_values);
  const Tensor summary =
      options_.pooling() == "last"  // (B, D*H)
          ? detail::last_layer_state(encoded.h_n, options_.bidirectional() ? 2 : 1)
          : detail::pool_steps(encoded.output, length_values, options_.pooling());
  return fc_->forward(dropout_->forward(summary));  // (B, C)
}

}  // namespace loom::models
