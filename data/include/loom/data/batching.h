#pragma once
/// Padding, masks and batch sources for the trainer (loom::data::BatchSource).
///
///     auto padded = loom::data::pad({{5, 6, 7}, {8}});   // ids (2, 3), lengths {3, 1}, mask (2, 3)
///
///     loom::data::SequenceBatches batches(ids, labels, loom::data::SequenceBatchOptions()
///                                                          .batch_size(32).bucket_size(16));
///     trainer.fit(batches, [&](const loom::optim::Batch& b) {   // b = {ids, lengths, labels}
///       return loom::cross_entropy(model.forward(b[0], b[1]), b[2]);
///     });
///
/// Shuffling follows the trainer's rule: each `start_epoch` shuffles a fresh 0..n-1 with the
/// generator it is given, so the order depends on that generator's state alone.
///
/// Data-parallel training (one process per replica, see loom/distributed.h): give every replica
/// the same data, `batch_size` = the global batch and `.num_replicas(n).rank(r)`. All replicas
/// draw the same shuffled order from the same seed, and each takes its contiguous share of every
/// global batch (sizes differ by at most one row; a last batch with fewer rows than replicas is
/// left out). The global batches do not depend on n, so the steps are those of one process with
/// the whole batch, and a run can resume with a different number of replicas.
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "loom/data/batch.h"
#include "loom/options.h"
#include "loom/random.h"
#include "loom/tensor.h"

namespace loom::data {

/// Targets padded with this are skipped by loom::cross_entropy (its default ignore_index).
constexpr std::int64_t ignore_index = -100;

struct PaddedBatch {
  Tensor ids;      // (B, T) int64, pad_id after each sequence's end
  Tensor lengths;  // (B) int64
  Tensor mask;     // (B, T) float32, 1 on real steps and 0 on padding
};

/// Pads `sequences` to the longest one (T), or cuts them to `max_length` when given.
PaddedBatch pad(const std::vector<std::vector<std::int64_t>>& sequences, std::int64_t pad_id = 0,
                std::optional<std::int64_t> max_length = std::nullopt);

/// 0..n-1 in an order drawn from `generator` (Fisher-Yates).
std::vector<std::int64_t> permutation(std::int64_t n, Generator& generator);

/// Replica `rank`'s contiguous share [begin, end) of n items split over `replicas`: the first
/// n % replicas replicas hold one item more. ValueError unless 0 <= rank < replicas.
std::pair<std::int64_t, std::int64_t> shard_range(std::int64_t n, std::int64_t rank, std::int64_t replicas);

struct SequenceBatchOptions {
  LOOM_ARG(std::int64_t, batch_size, 32)
  /// Shuffle in every start_epoch; off: examples keep their order (evaluation).
  LOOM_ARG(bool, shuffle, true)
  /// Length bucketing: examples are sorted by length within chunks of bucket_size batches, so
  /// a batch holds similar lengths and little padding; the batches are then shuffled (when
  /// shuffling). 0 or 1: no bucketing.
  LOOM_ARG(std::int64_t, bucket_size, 0)
  /// Leave out a last, smaller batch.
  LOOM_ARG(bool, drop_last, false)
  LOOM_ARG(std::int64_t, pad_id, 0)
  /// Cut longer sequences (and their tags) to this many steps; 0: no limit.
  LOOM_ARG(std::int64_t, max_length, 0)
  /// Data-parallel sharding: this replica's rank among num_replicas (see above).
  LOOM_ARG(std::int64_t, num_replicas, 1)
  LOOM_ARG(std::int64_t, rank, 0)
};

/// Batches of token-id sequences with their labels: `{ids (B, T), lengths (B), labels}` where
/// labels are (B) int64 (one class per sequence) or (B, T) int64 (one tag per step, padded
/// with `ignore_index`).
class SequenceBatches : public BatchSource {
 public:
  /// One class per sequence (many-to-one).
  SequenceBatches(std::vector<std::vector<std::int64_t>> sequences, std::vector<std::int64_t> labels,
                  SequenceBatchOptions options = {});
  /// One tag per step (synced many-to-many); tags[i] must be as long as sequences[i].
  SequenceBatches(std::vector<std::vector<std::int64_t>> sequences,
                  std::vector<std::vector<std::int64_t>> tags, SequenceBatchOptions options = {});

  std::int64_t num_batches() const override;
  Batch batch(std::int64_t index) override;
  void start_epoch(std::int64_t epoch, Generator& generator) override;

  /// Which examples (indices into the constructor's vectors) batch `index` holds, in row order
  /// (this replica's share when sharded): for mapping predictions back to their inputs.
  const std::vector<std::int64_t>& batch_indices(std::int64_t index) const;
  std::int64_t size() const { return static_cast<std::int64_t>(sequences_.size()); }

 private:
  void check() const;
  // Cuts `order` into batches (bucketed, and the batches shuffled when a generator is given).
  void arrange(std::vector<std::int64_t> order, Generator* generator);

