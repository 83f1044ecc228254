// Additive (Bahdanau) and multiplicative (Luong) attention over a shared masked-softmax core.
#include "loom/layers/attention.h"

#include <fmt/format.h>

#include <limits>

#include "loom/ops.h"

namespace loom {

namespace {
std::shared_ptr<Linear> projection(std::int64_t in, std::int64_t out, bool bias) {
  return std::make_shared<Linear>(LinearOptions(in, out).bias(bias));
}
}  // namespace

Attention::Attention(const char* name, std::int64_t query_size, std::int64_t key_size)
    : name_(name), query_size_(query_size), key_size_(key_size) {
  if (query_size <= 0 || key_size <= 0)
    throw ValueError(fmt::format("{}: query_size and key_size must be positive, got {} and {}",
                                 name, query_size, key_size));
}

AttentionOutput Attention::forward(const Tensor& query, const Tensor& keys, const Tensor& values,
                                   const Tensor& mask) {
  if (!query.defined() || (query.dim() != 2 && query.dim() != 3))
    throw ShapeError(fmt::format("{}: expected query of shape (B, Hq) or (B, Tq, Hq), got {}",
                                 name_, query.defined() ? shape_str(query.shape()) : "undefined"));
  if (!keys.defined() || keys.dim() != 3)
    throw ShapeError(fmt::format("{}: expected keys of shape (B, S, Hk), got {}", name_,
                                 keys.defined() ? shape_str(keys.shape()) : "undefined"));
  const std::int64_t batch = query.size(0), length = keys.size(1);
  if (keys.size(0) != batch)
    throw ShapeError(fmt::format("{}: keys.size(0) must be equal to the query's batch size. "
                                 "Expected {}, got {}", name_, batch, keys.size(0)));
  if (query.size(-1) != query_size_)
    throw ShapeError(fmt::format("{}: query.size(-1) must be equal to query_size. Expected {}, "
                                 "got {}", name_, query_size_, query.size(-1)));
  if (keys.size(-1) != key_size_)
    throw ShapeError(fmt::format("{}: keys.size(-1) must be equal to key_size. Expected {}, got "
                                 "{}", name_, key_size_, keys.size(-1)));
  const Tensor& memory = values.defined() ? values : keys;  // (B, S, Hv)
  if (memory.dim() != 3 || memory.size(0) != batch || memory.size(1) != length)
    throw ShapeError(fmt::format("{}: expected values of shape ({}, {}, Hv) to match the keys {}, "
                                 "got {}", name_, batch, length, shape_str(keys.shape()),
                                 shape_str(memory.shape())));
  if (mask.defined() && mask.shape() != Shape{batch, length})
    throw ShapeError(fmt::format("{}: expected a mask of shape ({}, {}) for keys {}, got {}",
                                 name_, batch, length, shape_str(keys.shape()),
                                 shape_str(mask.shape())));

  const bool one_step = query.dim() == 2;
  Tensor scores = score(one_step ? query.unsqueeze(1) : query, keys);  // (B, Tq, S)
  if (mask.defined()) {
    Tensor real = mask.to(scores.dtype()).detach();                      // (B, S)
    Tensor padding = eq(real, scalar_tensor(0.0, scores.dtype())).unsqueeze(1);  // (B, 1, S)
    scores = masked_fill(scores, padding, -std::numeric_limits<double>::infinity());
  }
  Tensor weights = softmax(scores, -1);      // (B, Tq, S)
  Tensor context = matmul(weights, memory);  // (B, Tq, Hv)
  if (one_step) return {context.squeeze(1), weights.squeeze(1)};
  return {context, weights};
}

AdditiveAttention::AdditiveAttention(const AdditiveAttentionOptions& options)
    : Attention("AdditiveAttention", options.query_size(), options.key_size()),
      options_(options) {
  if (options.hidden_size() <= 0)
    throw ValueError(fmt::format("AdditiveAttention: hidden_size must be positive, got {}",
                                 options.hidden_size()));
  const std::int64_t hidden = options.hidden_size();
  query_proj = register_module("query_proj",
                               projection(options.query_size(), hidden, options.bias()));
  key_proj = register_module("key_proj", projection(options.key_size(), hidden, false));
  v = register_module("v", projection(hidden, 1, false));
}

Tensor AdditiveAttention::score(const Tensor& query, const Tensor& keys) {
  Tensor projected_query = query_proj->forward(query);  // (B, Tq, H)
  Tensor projected_keys = key_proj->forward(keys);      // (B, S, H)
  // (B, Tq, 1, H) + (B, 1, S, H) -> (B, Tq, S, H)
  Tensor hidden = tanh(projected_query.unsqueeze(2) + projected_keys.unsqueeze(1));
  return v->forward(hidden).squeeze(-1);                // (B, Tq, S)
}

MultiplicativeAttention::MultiplicativeAttention(const MultiplicativeAttentionOptions& options)
    : Attention("MultiplicativeAttention", options.query_size(), options.key_size()),
      options_(options) {
  if (options.score() == AttentionScore::Dot) {
    if (options.query_size() != options.key_size())
      throw ValueError(fmt::format("MultiplicativeAttention: the dot score needs query_size == "
                                   "key_size, got {} and {}",
                                   options.query_size(), options.key_size()));
  } else {
    key_proj = register_module("key_proj",
                               projection(options.key_size(), options.query_size(), false));
  }
}

Tensor MultiplicativeAttention::score(const Tensor& query, const Tensor& keys) {
  Tensor projected_keys = key_proj ? key_proj->forward(keys) : keys;  // (B, S, Hq)
  return matmul(query, projected_keys.transpose(1, 2));               // (B, Tq, S)
}

}  // namespace loom
