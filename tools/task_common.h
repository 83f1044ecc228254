#pragma once
// What every task of the loom program builds the same way from its RunConfig.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "loom/data/idx.h"
#include "loom/optim.h"
#include "report.h"
#include "run_config.h"

namespace loom::tools {

/// AdamW (the default) or SGD with momentum 0.9, with the config's lr and weight decay.
std::unique_ptr<optim::Optimizer> make_optimizer(const RunConfig& config, Module& model);
/// Epochs, time limit, run folder, seed and progress from the config; best epoch by `monitor`.
optim::TrainerOptions trainer_options(const RunConfig& config, const std::string& monitor,
                                      const std::string& mode);
/// Adds each logged metric over the epochs (train_loss, val_*; not the seconds or the learning
/// rate) to the report's learning curves, with the best epoch (0: none) to mark.
void add_learning_curves(report::Report& page, const std::vector<optim::EpochMetrics>& history, std::int64_t best_epoch);

/// This process's place in an `mpirun` job: rank 0 of 1 without one, or when Loom was built
/// without MPI.
struct Job {
  int rank = 0;
  int size = 1;
  bool root() const { return rank == 0; }
};
Job job();
/// Makes `trainer` one replica of the job's data-parallel group when the job has several
/// processes (loom::distributed::DataParallel); returns the group, to keep alive while training,
/// or null.
std::unique_ptr<optim::Replicas> join_replicas(optim::Trainer& trainer, Module& model);

/// The Fashion-MNIST images and labels of one part ("train" or "t10k") from the config's data
/// folder, as the fashion and caption tasks read them: 28x28 pixels, labels below 10.
data::LabelledImages read_fashion(const RunConfig& config, const std::string& part);

/// Loads the run's best.safetensors into `model`; with --int8 (config.int8) then quantizes it
/// (loom::quantize_dynamic: int8 Linear, Embedding, LSTM and GRU layers, eval mode).
void load_best(const RunConfig& config, Module& model);

/// `loom eval` of a saved run: `evaluate` adds fresh test figures to the run's metrics.json (its
/// training figures are kept; a missing or malformed file starts empty, one over 1 MiB is an
/// IOError), which is written back and printed. With --int8 the figures go to metrics_int8.json
/// instead, so the float figures stay beside them.
int reevaluate_run(const RunConfig& config, const std::function<void(nlohmann::ordered_json& metrics)>& evaluate);
/// The metrics as the report's summary rows: numbers to four decimals, text as it is.
std::vector<std::pair<std::string, std::string>> summary_rows(const nlohmann::ordered_json& metrics);
/// Ends a training run (rank 0): writes metrics.json, completes `page` with the metrics as summary
/// rows and the learning curves (and the title "loom TASK: RUN_DIR" when it has none), writes
/// report.html, and prints the metrics and where the report is.
void finish_run(const RunConfig& config, const nlohmann::ordered_json& metrics, report::Report& page,
                const optim::TrainResult& result);

}  // namespace loom::tools
