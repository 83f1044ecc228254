#pragma once
// Checks and building blocks the sequence models share (private to models/src). Every error
// names the model (`model`), what it expected and what it got.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "loom/layers/dropout.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"
#include "loom/models/decoding.h"
#include "loom/ops.h"
#include "loom/tensor.h"

namespace loom::models::detail {

/// Throws ValueError unless value > 0.
void check_positive(const char* model, const char* what, std::int64_t value);
/// Throws ValueError unless p is in [0, 1].
void check_probability(const char* model, const char* what, double p);

/// An LSTM or GRU for `cell` ("lstm" or "gru"; anything else is a ValueError naming `model`).
std::shared_ptr<Recurrent> make_recurrent(const char* model, const std::string& cell,
                                          const RecurrentOptions& options);

/// The recurrent encoder and output head every model here has: an LSTM or GRU, dropout with the
/// recurrent layers' probability, and a Linear from the top layer's D*H features to `outputs`.
/// The models register the three under their own names.
struct RecurrentHead {
  std::shared_ptr<Recurrent> rnn;
  std::shared_ptr<Dropout> dropout;
  std::shared_ptr<Linear> fc;
};
RecurrentHead make_recurrent_head(const char* model, const std::string& cell,
                                  const RecurrentOptions& options, std::int64_t outputs);

/// Token ids: int64 of shape (B, T) with T >= 1 and every id in [0, vocab_size).
void check_ids(const char* model, const Tensor& ids, std::int64_t vocab_size);
/// Word dropout (Iyyer et al., 2015): a copy of int64 `ids` in which each non-padding id
/// (id != 0) becomes `unknown_id` with probability p, drawn from the default generator, so a
/// classifier cannot lean on a handful of words.
Tensor drop_words(const Tensor& ids, double p, std::int64_t unknown_id);
/// Dense features: floating point (B, T, features) with T >= 1.
void check_features(const char* model, const Tensor& input, std::int64_t features);
/// Lengths for a (B, T) batch: undefined (every sequence has T steps) or int64 (B) in [1, T].
/// Returns one length per sequence.
std::vector<std::int64_t> check_lengths(const char* model, const Tensor& lengths,
                                        std::int64_t batch, std::int64_t steps);

/// The top layer's final state of each direction, side by side: h_n (L*D, B, H) -> (B, D*H).
/// For padded batches this is each sequence's last real step (the reverse direction's final
/// state is at step 0), as the recurrent layers return it.
Tensor last_layer_state(const Tensor& h_n, std::int64_t directions);

/// The bag of words of each sequence: the rows of embedded (B, T, E) at the first occurrence of
/// each distinct real token of int64 ids (B, T) (padding id 0 and steps past `lengths` left
/// out), summed and divided by the square root of their number -> (B, E).
Tensor bag_of_words(const Tensor& embedded, const Tensor& ids, const std::vector<std::int64_t>& lengths);

/// A sequence summary over real steps only: output (B, T, E) -> (B, E) by "mean" or "max".
Tensor pool_steps(const Tensor& output, const std::vector<std::int64_t>& lengths,
                  const std::string& pooling);

/// The decoder of decoding.h over a model with `Tensor step(const Tensor& tokens, State&)` (logits
/// (N, V) for tokens (N)) whose State holds `attention`: log-probabilities per step, the last
/// attention weights, and beam reordering through `select_state_rows(State&, rows)`, which each
/// model defines beside its State (found by argument-dependent lookup).
template <class Model>
class StepDecoder : public DecoderStep {
 public:
  StepDecoder(Model& model, typename Model::State state) : model_(model), state_(std::move(state)) {}

  Tensor step(const Tensor& tokens) override {  // (N) -> (N, V)
    return log_softmax(model_.step(tokens, state_), 1);
  }
  Tensor last_attention() const override { return state_.attention; }
  void select_rows(const Tensor& rows) override { select_state_rows(state_, rows); }

 private:
  Model& model_;
  typename Model::State state_;
};

}  // namespace loom::models::detail
