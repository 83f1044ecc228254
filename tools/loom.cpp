// The `loom` command-line program:
//   loom tasks                     list the tasks and where their data comes from
//   loom train TASK [options]      train a model; everything goes to the run folder
//   loom train TASK --config FILE  options from a JSON file of config.json's keys (the command line wins)
//   loom train TASK --dump-config  print the options a run would have (config.json) and exit
//   loom eval RUN_DIR              recompute the held-out figures of a run
//   loom predict RUN_DIR TEXT...   classify texts with a trained run
//   loom generate RUN_DIR          generate text with a trained charlm run
//   loom pronounce RUN_DIR WORD... phones of words with a trained g2p run
//   loom translate RUN_DIR TEXT... Spanish translations of English sentences with a translate run
//   loom caption RUN_DIR IMAGE...  captions of 56x56 binary PGM scenes with a trained caption run
//   loom recognize RUN_DIR LINE... digits of 28-pixel-high PGM lines with a handwriting run
//   loom transcribe RUN_DIR WAV... digits spoken in WAV files with a speech run
//   mpirun -np N loom train TASK   train one model with N processes (when built with MPI)
// The tasks and their commands are those of the task registry (task_registry.h); this file knows
// none by name. Bad options or paths print one line and exit with code 2.
#include <CLI/CLI.hpp>

#include <loom/loom.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "data_root.h"
#include "run_config.h"
#include "task_common.h"
#include "task_registry.h"

#ifdef LOOM_HAVE_DISTRIBUTED
#include <loom/distributed.h>
#endif

namespace {

// One line on stderr and exit code 2; in an mpirun job with several processes, the line names
// the rank and the whole job ends (every rank would otherwise wait for this one forever).
int fail(const char* message) {
#ifdef LOOM_HAVE_DISTRIBUTED
  if (loom::distributed::world_size() > 1) loom::distributed::abort_job(message, 2);
#endif
  std::fprintf(stderr, "loom: %s\n", message);
  return 2;
}

// Out of memory or address space: OpenBLAS's own threads may be stuck retrying the allocation of
// their work buffers, and its exit handler would wait for them forever. So this leaves without the
// exit handlers (the run folder's files are already written whole or not at all).
[[noreturn]] int leave_out_of_memory(const char* message) {
  const int code = fail(message);
  std::fflush(nullptr);
  std::_Exit(code);
}

// Without MPI, N processes started by mpirun would each train alone and overwrite one another's
// run folder.
void refuse_mpirun_without_mpi() {
#ifndef LOOM_HAVE_DISTRIBUTED
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size && std::atoi(size) > 1)
    throw loom::ValueError("this loom was built without MPI; install libopenmpi-dev and rebuild to train with mpirun");
#endif
}

namespace limits = loom::tools::limits;
using loom::tools::RunConfig;
using loom::tools::Task;

// A command-line check for one of the ranges a saved config is held to as well.
CLI::Range range(loom::tools::Range r) { return CLI::Range(r.min, r.max); }

// `loom train`: its options write straight into the config; each is known by its config.json key
// too, so that a --config file and the task's defaults give way to the command line.
struct TrainCommand {
  CLI::App* command = nullptr;
  std::map<std::string, const CLI::Option*> options;  // by config.json key
  std::string config_file;
  bool dump_config = false;

  bool given(const std::string& key) const {
    const auto option = options.find(key);
    if (option == options.end()) throw std::logic_error(fmt::format("loom train has no option for the key '{}'", key));
    return option->second->count() > 0;
  }
};

