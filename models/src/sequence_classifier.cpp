// SequenceClassifier: embedding -> recurrent encoder (or the bag of words) -> length-aware
// summary -> linear.
#include "loom/models/sequence_classifier.h"

#include <fmt/format.h>

#include "common.h"
#include "loom/autograd.h"

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
  detail::check_probability(kName, "word_dropout", o.word_dropout());
  if (o.word_dropout() > 0.0 && (o.unknown_id() < 1 || o.unknown_id() >= o.vocab_size()))
    throw ValueError(fmt::format("{}: unknown_id must be in [1, vocab_size = {}), got {}", kName, o.vocab_size(),
                                 o.unknown_id()));
  if (o.encoder() != "rnn" && o.encoder() != "bag")
    throw ValueError(fmt::format("{}: encoder must be \"rnn\" or \"bag\", got \"{}\"", kName, o.encoder()));
  if (o.pooling() != "last" && o.pooling() != "mean" && o.pooling() != "max")
    throw ValueError(fmt::format("{}: pooling must be \"last\", \"mean\" or \"max\", got \"{}\"",
                                 kName, o.pooling()));
  embedding_ = register_module(
      "embedding", std::make_shared<Embedding>(
                       EmbeddingOptions(o.vocab_size(), o.embedding_dim()).padding_idx(0)));
  if (o.encoder() == "bag") {
    NoGradGuard no_grad;
    embedding_->weight.fill_(0.0);
    dropout_ = register_module("dropout", std::make_shared<Dropout>(DropoutOptions().p(o.dropout())));
    fc_ = register_module("fc", std::make_shared<Linear>(o.embedding_dim(), o.num_classes()));
    return;
  }
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
  const bool drop = is_training() && options_.word_dropout() > 0.0;
  const Tensor read = drop ? detail::drop_words(ids, options_.word_dropout(), options_.unknown_id()) : ids;  // (B, T)
  const Tensor embedded = embedding_->forward(read);  // (B, T, E)
  // The bag counts the words as read: a dropped word is <unk>, once however often it is dropped.
  if (!rnn_) return fc_->forward(dropout_->forward(detail::bag_of_words(embedded, read, length_values)));  // (B, C)
  const auto encoded = rnn_->forward(embedded, length_values);
  const Tensor summary =
      options_.pooling() == "last"  // (B, D*H)
          ? detail::last_layer_state(encoded.h_n, options_.bidirectional() ? 2 : 1)
          : detail::pool_steps(encoded.output, length_values, options_.pooling());
  return fc_->forward(dropout_->forward(summary));  // (B, C)
}

}  // namespace loom::models
