#pragma once
/// SequenceTagger (synced many-to-many): one prediction per time step, from token ids (with an
/// embedding) or from dense features, through a (bi)LSTM or GRU and a Linear on every step.
///
///     using namespace loom::models;
///     SequenceTagger tagger(SequenceTaggerOptions(17).vocab_size(5000).bidirectional(true));
///     auto logits = tagger.forward(ids, lengths);      // int64 (B, T) -> (B, T, 17)
///
///     // Row-by-row image classification: each 28x28 image is 28 steps of 28 features.
///     SequenceTagger rows(SequenceTaggerOptions(10).input_features(28).hidden_size(128));
///     auto class_logits = rows.classify(images.reshape({-1, 28, 28}));   // (B, 10)
///
/// `classify` reads the same head out of the last real state of each direction of the top
/// layer (many-to-one), so one model class serves both uses. Logits at padded steps carry no
/// information (the recurrent output there is zero): mask them out of the loss (e.g. targets
/// set to cross_entropy's ignore_index).
///
/// Parameters: embedding.weight (token input only), rnn.weight_ih_l0, ... (PyTorch's names),
/// fc.weight, fc.bias.
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

struct SequenceTaggerOptions {
  explicit SequenceTaggerOptions(std::int64_t num_classes) : num_classes_(num_classes) {}
  LOOM_ARG(std::int64_t, num_classes, 0)
  /// Token input: ids in [0, vocab_size), id 0 the padding. Set this or input_features.
  LOOM_ARG(std::int64_t, vocab_size, 0)
  /// Dense input (B, T, input_features). Set this or vocab_size.
  LOOM_ARG(std::int64_t, input_features, 0)
  /// Token input only.
  LOOM_ARG(std::int64_t, embedding_dim, 64)
  /// "lstm" or "gru".
  LOOM_ARG(std::string, cell, "lstm")
  LOOM_ARG(std::int64_t, hidden_size, 128)
  LOOM_ARG(std::int64_t, num_layers, 1)
  LOOM_ARG(bool, bidirectional, false)
  /// Dropout between recurrent layers and before the Linear, in training mode.
  LOOM_ARG(double, dropout, 0.0)
};

class SequenceTagger : public Module {
 public:
  explicit SequenceTagger(const SequenceTaggerOptions& options);

  /// input: int64 ids (B, T) or features (B, T, input_features); lengths: int64 (B) in [1, T]
  /// or undefined for full-length sequences. Returns per-step logits (B, T, num_classes).
  Tensor forward(const Tensor& input, const Tensor& lengths = Tensor());
  /// The same input -> one set of logits per sequence (B, num_classes), from the last real state.
  Tensor classify(const Tensor& input, const Tensor& lengths = Tensor());

  const SequenceTaggerOptions& options() const { return options_; }

 private:
  // Checks the input and runs embedding (token input) and the recurrent layers.
  RecurrentOutput encode(const Tensor& input, const Tensor& lengths);

  SequenceTaggerOptions options_;
  std::shared_ptr<Embedding> embedding_;  // null for dense input
  std::shared_ptr<Recurrent> rnn_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace loom::models