TrainCommand add_train_command(CLI::App& app, RunConfig& config) {
  TrainCommand train;
  CLI::App* command = train.command = app.add_subcommand("train", "Train a model on a task");
  const auto option = [&](const char* key, const std::string& name, auto& field, const std::string& help) {
    CLI::Option* added = command->add_option(name, field, help);
    train.options[key] = added;
    return added;
  };
  option("task", "task", config.task, "The task (`loom tasks` says what each is)")
      ->required()
      ->check(CLI::IsMember(loom::tools::task_names()));
  command->add_option("--config", train.config_file,
                      "Options from a JSON file with the keys of a run's config.json; the command line overrides them");
  command->add_flag("--dump-config", train.dump_config,
                    "Print the run's options (those of config.json, after the task's defaults) and exit");
  command->add_option("--run-dir", config.run_dir, "Where to write the run (default runs/TASK)");
  option("data_dir", "--data-dir", config.data_dir,
         "The task's own data folder, or a file for charlm, g2p and translate (default: the task's folder "
         "in $LOOM_DATA_DIR, else in Loom's data folder; fetched data sets also in ~/.cache/loom/TASK)");
  option("model", "--model", config.model,
         "fashion: rows (row-by-row LSTM) or cnn (CNN features); sentiment, spam: rnn (recurrent) or bag "
         "(bag of words; spam's default)")
      ->check(CLI::IsMember(limits::models));
  option("cell", "--cell", config.cell, "lstm or gru")->check(CLI::IsMember(limits::cells));
  option("embedding_dim", "--embedding", config.embedding_dim, "Embedding size")->check(range(limits::embedding_dim));
  option("hidden", "--hidden", config.hidden, "Hidden units per direction")->check(range(limits::hidden));
  option("layers", "--layers", config.layers, "Recurrent layers")->check(range(limits::layers));
  option("bidirectional", "--bidirectional", config.bidirectional, "true or false");
  option("dropout", "--dropout", config.dropout, "Dropout")->check(range(limits::dropout));
  option("pooling", "--pooling", config.pooling, "last, mean or max")->check(CLI::IsMember(limits::poolings));
  option("optimizer", "--optimizer", config.optimizer, "adam or sgd")->check(CLI::IsMember(limits::optimizers));
  option("lr", "--lr", config.lr, "Learning rate")->check(range(limits::lr));
  option("weight_decay", "--weight-decay", config.weight_decay, "Weight decay")->check(range(limits::weight_decay));
  option("epochs", "--epochs", config.epochs, "Epochs")->check(range(limits::epochs));
  option("batch", "--batch", config.batch, "Batch size")->check(range(limits::batch));
  option("min_frequency", "--min-frequency", config.min_frequency, "Rarer words become <unk>")
      ->check(range(limits::min_frequency));
  option("max_tokens", "--max-tokens", config.max_tokens,
         "Text tasks: read only the first N words; translate: leave out training pairs longer than N "
         "words on either side (0: all)")
      ->check(range(limits::max_tokens));
  option("word_dropout", "--word-dropout", config.word_dropout,
         "Text tasks: read each token as <unk> with this probability in training")
      ->check(range(limits::word_dropout));
  option("class_weights", "--class-weights", config.class_weights,
         "Text tasks: none, or balanced (the loss weighs each class by 1 / its training frequency)")
      ->check(CLI::IsMember(limits::class_weights));
  option("attention", "--attention", config.attention, "g2p, translate: luong or bahdanau; caption: luong or none")
      ->check(CLI::IsMember(limits::attentions));
  option("beam", "--beam", config.beam, "g2p, translate, caption, handwriting, speech: beam size for decoding the test set (1: greedy)")
      ->check(range(limits::beam));
  option("length_normalization", "--length-normalization", config.length_normalization,
         "g2p, translate: beam search ranks by log P / length^alpha (power) or / ((5 + length) / 6)^alpha (gnmt)")
      ->check(CLI::IsMember(limits::length_normalizations));
  option("length_penalty", "--length-penalty", config.length_penalty, "g2p, translate: alpha of the length normalisation")
      ->check(range(limits::length_penalty));
  option("coverage_penalty", "--coverage-penalty", config.coverage_penalty,
         "g2p, translate: GNMT's coverage penalty beta in beam search (0: none)")
      ->check(range(limits::coverage_penalty));
  option("arch", "--arch", config.arch,
         "g2p, translate: stacked (--layers encoder layers, one decoder layer) or gnmt (Wu et al. 2016: --layers >= 2 a "
         "side, bidirectional bottom encoder layer, residuals from the third layer up)")
      ->check(CLI::IsMember(limits::architectures));
  option("subwords", "--subwords", config.subwords,
         "translate: SentencePiece pieces per language, trained on the training verses (0: whole words)")
      ->check(range(limits::subwords));
  option("subword_type", "--subword-type", config.subword_type, "translate: unigram or bpe subwords")
      ->check(CLI::IsMember(limits::subword_types));
  option("shared_subwords", "--shared-subwords", config.shared_subwords,
         "translate: true for one subword model over both languages");
  option("scenes", "--scenes", config.scenes, "caption: training scenes")->check(range(limits::scenes));
  option("encoder", "--encoder", config.encoder, "caption: start the CNN from a `fashion --model cnn` run folder")
      ->check(CLI::ExistingDirectory);
  train.options["freeze_encoder"] = command->add_flag(
      "--freeze-encoder", config.freeze_encoder, "caption: keep the --encoder CNN fixed (its features are computed once)");
  option("time_limit", "--time-limit", config.time_limit,
         "Minutes of training: stop after the epoch that passes them (0: no limit; translate: 120)")
      ->check(range(limits::time_limit));
  train.options["seed"] = loom::tools::add_seed_option(*command, config.seed);
  option("threads", "--threads", config.threads, "threads (GEMMs and the larger loops)")->check(range(limits::threads));
  return train;
}

