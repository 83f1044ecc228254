#pragma once
/// The training loop, usable from a user's own main: epochs over a batch source, a training and
/// a validation phase, a progress bar (plain lines when stderr is not a terminal), gradient
/// clipping, NaN/inf detection, early stopping, keep-best and keep-last checkpoints, a JSON-lines
/// metrics log, and resume: a run killed after epoch k and resumed from its run folder ends with
/// the same parameters, bit for bit, as an uninterrupted run with the same seed and threads.
///
///     loom::optim::Trainer trainer(model, optimizer, loom::optim::TrainerOptions()
///                                      .epochs(20).run_dir("runs/demo").clip_grad_norm(1.0));
///     trainer.resume();                                   // continues a killed run, if any
///     auto result = trainer.fit(batches, [&](const loom::optim::Batch& b) {
///       return loom::cross_entropy(model.forward(b[0]), b[1]);
///     }, [&] { return std::map<std::string, double>{{"val_loss", evaluate(model)}}; });
///
/// Data-parallel (`trainer.set_replicas(&group)`, e.g. a loom::distributed::DataParallel under
/// `mpirun -np N`): replica 0's checkpoint is sent to all at resume and its parameters at the
/// start; every step averages the gradients over the replicas, weighted by their rows of the
/// batch; each replica validates its own share of the held-out data and the metrics are averaged
/// over the replicas (weighted by `val_examples` when the validation returns it); only replica 0
/// draws progress and writes checkpoints and the metrics log. Give every replica the same batch
/// source sharded by rank (SequenceBatchOptions::num_replicas/rank), so they take the same
/// number of steps.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "loom/data/batch.h"
#include "loom/module.h"
#include "loom/optim/optimizer.h"
#include "loom/optim/replicas.h"
#include "loom/optim/scheduler.h"
#include "loom/options.h"
#include "loom/random.h"

namespace loom::optim {

/// The trainer reads batches from data's sources (loom/data/batch.h): data never depends on optim.
using Batch = data::Batch;
using BatchSource = data::BatchSource;

struct TrainerOptions {
  LOOM_ARG(std::int64_t, epochs, 10)
  /// Global gradient norm limit; 0 turns clipping off.
  LOOM_ARG(double, clip_grad_norm, 0.0)
  /// Folder for last.safetensors, best.safetensors and metrics.jsonl; empty keeps nothing. A
  /// write that fails there (a full disk...) stops fit with an IOError; the last checkpoint
  /// stays the previous good one.
  LOOM_ARG(std::string, run_dir, "")
  /// The metric that decides "best" and early stopping ("train_loss" or a validation metric).
  LOOM_ARG(std::string, monitor, "val_loss")
  /// "min" when lower is better, "max" otherwise.
  LOOM_ARG(std::string, monitor_mode, "min")
  /// Stop after this many epochs without improvement; 0 never stops early.
  LOOM_ARG(std::int64_t, early_stopping_patience, 0)
  /// A time budget in seconds for this call of fit (a resumed run gets it anew): training stops
  /// after the epoch during which it runs out, so an epoch is never cut short. With replicas,
  /// all stop once any one has run out. 0: no limit.
  LOOM_ARG(double, time_limit_seconds, 0.0)
  /// Seeds the trainer's generator (batch order) and Loom's default one (dropout, init).
  LOOM_ARG(std::uint64_t, seed, 0)
  /// Draw progress on stderr.
  LOOM_ARG(bool, progress, true)
  /// Truncated backpropagation through time: > 0 cuts every batch along tbptt_axis into chunks
  /// of this many steps (time_chunks), each its own forward, backward and optimizer step, so
  /// gradients stop at chunk borders and memory follows the chunk, not the sequence. A model
  /// that carries its recurrent state across chunks reads Trainer::chunk() (index 0 starts a
  /// new batch) and keeps the state detached. train_loss is the mean over the chunks.
  LOOM_ARG(std::int64_t, tbptt_steps, 0)
  /// The time axis tbptt_steps cuts: 1 for batch-first (B, T, ...) tensors, 0 for time-major.
  LOOM_ARG(std::int64_t, tbptt_axis, 1)
  /// What a training step whose loss or gradients hold NaN or inf does: "stop" throws a
  /// ValueError naming the step and the first parameter (in named_parameters order) whose
  /// gradient is not finite; "skip" leaves the parameters untouched and counts the step
  /// (`skipped_steps` in each epoch's metrics and in TrainResult).
  LOOM_ARG(std::string, on_non_finite, "stop")
};

/// Cuts a batch into chunks of `steps` along `axis`, the size of the first tensor on that axis
/// giving the sequence length; tensors of another size there (lengths, labels) go whole with
/// every chunk. steps = 0 returns the batch itself.
///
///     time_chunks({x /* (B, 10, F) */, y /* (B, 10) */}, 4, 1);   // T = 4, 4, 2
std::vector<Batch> time_chunks(const Batch& batch, std::int64_t steps, std::int64_t axis);

struct EpochMetrics {
  std::int64_t epoch = 0;
  std::map<std::string, double> values;  ///< train_loss, lr, seconds and the validation metrics
};

struct TrainResult {
  std::vector<EpochMetrics> history;  ///< every epoch of this run, resumed ones included
  std::int64_t best_epoch = 0;
  double best_value = 0.0;
  bool stopped_early = false;
  bool stopped_by_time_limit = false;  ///< time_limit_seconds ran out before the last epoch
  std::int64_t skipped_steps = 0;  ///< steps skipped for a non-finite loss or gradient (this process)
};

/// The epochs of a metrics log the trainer wrote (RUN_DIR/metrics.jsonl), in order; an IOError
/// names a missing, oversized or malformed file and the line. JSON has no NaN or infinity: the log
/// (and the checkpoint) writes those values as the strings "nan", "inf" and "-inf".
std::vector<EpochMetrics> read_metrics_log(const std::string& path);

/// A validation metric naming how many examples this replica's metrics cover: with replicas, the
/// others are averaged weighted by it, and it is logged as the total.
inline constexpr const char* validation_examples_key = "val_examples";

class Trainer {
 public:
  using LossFunction = std::function<Tensor(const Batch&)>;
  using Validation = std::function<std::map<std::string, double>()>;

