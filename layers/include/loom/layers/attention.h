#pragma once
/// Attention over a memory of S vectors (an encoder's outputs) for a query (a decoder state):
/// scores (B, Tq, S) -> softmax over S (padded positions masked out) -> weights @ values.
///
/// - AdditiveAttention (Bahdanau): score(q, k) = v^T tanh(W_q q + W_k k)
/// - MultiplicativeAttention (Luong): score(q, k) = q^T k ("dot") or q^T W k ("general")
///
///     loom::AdditiveAttention attention(loom::AdditiveAttentionOptions(256, 512, 128));
///     auto [context, weights] = attention(decoder_state,   // (B, 256), one step
///                                         encoder_outputs, // (B, S, 512), keys = values
///                                         Tensor(), lengths_mask);  // (B, S), 0 = padding
///     // context (B, 512), weights (B, S): a row per example, to draw as a heatmap
#include <cstdint>
#include <memory>

#include "loom/layers/linear.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct AttentionOutput {
  Tensor context;  ///< (B, Hv), or (B, Tq, Hv) for a 3-D query
  Tensor weights;  ///< (B, S), or (B, Tq, S); each row sums to 1, exactly 0 at padding
};

/// What both attentions share: argument checks, masking, softmax and the weighted sum. A new
/// kind only defines its scores.
class Attention : public Module {
 public:
  /// query (B, Hq) for one decoder step or (B, Tq, Hq) for all steps; keys (B, S, Hk); values
  /// (B, S, Hv), the keys when undefined; mask (B, S) of any dtype, nonzero for real positions
  /// and zero for padding, which gets score -inf and weight exactly 0. A row whose positions
  /// are all padding has NaN weights, as in PyTorch.
  AttentionOutput forward(const Tensor& query, const Tensor& keys, const Tensor& values = Tensor(),
                          const Tensor& mask = Tensor());
  AttentionOutput operator()(const Tensor& query, const Tensor& keys,
                             const Tensor& values = Tensor(), const Tensor& mask = Tensor()) {
    return forward(query, keys, values, mask);
  }

 protected:
  Attention(const char* name, std::int64_t query_size, std::int64_t key_size);
  /// Unnormalised scores: query (B, Tq, Hq), keys (B, S, Hk) -> (B, Tq, S).
  virtual Tensor score(const Tensor& query, const Tensor& keys) = 0;

 private:
  const char* name_;  // for error messages
  std::int64_t query_size_, key_size_;
};

struct AdditiveAttentionOptions {
  AdditiveAttentionOptions(std::int64_t query_size, std::int64_t key_size,
                           std::int64_t hidden_size)
      : query_size_(query_size), key_size_(key_size), hidden_size_(hidden_size) {}
  LOOM_ARG(std::int64_t, query_size, 0)
  LOOM_ARG(std::int64_t, key_size, 0)
  /// The size of the space the query and keys are projected into before tanh.
  LOOM_ARG(std::int64_t, hidden_size, 0)
  /// A bias on query_proj (one suffices: the two projections are added).
  LOOM_ARG(bool, bias, false)
};

/// Bahdanau attention. Parameters: query_proj.weight (H, Hq) [query_proj.bias (H)],
/// key_proj.weight (H, Hk), v.weight (1, H), initialised as Linear layers.
class AdditiveAttention : public Attention {
 public:
  explicit AdditiveAttention(const AdditiveAttentionOptions& options);

  const AdditiveAttentionOptions& options() const { return options_; }

  std::shared_ptr<Linear> query_proj;  ///< W_q: Hq -> H
  std::shared_ptr<Linear> key_proj;    ///< W_k: Hk -> H
  std::shared_ptr<Linear> v;           ///< v: H -> 1

 protected:
  Tensor score(const Tensor& query, const Tensor& keys) override;

 private:
  AdditiveAttentionOptions options_;
};

enum class AttentionScore {
  Dot,      ///< q^T k: needs query_size == key_size
  General,  ///< q^T W k with a learned W (Hq, Hk)
};

struct MultiplicativeAttentionOptions {
  MultiplicativeAttentionOptions(std::int64_t query_size, std::int64_t key_size)
      : query_size_(query_size), key_size_(key_size) {}
  LOOM_ARG(std::int64_t, query_size, 0)
  LOOM_ARG(std::int64_t, key_size, 0)
  LOOM_ARG(AttentionScore, score, AttentionScore::General)
};

/// Luong attention. Parameters: none for Dot; key_proj.weight (Hq, Hk) = W for General
/// (initialised as a Linear layer's).
class MultiplicativeAttention : public Attention {
 public:
  explicit MultiplicativeAttention(const MultiplicativeAttentionOptions& options);

  const MultiplicativeAttentionOptions& options() const { return options_; }

  std::shared_ptr<Linear> key_proj;  ///< W k: Hk -> Hq; null for Dot

 protected:
  Tensor score(const Tensor& query, const Tensor& keys) override;

 private:
  MultiplicativeAttentionOptions options_;
};

}  // namespace loom