// `loom train TASK`: the command line over the --config file over the task's defaults.
int train_run(const TrainCommand& train, RunConfig& config, const char* argv0) {
  refuse_mpirun_without_mpi();
  const Task& task = loom::tools::find_task(config.task, "train");
  std::vector<std::string> file_keys;
  if (!train.config_file.empty()) {
    const auto file = loom::tools::read_config_file(train.config_file);
    if (std::find(file.keys.begin(), file.keys.end(), "task") != file.keys.end())
      loom::tools::find_task(file.values.task, train.config_file);  // known, though TASK overrides it
    loom::tools::apply_config_file(file, config, [&](const std::string& key) { return train.given(key); });
    file_keys = file.keys;
  }
  loom::tools::apply_task_defaults(task, config, [&](const char* key) {
    return !train.given(key) && std::find(file_keys.begin(), file_keys.end(), key) == file_keys.end();
  });
  if (config.data_dir.empty()) try {
      config.data_dir = loom::tools::default_task_data_dir(task.name, task.data, task.fetch, loom::tools::data_search(argv0));
    } catch (const loom::IOError&) {
      if (!train.dump_config) throw;  // a dump of a task not yet fetched leaves it empty: training looks again
    }
  if (train.dump_config) {
    std::fputs(loom::tools::config_json(config).c_str(), stdout);
    return 0;
  }
  if (config.run_dir.empty()) config.run_dir = "runs/" + config.task;
  std::filesystem::create_directories(config.run_dir);
  // Rank 0 alone writes the run folder, so it alone holds it, until the process ends.
  std::optional<loom::tools::RunFolderLock> training;
  if (loom::tools::job().root()) training.emplace(config.run_dir, loom::tools::RunFolderLock::Mode::exclusive, "train");
  loom::set_num_threads(config.threads);
  config.progress = true;
  if (std::filesystem::exists(config.run_dir + "/last.safetensors")) {  // a resume: the same options only
    const auto changes = loom::tools::changed_options(loom::tools::load_config(config.run_dir), config);
    if (!changes.empty())
      throw loom::ValueError(fmt::format("{} holds a run trained with other options ({}); resume it with its "
                                         "own options or pass another --run-dir",
                                         config.run_dir, fmt::join(changes, ", ")));
  }
  if (loom::tools::job().root()) loom::tools::save_config(config);
  return task.train(config);
}

// `loom tasks`: each task, what it is, and where its data comes from.
int list_tasks() {
  for (const Task* task : loom::tools::all_tasks())
    fmt::print("{:<10} {}\n{:<10} data: {}\n", task->name, task->description, "",
               task->fetch.empty() ? "in the repository" : "bash scripts/fetch_data.sh " + task->fetch);
  return 0;
}

// `body` on the trained run in `run_dir` (eval, predict...): the folder locked against trainers,
// its config loaded and its task found, at the run's thread count.
int with_run(const std::string& command, const std::string& run_dir,
             const std::function<int(const Task&, const RunConfig&)>& body) {
  const loom::tools::RunFolderLock reading(run_dir, loom::tools::RunFolderLock::Mode::shared, command);
  const auto saved = loom::tools::load_config(run_dir);
  const Task& task = loom::tools::find_task(saved.task, run_dir + "/config.json");
  loom::set_num_threads(saved.threads);
  return body(task, saved);
}

// `--int8` on eval and the inference commands: run the saved float model quantized.
constexpr const char* kInt8Help = "Run the model in int8 (weights and activations quantized dynamically, as "
                                  "torch's quantize_dynamic): faster, within a fraction of a point";