  Trainer(Module& model, Optimizer& optimizer, TrainerOptions options = {});
  /// A schedule stepped once per epoch (ReduceLROnPlateau: give it with set_plateau).
  void set_scheduler(LRScheduler* scheduler) { scheduler_ = scheduler; }
  /// The plateau steps on `metric` (a validation metric's name), or on the monitored metric when
  /// empty: a run may pick its best epoch by one figure (BLEU) and its rate by a smoother one (loss).
  void set_plateau(ReduceLROnPlateau* plateau, std::string metric = {}) {
    plateau_ = plateau;
    plateau_metric_ = std::move(metric);
  }
  /// Trains as one replica of a data-parallel group (see above); call before resume and fit.
  void set_replicas(Replicas* replicas) { replicas_ = replicas; }

  /// Loads run_dir/last.safetensors when it exists (model, optimizer, schedule, generators,
  /// epoch, history); returns whether it did. Call before fit. A file larger than this model's
  /// checkpoint can be, with NaN or inf in its tensors, or written with a plateau on another
  /// metric, is an error.
  bool resume();
  /// Trains from the current epoch to options.epochs. `loss` runs in training mode and returns
  /// the scalar to minimise; `validate` (optional) runs in eval mode under no-grad.
  TrainResult fit(BatchSource& train, const LossFunction& loss, const Validation& validate = {});

  /// Which chunk of the current batch the loss function sees (always {0, 1} without tbptt_steps).
  struct Chunk {
    std::int64_t index = 0, count = 1;
  };
  const Chunk& chunk() const { return chunk_; }

 private:
  /// One forward, backward and optimizer step; returns the loss, or nothing when the step was
  /// skipped for a non-finite loss or gradient (on_non_finite("skip")).
  std::optional<double> train_step(const Batch& batch, const LossFunction& loss, double replica_share,
                                   std::int64_t step, std::int64_t epoch, std::int64_t index);
  void save_checkpoint(const std::string& path) const;
  // The log starts as exactly the epochs the trainer knows: none for a fresh run, the
  // checkpoint's for a resumed one (lines of epochs killed before their checkpoint go).
  void start_metrics_log() const;
  void append_metrics(const EpochMetrics& metrics) const;
  bool improved(double value) const;
  bool is_root() const { return !replicas_ || replicas_->rank() == 0; }
  // Every replica starts from replica 0's parameters, buffers and (decorrelated) dropout stream.
  void start_replicas();
  // The validation metrics averaged over the replicas (weighted by val_examples when present).
  std::map<std::string, double> average_over_replicas(const std::map<std::string, double>& values);

  Module& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  LRScheduler* scheduler_ = nullptr;
  ReduceLROnPlateau* plateau_ = nullptr;
  std::string plateau_metric_;  // empty: the monitored metric
  Replicas* replicas_ = nullptr;
  Generator generator_;
  std::int64_t epoch_ = 0;  // epochs completed
  TrainResult result_;
  std::int64_t epochs_without_improvement_ = 0;
  Chunk chunk_;
};

}  // namespace loom::optim
