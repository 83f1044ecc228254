#pragma once
/// CharLM: a character- (or token-) level language model, Embedding -> LSTM -> Dropout -> Linear
/// over the vocabulary, predicting the next id at every step. The LSTM state is returned and
/// taken back, so long text is fed in chunks (truncated backpropagation through time); `sample`
/// generates text from a prefix (one-to-many).
///
///     using namespace loom::models;
///     CharLM lm(CharLMOptions(vocab).hidden_size(256).num_layers(2).dropout(0.2));
///     CharLMState state;                                     // zeros at the start
///     for (const auto& [x, y] : chunks) {                    // x, y: int64 (B, T), y = x shifted
///       auto out = lm.forward(x, state);                     // logits (B, T, V)
///       auto loss = loom::cross_entropy(out.logits.reshape({-1, vocab}), y.reshape({-1}));
///       state = out.state.detach();                          // carry the state, cut the graph
///       ...
///     }
///     loom::Generator gen(7);
///     auto ids = lm.sample({prefix_id}, 200, /*temperature=*/0.8, /*top_k=*/5, &gen);
///
/// Parameters: embedding.weight, lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, ...
/// (PyTorch's names), fc.weight, fc.bias.
#include <cstdint>
#include <memory>
#include <vector>

#include "loom/layers/dropout.h"
#include "loom/layers/embedding.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"
#include "loom/module.h"
#include "loom/options.h"
#include "loom/random.h"

namespace loom::models {

struct CharLMOptions {
  explicit CharLMOptions(std::int64_t vocab_size) : vocab_size_(vocab_size) {}
  LOOM_ARG(std::int64_t, vocab_size, 0)
  LOOM_ARG(std::int64_t, embedding_dim, 64)
  LOOM_ARG(std::int64_t, hidden_size, 256)
  LOOM_ARG(std::int64_t, num_layers, 1)
  /// Dropout between LSTM layers and before the Linear, in training mode.
  LOOM_ARG(double, dropout, 0.0)
};

/// The LSTM state between chunks: h and c, each (num_layers, B, hidden_size); both undefined
/// for a fresh (zero) state.
struct CharLMState {
  Tensor h;
  Tensor c;
  /// The same values cut from the graph: gradients stop at the chunk boundary.
  CharLMState detach() const;
};

struct CharLMOutput {
  Tensor logits;  ///< (B, T, vocab_size)
  CharLMState state;
};

class CharLM : public Module {
 public:
  explicit CharLM(const CharLMOptions& options);

  /// ids: int64 (B, T) in [0, vocab_size); state: from the previous chunk, or empty for zeros.
  CharLMOutput forward(const Tensor& ids, const CharLMState& state = {});

  /// Feeds `prefix` (at least one id), then draws `length` ids one at a time, each fed back in;
  /// returns the drawn ids (not the prefix). Each step samples from softmax(logits / temperature)
  /// restricted to the top_k most likely ids (0: all; 1: greedy argmax). Runs in eval mode with
  /// no graph and restores the mode afterwards. The same generator state gives the same ids.
  /// Throws ValueError for an empty prefix, length < 0, temperature not > 0 or top_k outside
  /// [0, vocab_size], and IndexError for a prefix id outside the vocabulary.
  std::vector<std::int64_t> sample(const std::vector<std::int64_t>& prefix, std::int64_t length,
                                   double temperature = 1.0, std::int64_t top_k = 0,
                                   Generator* generator = nullptr);

  const CharLMOptions& options() const { return options_; }

 private:
  CharLMOptions options_;
  std::shared_ptr<Embedding> embedding_;
  std::shared_ptr<Recurrent> lstm_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> fc_;
};

}  // namespace loom::models
