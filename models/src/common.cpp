// Shared checks and sequence summaries of the models.
#include "common.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <unordered_set>

#include "loom/ops.h"
#include "loom/random.h"

namespace loom::models::detail {

void check_positive(const char* model, const char* what, std::int64_t value) {
  if (value <= 0)
    throw ValueError(fmt::format("{}: {} must be positive, got {}", model, what, value));
}

void check_probability(const char* model, const char* what, double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw ValueError(fmt::format("{}: {} must be in [0, 1], got {}", model, what, p));
}

std::shared_ptr<Recurrent> make_recurrent(const char* model, const std::string& cell,
                                          const RecurrentOptions& options) {
  check_positive(model, "hidden_size", options.hidden_size());
  check_positive(model, "num_layers", options.num_layers());
  check_probability(model, "dropout", options.dropout());
  if (cell == "lstm") return std::make_shared<LSTM>(options);
  if (cell == "gru") return std::make_shared<GRU>(options);
  throw ValueError(fmt::format("{}: cell must be \"lstm\" or \"gru\", got \"{}\"", model, cell));
}

RecurrentHead make_recurrent_head(const char* model, const std::string& cell,
                                  const RecurrentOptions& options, std::int64_t outputs) {
  RecurrentHead head;
  head.rnn = make_recurrent(model, cell, options);  // drawn first: the parameters' init order
  head.dropout = std::make_shared<Dropout>(DropoutOptions().p(options.dropout()));
  const std::int64_t directions = options.bidirectional() ? 2 : 1;
  head.fc = std::make_shared<Linear>(directions * options.hidden_size(), outputs);
  return head;
}

void check_ids(const char* model, const Tensor& ids, std::int64_t vocab_size) {
  if (!ids.defined() || ids.dim() != 2 || ids.size(1) == 0)
    throw ShapeError(
        fmt::format("{}: expected token ids of shape (B, T) with T >= 1, got {}", model,
                    ids.defined() ? shape_str(ids.shape()) : "an undefined tensor"));
  if (ids.dtype() != Dtype::Int64)
    throw DtypeError(
        fmt::format("{}: token ids must be int64, got {}", model, dtype_name(ids.dtype())));
  for (std::int64_t id : ids.to_vector<std::int64_t>())
    if (id < 0 || id >= vocab_size)
      throw IndexError(
          fmt::format("{}: token ids must be in [0, {}), got {}", model, vocab_size, id));
}

void check_features(const char* model, const Tensor& input, std::int64_t features) {
  if (!input.defined() || input.dim() != 3 || input.size(1) == 0 || input.size(2) != features)
    throw ShapeError(
        fmt::format("{}: expected input of shape (B, T, {}) with T >= 1, got {}", model, features,
                    input.defined() ? shape_str(input.shape()) : "an undefined tensor"));
  if (!input.is_floating_point())
    throw DtypeError(fmt::format("{}: input must be float32 or float64, got {}", model,
                                 dtype_name(input.dtype())));
}

std::vector<std::int64_t> check_lengths(const char* model, const Tensor& lengths,
                                        std::int64_t batch, std::int64_t steps) {
  if (!lengths.defined()) return std::vector<std::int64_t>(static_cast<std::size_t>(batch), steps);
  if (lengths.dtype() != Dtype::Int64)
    throw DtypeError(
        fmt::format("{}: lengths must be int64, got {}", model, dtype_name(lengths.dtype())));
  if (lengths.shape() != Shape{batch})
    throw ShapeError(fmt::format("{}: expected lengths of shape ({},) for a batch of {}, got {}",
                                 model, batch, batch, shape_str(lengths.shape())));
  auto values = lengths.to_vector<std::int64_t>();
  for (std::size_t b = 0; b < values.size(); ++b)
    if (values[b] < 1 || values[b] > steps)
      throw ValueError(
          fmt::format("{}: lengths must be in [1, {}] (the time steps), got {} for sequence {}",
                      model, steps, values[b], b));
  return values;
}

Tensor last_layer_state(const Tensor& h_n, std::int64_t directions) {
  const std::int64_t batch = h_n.size(1), hidden = h_n.size(2);
  const Tensor top = h_n.narrow(0, h_n.size(0) - directions, directions);  // (D, B, H)
  return top.transpose(0, 1).reshape({batch, directions * hidden});        // (B, D*H)
}

Tensor pool_steps(const Tensor& output, const std::vector<std::int64_t>& lengths,
                  const std::string& pooling) {
  const std::int64_t batch = output.size(0), steps = output.size(1);
  std::vector<double> counts(lengths.begin(), lengths.end());
  if (pooling == "mean")  // the recurrent layers zero the padded steps, so a sum covers real ones
    return sum(output, {1}) / from_vector(counts, {batch, 1}).to(output.dtype());  // (B, E)
  std::vector<double> padded(static_cast<std::size_t>(batch * steps));
  for (std::int64_t b = 0; b < batch; ++b)
    for (std::int64_t t = lengths[b]; t < steps; ++t) padded[b * steps + t] = 1.0;
  const Tensor mask = from_vector(padded, {batch, steps, 1}).to(output.dtype());       // (B, T, 1)
  return max(masked_fill(output, mask, -std::numeric_limits<double>::infinity()), 1);  // (B, E)
}

Tensor bag_of_words(const Tensor& embedded, const Tensor& ids, const std::vector<std::int64_t>& lengths) {
  const std::int64_t batch = ids.size(0), steps = ids.size(1);
  const std::vector<std::int64_t> id = ids.to_vector<std::int64_t>();  // (B*T), row-major
  std::vector<double> weights(static_cast<std::size_t>(batch * steps), 0.0);  // (B, T)
  std::unordered_set<std::int64_t> seen;
  for (std::int64_t b = 0; b < batch; ++b) {
    seen.clear();
    std::vector<std::int64_t> first_steps;
    for (std::int64_t t = 0; t < lengths[b]; ++t) {
      const std::int64_t token = id[static_cast<std::size_t>(b * steps + t)];
      if (token != 0 && seen.insert(token).second) first_steps.push_back(t);
    }
    const double weight = first_steps.empty() ? 0.0 : 1.0 / std::sqrt(static_cast<double>(first_steps.size()));
    for (std::int64_t t : first_steps) weights[static_cast<std::size_t>(b * steps + t)] = weight;
  }
  const Tensor step_weights = from_vector(weights, {batch, steps, 1}).to(embedded.dtype());  // (B, T, 1)
  return sum(embedded * step_weights, {1});                                                 // (B, E)
}

Tensor drop_words(const Tensor& ids, double p, std::int64_t unknown_id) {
  Tensor out = ids.clone();  // (B, T)
  std::int64_t* id = out.data<std::int64_t>();
  Generator& generator = default_generator();
  for (std::int64_t i = 0; i < out.numel(); ++i)
    if (id[i] != 0 && generator.uniform() < p) id[i] = unknown_id;
  return out;
}

}  // namespace loom::models::detail
