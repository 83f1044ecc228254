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
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "loom/module.h"
#include "loom/optim/optimizer.h"
#include "loom/optim/scheduler.h"
#include "loom/options.h"
#include "loom/random.h"

namespace loom::optim {

/// One batch: tensors whose meaning the loss function knows (inputs, targets, lengths...).
using Batch = std::vector<Tensor>;

/// Where batches come from. `start_epoch` may reorder them with the generator it is given (the
/// trainer's own, saved in checkpoints, so a resumed run shuffles identically). The order must
/// depend on that generator alone, not on earlier epochs' orders, which a resumed process never
/// saw: shuffle a fresh 0..n-1 each epoch.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::int64_t num_batches() const = 0;
  virtual Batch batch(std::int64_t index) = 0;
  virtual void start_epoch(std::int64_t /*epoch*/, Generator& /*generator*/) {}
};

struct TrainerOptions {
  LOOM_ARG(std::int64_t, epochs, 10)
  /// Global gradient norm limit; 0 turns clipping off.
  LOOM_ARG(double, clip_grad_norm, 0.0)
  /// Folder for last.safetensors, best.safetensors and metrics.jsonl; empty keeps nothing.
  LOOM_ARG(std::string, run_dir, "")
  /// The metric that decides "best" and early stopping ("train_loss" or a validation metric).
  LOOM_ARG(std::string, monitor, "val_loss")
  /// "min" when lower is better, "max" otherwise.
  LOOM_ARG(std::string, monitor_mode, "min")
  /// Stop after this many epochs without improvement; 0 never stops early.
  LOOM_ARG(std::int64_t, early_stopping_patience, 0)
  /// Seeds the trainer's generator (batch order) and Loom's default one (dropout, init).
  LOOM_ARG(std::uint64_t, seed, 0)
  /// Draw progress on stderr.
  LOOM_ARG(bool, progress, true)
  /// What a training step whose loss or gradients hold NaN or inf does: "stop" throws a
  /// ValueError naming the step and the first parameter (in named_parameters order) whose
  /// gradient is not finite; "skip" leaves the parameters untouched and counts the step
  /// (`skipped_steps` in each epoch's metrics and in TrainResult).
  LOOM_ARG(std::string, on_non_finite, "stop")
};

struct EpochMetrics {
  std::int64_t epoch = 0;
  std::map<std::string, double> values;  ///< train_loss, lr, seconds and the validation metrics
};

struct TrainResult {
  std::vector<EpochMetrics> history;  ///< every epoch of this run, resumed ones included
  std::int64_t best_epoch = 0;
  double best_value = 0.0;
  bool stopped_early = false;
  std::int64_t skipped_steps = 0;  ///< steps skipped for a non-finite loss or gradient (this process)
};

class Trainer {
 public:
  using LossFunction = std::function<Tensor(const Batch&)>;
  using Validation = std::function<std::map<std::string, double>()>;

  Trainer(Module& model, Optimizer& optimizer, TrainerOptions options = {});
  /// A schedule stepped once per epoch (ReduceLROnPlateau: give it with set_plateau).
  void set_scheduler(LRScheduler* scheduler) { scheduler_ = scheduler; }
  void set_plateau(ReduceLROnPlateau* plateau) { plateau_ = plateau; }

  /// Loads run_dir/last.safetensors when it exists (model, optimizer, schedule, generators,
  /// epoch, history); returns whether it did. Call before fit.
  bool resume();
  /// Trains from the current epoch to options.epochs. `loss` runs in training mode and returns
  /// the scalar to minimise; `validate` (optional) runs in eval mode under no-grad.
  TrainResult fit(BatchSource& train, const LossFunction& loss, const Validation& validate = {});

 private:
  void save_checkpoint(const std::string& path) const;
  void append_metrics(const EpochMetrics& metrics) const;
  bool improved(double value) const;

  Module& model_;
  Optimizer& optimizer_;
  TrainerOptions options_;
  LRScheduler* scheduler_ = nullptr;
  ReduceLROnPlateau* plateau_ = nullptr;
  Generator generator_;
  std::int64_t epoch_ = 0;  // epochs completed
  TrainResult result_;
  std::int64_t epochs_without_improvement_ = 0;
};

}  // namespace loom::optim
