#pragma once
/// SequenceClassifier (many-to-one): token ids -> Embedding -> (bi)LSTM or GRU -> a summary of
/// each sequence -> Dropout -> Linear -> class logits. For sentiment analysis or spam filtering.
/// With encoder("bag") there is no recurrent layer: the summary is the bag of words (see below).
///
///     loom::models::SequenceClassifier model(
///         loom::models::SequenceClassifierOptions(20000, 2).hidden_size(128).bidirectional(true)
///             .pooling("max"));
///     auto logits = model.forward(ids, lengths);   // int64 ids (B, T), lengths (B) -> (B, 2)
///     auto loss = loom::cross_entropy(logits, labels);
///
/// The summary respects lengths: "last" is the final real state of each direction of the top
/// layer (the reverse direction's is at step 0), "mean" and "max" run over real steps only, so
/// the content of padded steps never changes the logits. Id 0 is the padding token.
///
/// Parameters: embedding.weight, rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, ...
/// (PyTorch's names, `_reverse` for the backward direction), fc.weight, fc.bias; the bag has no
/// rnn.*.
#include <cstdint>
#include <memory>
#include <string>

#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom::models {

struct SequenceClassifierOptions {
  SequenceClassifierOptions(std::int64_t vocab_size, std::int64_t num_classes)
      : vocab_size_(vocab_size), num_classes_(num_classes) {}
  /// Token ids are in [0, vocab_size); id 0 is padding (a zero vector, never trained).
  LOOM_ARG(std::int64_t, vocab_size, 0)
  LOOM_ARG(std::int64_t, num_classes, 0)
  LOOM_ARG(std::int64_t, embedding_dim, 64)
  /// "rnn": the recurrent layers below read the sequence. "bag": the summary is the bag of
  /// words — the embeddings of the distinct real tokens, summed and divided by the square root of
  /// their number (an L2-normalised word-presence vector times the embedding matrix), which makes
  /// the model logistic regression over word presence, factored through embedding_dim. Its
  /// embedding starts at zero: random rows for words seen once or twice in training would be
  /// noise that training never removes. cell, hidden_size, num_layers, bidirectional and pooling
  /// are not used.
  LOOM_ARG(std::string, encoder, "rnn")
  /// "lstm" or "gru".
  LOOM_ARG(std::string, cell, "lstm")
  LOOM_ARG(std::int64_t, hidden_size, 128)
  LOOM_ARG(std::int64_t, num_layers, 1)
  LOOM_ARG(bool, bidirectional, false)
  /// Dropout between recurrent layers and on the summary before the Linear, in training mode.
  LOOM_ARG(double, dropout, 0.0)
  /// "last", "mean" or "max".
  LOOM_ARG(std::string, pooling, "last")
  /// Word dropout in training mode: each token is read as `unknown_id` with this probability,
  /// which makes the model spread its evidence over many words (a regulariser for text whose
  /// vocabulary drifts, such as mail).
  LOOM_ARG(double, word_dropout, 0.0)
  LOOM_ARG(std::int64_t, unknown_id, 1)
};

class SequenceClassifier : public Module {
 public:
  explicit SequenceClassifier(const SequenceClassifierOptions& options);

  /// ids: int64 (B, T); lengths: int64 (B) in [1, T], or undefined when every sequence has T
  /// steps. Returns logits (B, num_classes).
  Tensor forward(const Tensor& ids, const Tensor& lengths = Tensor());

  const SequenceClassifierOptions& options() const { return options_; }

 private:
  SequenceClassifierOptions options_;
  std::shared_ptr<Embedding> embedding_;
  std::shared_ptr<Recurrent> rnn_;  // null for the bag
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace loom::models
