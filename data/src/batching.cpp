#include "loom/data/batching.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "loom/errors.h"
#include "loom/ops.h"

namespace loom::data {
namespace {

void check_batch_size(const char* owner, std::int64_t batch_size) {
  if (batch_size < 1)
    throw ValueError(fmt::format("{}: expected batch_size >= 1, got {}", owner, batch_size));
}

// Consecutive runs of `batch_size` entries of `order`; the last may be shorter unless dropped.
std::vector<std::vector<std::int64_t>> cut(const std::vector<std::int64_t>& order,
                                           std::int64_t batch_size, bool drop_last) {
  std::vector<std::vector<std::int64_t>> batches;
  const auto n = static_cast<std::int64_t>(order.size());
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t stop = std::min(n, start + batch_size);
    if (drop_last && stop - start < batch_size) break;
    batches.emplace_back(order.begin() + start, order.begin() + stop);
  }
  return batches;
}

void check_sharding(const char* owner, std::int64_t replicas, std::int64_t rank) {
  if (replicas < 1 || rank < 0 || rank >= replicas)
    throw ValueError(fmt::format("{}: expected num_replicas >= 1 and 0 <= rank < num_replicas, got num_replicas {} "
                                 "and rank {}", owner, replicas, rank));
}

// This replica's rows of every global batch; batches too small to give each replica a row are
// left out on all replicas alike.
std::vector<std::vector<std::int64_t>> shard(const std::vector<std::vector<std::int64_t>>& batches,
                                             std::int64_t rank, std::int64_t replicas) {
  if (replicas == 1) return batches;
  std::vector<std::vector<std::int64_t>> out;
  for (const auto& rows : batches) {
    const auto n = static_cast<std::int64_t>(rows.size());
    if (n < replicas) continue;
    const auto [begin, end] = shard_range(n, rank, replicas);
    out.emplace_back(rows.begin() + begin, rows.begin() + end);
  }
  return out;
}

void check_batch_index(const char* owner, std::int64_t index, std::int64_t count) {
  if (index < 0 || index >= count)
    throw IndexError(fmt::format("{}::batch: expected an index in [0, {}), got {}", owner, count, index));
}

std::vector<std::int64_t> iota(std::int64_t n) {
  std::vector<std::int64_t> out(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) out[static_cast<std::size_t>(i)] = i;
  return out;
}

}  // namespace

PaddedBatch pad(const std::vector<std::vector<std::int64_t>>& sequences, std::int64_t pad_id,
                std::optional<std::int64_t> max_length) {
  if (sequences.empty()) throw ValueError("pad: expected at least one sequence, got none");
  if (max_length && *max_length < 1)
    throw ValueError(fmt::format("pad: expected max_length >= 1, got {}", *max_length));
  std::int64_t steps = 0;
  for (const auto& s : sequences) steps = std::max(steps, static_cast<std::int64_t>(s.size()));
  if (max_length) steps = std::min(steps, *max_length);

  const auto batch = static_cast<std::int64_t>(sequences.size());
  PaddedBatch out;
  out.ids = full({batch, steps}, static_cast<double>(pad_id), Dtype::Int64);  // (B, T)
  out.lengths = empty({batch}, Dtype::Int64);                                  // (B)
  out.mask = zeros({batch, steps});                                            // (B, T)
  auto* ids = out.ids.data<std::int64_t>();
  auto* lengths = out.lengths.data<std::int64_t>();
  auto* mask = out.mask.data<float>();
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto& s = sequences[static_cast<std::size_t>(b)];
    const std::int64_t length = std::min(steps, static_cast<std::int64_t>(s.size()));
    lengths[b] = length;
    std::copy(s.begin(), s.begin() + length, ids + b * steps);
    std::fill(mask + b * steps, mask + b * steps + length, 1.0f);
  }
  return out;
}

std::vector<std::int64_t> permutation(std::int64_t n, Generator& generator) {
  auto order = iota(n);
  for (std::int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<std::int64_t>(generator.next_u64() % static_cast<std::uint64_t>(i + 1));
    std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
  }
  return order;
}

