#pragma once
// The tasks of the loom program. Each task declares itself once, next to its code (text_task.cpp,
// dense_task.cpp...): its name, what it is, where its data is, the defaults that suit it, and how
// it trains, re-evaluates and runs a trained model. The loom program knows tasks only through
// this list; a new task is a file defining its Task plus one line in task_registry.cpp.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "run_config.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace loom::tools {

/// Whether the user left an option to the task: neither the command line nor a --config file
/// gave it. Options are named by their config.json keys ("hidden", "embedding_dim").
using IsUnset = std::function<bool(const char* key)>;

/// What runs a trained model once its command's arguments are parsed: it gets the run's config.
using Runner = std::function<int(const RunConfig& run)>;

/// A command that runs a trained model (`loom predict RUN_DIR TEXT...`), shared by the tasks
/// whose runs it reads.
struct InferenceCommand {
  std::string name;         // the subcommand: predict, generate, pronounce...
  std::string description;  // its line in --help
  /// Declares the command's arguments after RUN_DIR on `command` and returns what runs it.
  std::function<Runner(CLI::App& command)> declare;
};

/// A command whose arguments after RUN_DIR are its inputs (texts, words, images), one each.
/// `required`: CLI11 refuses the command without one (otherwise `run` says what it expected).
InferenceCommand inputs_command(std::string name, std::string description, std::string inputs,
                                std::string inputs_help, bool required,
                                std::function<int(const RunConfig&, const std::vector<std::string>&)> run);

struct Task {
  std::string name;
  std::string description;  // one line for `loom tasks`
  std::string data;         // data in the repository: its folder under the data root (tools/data_root.h)
  std::string fetch;        // `bash scripts/fetch_data.sh FETCH` downloads the data; empty: in the repository
  std::vector<std::string> models;  // the --model choices; empty: none
  /// Sets what suits the task in the options the user left unset (the model's among them).
  std::function<void(RunConfig&, const IsUnset&)> apply_defaults;
  std::function<int(const RunConfig&)> train;
  std::function<int(const RunConfig&)> eval;  // null: training's metrics.json is final
  const InferenceCommand* inference = nullptr;  // null: none
};

/// Every task, in the order `loom tasks` lists them.
const std::vector<const Task*>& all_tasks();
std::vector<std::string> task_names();
/// The task called `name`; a ValueError names `where` the name came from and lists the tasks.
const Task& find_task(const std::string& name, const std::string& where);

/// Checks a --model the user gave against the task's choices (a task without any accepts only
/// the default), then applies the task's defaults.
void apply_task_defaults(const Task& task, RunConfig& config, const IsUnset& unset);

/// A --seed option: an unsigned 64-bit integer, checked as such (CLI11 alone reads "-1" as 2^64 - 1).
CLI::Option* add_seed_option(CLI::App& command, std::uint64_t& seed);

}  // namespace loom::tools
