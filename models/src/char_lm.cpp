// CharLM: embedding -> LSTM -> linear over the vocabulary; chunked forward and sampling.
#include "loom/models/char_lm.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common.h"
#include "loom/autograd.h"

namespace loom::models {

namespace {

constexpr const char* kName = "CharLM";

// One id drawn from softmax(logits / temperature) over the top_k largest logits (0: all). Ties
// keep the lower id first, so top_k = 1 is argmax.
std::int64_t draw(const std::vector<double>& logits, double temperature, std::int64_t top_k,
                  Generator& generator) {
  std::vector<std::int64_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::int64_t a, std::int64_t b) { return logits[a] > logits[b]; });
  if (top_k > 0) order.resize(static_cast<std::size_t>(top_k));
  std::vector<double> weights(order.size());
  for (std::size_t i = 0; i < order.size(); ++i)  // shifted by the largest logit: no overflow
    weights[i] = std::exp((logits[order[i]] - logits[order[0]]) / temperature);
  double u = generator.uniform() * std::accumulate(weights.begin(), weights.end(), 0.0);
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (u < weights[i]) return order[i];
    u -= weights[i];
  }
  return order.back();  // rounding left u at the very end
}

}  // namespace

CharLMState CharLMState::detach() const {
  return {h.defined() ? h.detach() : Tensor(), c.defined() ? c.detach() : Tensor()};
}

CharLM::CharLM(const CharLMOptions& options) : options_(options) {
  const auto& o = options_;
  detail::check_positive(kName, "vocab_size", o.vocab_size());
  detail::check_positive(kName, "embedding_dim", o.embedding_dim());
  embedding_ =
      register_module("embedding", std::make_shared<Embedding>(o.vocab_size(), o.embedding_dim()));
  auto head = detail::make_recurrent_head(
      kName, "lstm",
      RecurrentOptions(o.embedding_dim(), o.hidden_size()).num_layers(o.num_layers()).dropout(o.dropout()),
      o.vocab_size());
  lstm_ = register_module("lstm", head.rnn);
  dropout_ = register_module("dropout", head.dropout);
  fc_ = register_module("fc", head.fc);
}

CharLMOutput CharLM::forward(const Tensor& ids, const CharLMState& state) {
  detail::check_ids(kName, ids, options_.vocab_size());
  if (state.h.defined() != state.c.defined())
    throw ValueError(fmt::format("{}: the state needs both h and c, or neither", kName));
  const Shape expected{options_.num_layers(), ids.size(0), options_.hidden_size()};
  for (const Tensor& s : {state.h, state.c})
    if (s.defined() && s.shape() != expected)
      throw ShapeError(fmt::format("{}: expected state tensors of shape {} (layers, B, H), got {}",
                                   kName, shape_str(expected), shape_str(s.shape())));
  const auto encoded = lstm_->forward(embedding_->forward(ids), Tensor(), state.h, state.c);
  return {fc_->forward(dropout_->forward(encoded.output)),  // (B, T, V)
          {encoded.h_n, encoded.c_n}};                      // (L, B, H) each
}

std::vector<std::int64_t> CharLM::sample(const std::vector<std::int64_t>& prefix,
                                         std::int64_t length, double temperature,
                                         std::int64_t top_k, Generator* generator) {
  const std::int64_t vocab = options_.vocab_size();
  if (prefix.empty())
    throw ValueError(fmt::format("{}: sample needs a prefix of at least one id", kName));
  if (length < 0)
    throw ValueError(fmt::format("{}: sample length must be >= 0, got {}", kName, length));
  if (!(temperature > 0.0) || !std::isfinite(temperature))
    throw ValueError(
        fmt::format("{}: temperature must be a finite number > 0, got {}", kName, temperature));
  if (top_k < 0 || top_k > vocab)
    throw ValueError(fmt::format("{}: top_k must be in [0, {}] (0 keeps every id), got {}", kName,
                                 vocab, top_k));
  Generator& gen = generator ? *generator : default_generator();

  // Eval mode (no dropout) for the duration, restored even when forward throws.
  struct ModeGuard {
    Module& module;
    bool was_training;
    ~ModeGuard() { module.train(was_training); }
  } mode{*this, is_training()};
  eval();
  NoGradGuard no_grad;

  auto out = forward(from_vector(prefix, {1, static_cast<std::int64_t>(prefix.size())}));
  std::vector<std::int64_t> generated;
  for (std::int64_t i = 0; i < length; ++i) {
    const Tensor last = out.logits.narrow(1, out.logits.size(1) - 1, 1);  // (1, 1, V)
    generated.push_back(draw(last.to_vector<double>(), temperature, top_k, gen));
    if (i + 1 < length)
      out = forward(from_vector(std::vector<std::int64_t>{generated.back()}, {1, 1}), out.state);
  }
  return generated;
}

}  // namespace loom::models