std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, std::int64_t rank, std::int64_t replicas) {
  check_sharding("shard_range", replicas, rank);
  const std::int64_t base = n / replicas, extra = n % replicas;
  const std::int64_t begin = rank * base + std::min(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

// ---- SequenceBatches ----------------------------------------------------------------------------

SequenceBatches::SequenceBatches(std::vector<std::vector<std::int64_t>> sequences,
                                 std::vector<std::int64_t> labels, SequenceBatchOptions options)
    : sequences_(std::move(sequences)), labels_(std::move(labels)), options_(std::move(options)) {
  if (labels_.size() != sequences_.size())
    throw ValueError(fmt::format("SequenceBatches: expected one label per sequence ({}), got {}",
                                 sequences_.size(), labels_.size()));
  check();
  arrange(iota(size()), nullptr);
}

SequenceBatches::SequenceBatches(std::vector<std::vector<std::int64_t>> sequences,
                                 std::vector<std::vector<std::int64_t>> tags,
                                 SequenceBatchOptions options)
    : sequences_(std::move(sequences)), tags_(std::move(tags)), options_(std::move(options)) {
  if (tags_.size() != sequences_.size())
    throw ValueError(fmt::format("SequenceBatches: expected one tag sequence per sequence ({}), got {}",
                                 sequences_.size(), tags_.size()));
  for (std::size_t i = 0; i < tags_.size(); ++i)
    if (tags_[i].size() != sequences_[i].size())
      throw ValueError(fmt::format("SequenceBatches: expected one tag per step, got {} tags for "
                                   "sequence {} of length {}", tags_[i].size(), i, sequences_[i].size()));
  check();
  arrange(iota(size()), nullptr);
}

void SequenceBatches::check() const {
  check_batch_size("SequenceBatches", options_.batch_size());
  check_sharding("SequenceBatches", options_.num_replicas(), options_.rank());
  if (options_.bucket_size() < 0 || options_.max_length() < 0)
    throw ValueError(fmt::format("SequenceBatches: expected bucket_size >= 0 and max_length >= 0, got {} and {}",
                                 options_.bucket_size(), options_.max_length()));
  if (sequences_.empty()) throw ValueError("SequenceBatches: expected at least one sequence, got none");
}

void SequenceBatches::arrange(std::vector<std::int64_t> order, Generator* generator) {
  const bool bucketing = options_.bucket_size() > 1;
  if (bucketing) {
    const auto length = [&](std::int64_t i) { return sequences_[static_cast<std::size_t>(i)].size(); };
    const std::int64_t chunk = options_.bucket_size() * options_.batch_size();
    for (std::int64_t start = 0; start < size(); start += chunk) {
      const auto first = order.begin() + start;
      std::stable_sort(first, order.begin() + std::min(size(), start + chunk),
                       [&](std::int64_t a, std::int64_t b) { return length(a) < length(b); });
    }
  }
  batches_ = cut(order, options_.batch_size(), options_.drop_last());
  // Sorted chunks would feed short batches first, then long ones: mix them.
  if (bucketing && generator) {
    auto sorted = std::move(batches_);
    batches_.clear();
    for (std::int64_t i : permutation(static_cast<std::int64_t>(sorted.size()), *generator))
      batches_.push_back(std::move(sorted[static_cast<std::size_t>(i)]));
  }
  batches_ = shard(batches_, options_.rank(), options_.num_replicas());
}

std::int64_t SequenceBatches::num_batches() const { return static_cast<std::int64_t>(batches_.size()); }

const std::vector<std::int64_t>& SequenceBatches::batch_indices(std::int64_t index) const {
  check_batch_index("SequenceBatches", index, num_batches());
  return batches_[static_cast<std::size_t>(index)];
}

Batch SequenceBatches::batch(std::int64_t index) {
  const auto& rows = batch_indices(index);
  const auto max_length = options_.max_length() > 0 ? std::optional(options_.max_length()) : std::nullopt;
  std::vector<std::vector<std::int64_t>> sequences;
  for (std::int64_t i : rows) sequences.push_back(sequences_[static_cast<std::size_t>(i)]);
  auto padded = pad(sequences, options_.pad_id(), max_length);
  if (tags_.empty()) {
    std::vector<std::int64_t> labels;  // (B)
    for (std::int64_t i : rows) labels.push_back(labels_[static_cast<std::size_t>(i)]);
    return {padded.ids, padded.lengths, from_vector(labels)};
  }
  std::vector<std::vector<std::int64_t>> tags;
  for (std::int64_t i : rows) tags.push_back(tags_[static_cast<std::size_t>(i)]);
  // Same lengths as the sequences, so the same T.
  return {padded.ids, padded.lengths, pad(tags, ignore_index, max_length).ids};  // tags (B, T)
}

void SequenceBatches::start_epoch(std::int64_t /*epoch*/, Generator& generator) {
  if (options_.shuffle()) arrange(permutation(size(), generator), &generator);
}

// ---- TensorBatches ------------------------------------------------------------------------------

TensorBatches::TensorBatches(Tensor x, Tensor y, TensorBatchOptions options)
    : x_(std::move(x)), y_(std::move(y)), options_(std::move(options)) {
  check_batch_size("TensorBatches", options_.batch_size());
  if (!x_.defined() || !y_.defined() || x_.dim() < 1 || y_.dim() < 1 || x_.size(0) != y_.size(0))
    throw ShapeError(fmt::format("TensorBatches: expected x (N, ...) and y (N, ...) with the same N, got {} and {}",
                                 x_.defined() ? shape_str(x_.shape()) : "undefined",
                                 y_.defined() ? shape_str(y_.shape()) : "undefined"));
  check_sharding("TensorBatches", options_.num_replicas(), options_.rank());
  arrange(iota(x_.size(0)));
}

void TensorBatches::arrange(std::vector<std::int64_t> order) {
  batches_ = shard(cut(order, options_.batch_size(), options_.drop_last()), options_.rank(), options_.num_replicas());
}

std::int64_t TensorBatches::num_batches() const { return static_cast<std::int64_t>(batches_.size()); }

Batch TensorBatches::batch(std::int64_t index) {
  check_batch_index("TensorBatches", index, num_batches());
  const auto rows = from_vector(batches_[static_cast<std::size_t>(index)]);
  return {index_select(x_, 0, rows), index_select(y_, 0, rows)};
}

void TensorBatches::start_epoch(std::int64_t /*epoch*/, Generator& generator) {
  if (options_.shuffle()) arrange(permutation(x_.size(0), generator));
}

// ---- SequencePairBatches ------------------------------------------------------------------------

SequencePairBatches::SequencePairBatches(std::vector<std::vector<std::int64_t>> sources,
                                         std::vector<std::vector<std::int64_t>> targets, SequenceBatchOptions options,
                                         std::int64_t bos_id, std::int64_t eos_id)
    : sources_((sources.size() == targets.size()
                    ? std::move(sources)
                    : throw ValueError(fmt::format("SequencePairBatches: expected as many targets as sources, got {} "
                                                   "and {}", targets.size(), sources.size()))),
               iota(static_cast<std::int64_t>(targets.size())), options),
      targets_(std::move(targets)),
      pad_id_(options.pad_id()),
      bos_id_(bos_id),
      eos_id_(eos_id) {}

namespace {

// Teacher-forcing targets of `examples`: {input (<bos> + target, padded with pad_id),
// output (target + <eos>, padded with ignore_index), lengths}, each (B, T) or (B).
std::array<Tensor, 3> teacher_forcing(const std::vector<std::vector<std::int64_t>>& targets,
                                      const std::vector<std::int64_t>& examples, std::int64_t pad_id,
                                      std::int64_t bos_id, std::int64_t eos_id) {
  std::vector<std::vector<std::int64_t>> inputs, outputs;
  for (auto example : examples) {
    const auto& target = targets[static_cast<std::size_t>(example)];
    std::vector<std::int64_t> input{bos_id}, output(target);
    input.insert(input.end(), target.begin(), target.end());
    output.push_back(eos_id);
    inputs.push_back(std::move(input));
    outputs.push_back(std::move(output));
  }
  auto padded_input = pad(inputs, pad_id);
  return {padded_input.ids, pad(outputs, ignore_index).ids, padded_input.lengths};
}

}  // namespace

Batch SequencePairBatches::batch(std::int64_t index) {
  Batch source = sources_.batch(index);  // {ids, lengths, example indices}
  auto [input, output, lengths] =
      teacher_forcing(targets_, source[2].to_vector<std::int64_t>(), pad_id_, bos_id_, eos_id_);
  return {source[0], source[1], input, output, lengths};
}

// ---- DenseToSequenceBatches ---------------------------------------------------------------------

DenseToSequenceBatches::DenseToSequenceBatches(Tensor x, std::vector<std::vector<std::int64_t>> targets,
                                               TensorBatchOptions options, std::int64_t pad_id,
                                               std::int64_t bos_id, std::int64_t eos_id)
    : rows_((x.defined() && x.dim() >= 1 && x.size(0) == static_cast<std::int64_t>(targets.size()))
                ? std::move(x)
                : throw ShapeError(fmt::format("DenseToSequenceBatches: expected x (N, ...) with N = {} targets, got {}",
                                               targets.size(), x.defined() ? shape_str(x.shape()) : "undefined")),
            from_vector(iota(static_cast<std::int64_t>(targets.size()))), std::move(options)),
      targets_(std::move(targets)),
      pad_id_(pad_id),
      bos_id_(bos_id),
      eos_id_(eos_id) {}

Batch DenseToSequenceBatches::batch(std::int64_t index) {
  Batch rows = rows_.batch(index);  // {x rows, example indices}
  auto [input, output, lengths] =
      teacher_forcing(targets_, rows[1].to_vector<std::int64_t>(), pad_id_, bos_id_, eos_id_);
  return {rows[0], input, output, lengths};
}

// ---- FeatureSequenceBatches ---------------------------------------------------------------------

namespace {

// What SequenceBatches buckets by: a sequence as long as each item's features, labelled with the
// item's index. Checks the features on the way.
std::vector<std::vector<std::int64_t>> stand_in_sequences(const std::vector<Tensor>& features) {
  std::vector<std::vector<std::int64_t>> sequences;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const Tensor& f = features[i];
    if (!f.defined() || f.dim() != 2 || f.size(0) < 1 || f.dtype() != Dtype::Float32 ||
        f.size(1) != features[0].size(1))
      throw ShapeError(fmt::format("FeatureSequenceBatches: expected float32 features (T, {}) with T >= 1 for every "
                                   "item, got {} {} for item {}", features[0].defined() ? features[0].size(-1) : 0,
                                   f.defined() ? dtype_name(f.dtype()) : "undefined",
                                   f.defined() ? shape_str(f.shape()) : "", i));
    sequences.emplace_back(static_cast<std::size_t>(f.size(0)), 0);
  }
  return sequences;
}

}  // namespace

FeatureSequenceBatches::FeatureSequenceBatches(std::vector<Tensor> features,
                                               std::vector<std::vector<std::int64_t>> targets,
                                               SequenceBatchOptions options)
    : lengths_((features.size() == targets.size()
                    ? stand_in_sequences(features)
                    : throw ValueError(fmt::format("FeatureSequenceBatches: expected one target per item ({}), got {}",
                                                   features.size(), targets.size()))),
               iota(static_cast<std::int64_t>(features.size())), options.max_length(0)),
      features_(std::move(features)),
      targets_(std::move(targets)) {}

Batch FeatureSequenceBatches::batch(std::int64_t index) {
  const auto& rows = batch_indices(index);
  const auto batch_size = static_cast<std::int64_t>(rows.size());
  const std::int64_t width = features_[0].size(1);
  std::int64_t steps = 0;
  std::vector<std::vector<std::int64_t>> targets;
  std::vector<std::int64_t> lengths, target_lengths;  // (B) each
  for (std::int64_t i : rows) {
    const Tensor& f = features_[static_cast<std::size_t>(i)];
    steps = std::max(steps, f.size(0));
    lengths.push_back(f.size(0));
    targets.push_back(targets_[static_cast<std::size_t>(i)]);
    target_lengths.push_back(static_cast<std::int64_t>(targets.back().size()));
  }
  Tensor padded = zeros({batch_size, steps, width});  // (B, T, F)
  for (std::int64_t b = 0; b < batch_size; ++b) {
    const Tensor& f = features_[static_cast<std::size_t>(rows[static_cast<std::size_t>(b)])];
    std::copy(f.data<float>(), f.data<float>() + f.numel(), padded.data<float>() + b * steps * width);
  }
  return {padded, from_vector(lengths), pad(targets, 0).ids, from_vector(target_lengths)};
}

}  // namespace loom::data