RunConfig with_int8(RunConfig config, bool int8) {
  config.int8 = int8;
  return config;
}

int eval_run(const std::string& run_dir, bool int8) {
  return with_run("eval", run_dir, [&](const Task& task, const RunConfig& saved) {
    if (!task.eval)
      throw loom::ValueError(fmt::format("eval: a {} run keeps its held-out figures, final, in {}/metrics.json",
                                         task.name, run_dir));
    return task.eval(with_int8(saved, int8));
  });
}

// A subcommand that runs a trained model, and what runs it once its arguments are parsed.
struct Inference {
  const loom::tools::InferenceCommand* command;
  CLI::App* subcommand;
  loom::tools::Runner run;
};

// The names of the tasks whose runs `command` reads: "sentiment or spam".
std::string tasks_of(const loom::tools::InferenceCommand* command) {
  std::vector<std::string> names;
  for (const Task* task : loom::tools::all_tasks())
    if (task->inference == command) names.push_back(task->name);
  return fmt::format("{}", fmt::join(names, " or "));
}

std::vector<Inference> add_inference_commands(CLI::App& app, std::string& run_dir, bool& int8) {
  std::vector<Inference> commands;
  for (const Task* task : loom::tools::all_tasks()) {
    const auto* command = task->inference;
    const bool added = std::any_of(commands.begin(), commands.end(), [&](const Inference& c) { return c.command == command; });
    if (!command || added) continue;
    CLI::App* subcommand = app.add_subcommand(command->name, command->description);
    subcommand->add_option("run_dir", run_dir, fmt::format("A {} run folder", tasks_of(command)))->required();
    subcommand->add_flag("--int8", int8, kInt8Help);
    commands.push_back({command, subcommand, command->declare(*subcommand)});
  }
  return commands;
}

int infer(const Inference& inference, const std::string& run_dir, bool int8) {
  const std::string& name = inference.command->name;
  if (!std::filesystem::is_directory(run_dir))
    throw loom::IOError(fmt::format("{}: the run folder '{}' does not exist", name, run_dir));
  return with_run(name, run_dir, [&](const Task& task, const RunConfig& saved) {
    if (task.inference != inference.command)
      throw loom::ValueError(fmt::format("{} needs a {} run; {} is a {} run", name, tasks_of(inference.command), run_dir,
                                         task.name));
    return inference.run(with_int8(saved, int8));
  });
}

}  // namespace

int main(int argc, char** argv) {
#ifdef LOOM_HAVE_DISTRIBUTED
  loom::distributed::Environment mpi(argc, argv);  // MPI under mpirun: `mpirun -np N loom train TASK`
#endif
  CLI::App app{"loom: train and run recurrent networks"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("loom {}{}", LOOM_VERSION_STRING,
                                                *LOOM_GIT_COMMIT ? fmt::format(" (commit {})", LOOM_GIT_COMMIT) : ""));
  RunConfig config;
  const TrainCommand train_command = add_train_command(app, config);
  CLI::App* tasks = app.add_subcommand("tasks", "List the tasks: what each is and where its data comes from");
  std::string run_dir;
  CLI::App* eval_command = app.add_subcommand("eval", "Recompute the held-out figures of a run");
  eval_command->add_option("run_dir", run_dir, "A run folder written by `loom train`")
      ->required()
      ->check(CLI::ExistingDirectory);
  bool int8 = false;
  eval_command->add_flag("--int8", int8, std::string(kInt8Help) + "; the figures go to metrics_int8.json");
  const auto inference_commands = add_inference_commands(app, run_dir, int8);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    if (*tasks) return list_tasks();
    if (*train_command.command) return train_run(train_command, config, argv[0]);
    if (*eval_command) return eval_run(run_dir, int8);
    for (const auto& inference : inference_commands)
      if (*inference.subcommand) return infer(inference, run_dir, int8);
    throw loom::ValueError("no command to run");  // require_subcommand(1) leaves none unhandled
  } catch (const loom::ResourceError& e) {
    return leave_out_of_memory(e.what());
  } catch (const std::bad_alloc&) {
    return leave_out_of_memory(fmt::format("out of memory{}", loom::address_space_note()).c_str());
  } catch (const std::exception& e) {  // loom::Error and everything else
    return fail(e.what());
  }
}