  std::vector<std::vector<std::int64_t>> sequences_;
  std::vector<std::int64_t> labels_;             // one per sequence, or empty
  std::vector<std::vector<std::int64_t>> tags_;  // one per step, or empty
  SequenceBatchOptions options_;
  std::vector<std::vector<std::int64_t>> batches_;  // example indices of each batch
};

/// Batches of (source, target) id sequences for an encoder-decoder with teacher forcing:
/// `{source (B, S), source_lengths (B), target_input (B, T), target_output (B, T),
/// target_lengths (B)}`, where target_input is <bos> + target padded with pad_id, target_output
/// is target + <eos> padded with ignore_index, and T is the longest target + 1. Bucketing and
/// shuffling follow the sources, as in SequenceBatches (whose options these are; max_length
/// cuts sources only).
class SequencePairBatches : public BatchSource {
 public:
  SequencePairBatches(std::vector<std::vector<std::int64_t>> sources,
                      std::vector<std::vector<std::int64_t>> targets, SequenceBatchOptions options = {},
                      std::int64_t bos_id = 2, std::int64_t eos_id = 3);

  std::int64_t num_batches() const override { return sources_.num_batches(); }
  Batch batch(std::int64_t index) override;
  void start_epoch(std::int64_t epoch, Generator& generator) override { sources_.start_epoch(epoch, generator); }
  const std::vector<std::int64_t>& batch_indices(std::int64_t index) const { return sources_.batch_indices(index); }
  std::int64_t size() const { return sources_.size(); }

 private:
  SequenceBatches sources_;  // labelled with each example's index, to find its target
  std::vector<std::vector<std::int64_t>> targets_;
  std::int64_t pad_id_, bos_id_, eos_id_;
};

struct TensorBatchOptions {
  LOOM_ARG(std::int64_t, batch_size, 32)
  LOOM_ARG(bool, shuffle, true)
  LOOM_ARG(bool, drop_last, false)
  /// Data-parallel sharding: this replica's rank among num_replicas (see above).
  LOOM_ARG(std::int64_t, num_replicas, 1)
  LOOM_ARG(std::int64_t, rank, 0)
};

/// Batches of rows of dense tensors: `{x[rows], y[rows]}` for x (N, ...) and y (N, ...), any
/// dtype (images, windows of a time series).
///
///     loom::data::TensorBatches batches(images, labels, loom::data::TensorBatchOptions().batch_size(64));
class TensorBatches : public BatchSource {
 public:
  TensorBatches(Tensor x, Tensor y, TensorBatchOptions options = {});

  std::int64_t num_batches() const override;
  Batch batch(std::int64_t index) override;
  void start_epoch(std::int64_t epoch, Generator& generator) override;

 private:
  // Cuts `order` into batches and keeps this replica's rows of each.
  void arrange(std::vector<std::int64_t> order);

  Tensor x_, y_;
  TensorBatchOptions options_;
  std::vector<std::vector<std::int64_t>> batches_;  // this replica's rows of each batch
};

/// Batches of rows of a dense tensor with a target sequence per row, for a decoder trained with
/// teacher forcing (an image captioner): `{x[rows] (B, ...), target_input (B, T), target_output
/// (B, T), target_lengths (B)}`, the targets built as in SequencePairBatches.
///
///     loom::data::DenseToSequenceBatches batches(images, captions,
///                                                loom::data::TensorBatchOptions().batch_size(64));
class DenseToSequenceBatches : public BatchSource {
 public:
  DenseToSequenceBatches(Tensor x, std::vector<std::vector<std::int64_t>> targets, TensorBatchOptions options = {},
                         std::int64_t pad_id = 0, std::int64_t bos_id = 2, std::int64_t eos_id = 3);

  std::int64_t num_batches() const override { return rows_.num_batches(); }
  Batch batch(std::int64_t index) override;
  void start_epoch(std::int64_t epoch, Generator& generator) override { rows_.start_epoch(epoch, generator); }

 private:
  TensorBatches rows_;  // x with each row's index, to find its target
  std::vector<std::vector<std::int64_t>> targets_;
  std::int64_t pad_id_, bos_id_, eos_id_;
};

/// Batches of variable-length feature sequences, each with a label sequence of its own length,
/// for CTC (speech frames, columns of a line of handwriting): `{features (B, T, F) zero-padded,
/// lengths (B), targets (B, S) padded with 0, target_lengths (B)}` with T and S the batch's
/// longest. Bucketing, shuffling and sharding follow the feature lengths as in SequenceBatches
/// (max_length and pad_id are not used).
///
///     loom::data::FeatureSequenceBatches batches(frames, transcripts,
///                                                loom::data::SequenceBatchOptions().batch_size(32).bucket_size(20));
class FeatureSequenceBatches : public BatchSource {
 public:
  /// features[i]: float32 (T_i, F) with T_i >= 1 and one F for all; targets[i]: labels of item i.
  FeatureSequenceBatches(std::vector<Tensor> features, std::vector<std::vector<std::int64_t>> targets,
                         SequenceBatchOptions options = {});

  std::int64_t num_batches() const override { return lengths_.num_batches(); }
  Batch batch(std::int64_t index) override;
  void start_epoch(std::int64_t epoch, Generator& generator) override { lengths_.start_epoch(epoch, generator); }
  /// Which items batch `index` holds, in row order.
  const std::vector<std::int64_t>& batch_indices(std::int64_t index) const { return lengths_.batch_indices(index); }

 private:
  SequenceBatches lengths_;  // a stand-in sequence of each item's length, labelled with its index
  std::vector<Tensor> features_;
  std::vector<std::vector<std::int64_t>> targets_;
};

}  // namespace loom::data
