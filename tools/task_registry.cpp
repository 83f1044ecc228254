#include "task_registry.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <memory>

#include "caption_task.h"
#include "handwriting_task.h"
#include "speech_task.h"
#include "charlm_task.h"
#include "dense_task.h"
#include "g2p_task.h"
#include "loom/errors.h"
#include "text_task.h"
#include "translate_task.h"

namespace loom::tools {

const std::vector<const Task*>& all_tasks() {
  static const std::vector<const Task*> tasks{&sentiment_task(), &spam_task(),   &fashion_task(),   &sp500_task(),
                                              &charlm_task(),    &g2p_task(),    &caption_task(),   &translate_task(),
                                              &handwriting_task(), &speech_task()};
  return tasks;
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const Task* task : all_tasks()) names.push_back(task->name);
  return names;
}

const Task& find_task(const std::string& name, const std::string& where) {
  for (const Task* task : all_tasks())
    if (task->name == name) return *task;
  throw ValueError(fmt::format("{}: expected task to be one of {}, got '{}'", where, fmt::join(task_names(), ", "), name));
}

void apply_task_defaults(const Task& task, RunConfig& config, const IsUnset& unset) {
  const auto& models = task.models;
  const bool chosen = std::find(models.begin(), models.end(), config.model) != models.end();
  // A task without a model choice saves the field's default, which a --config file may give back.
  if (!unset("model") && (models.empty() ? config.model != RunConfig{}.model : !chosen))
    throw ValueError(models.empty()
                         ? fmt::format("--model: {} has no model choice, got '{}'", task.name, config.model)
                         : fmt::format("--model: {} expects {}, got '{}'", task.name, fmt::join(models, " or "), config.model));
  task.apply_defaults(config, unset);
}

InferenceCommand inputs_command(std::string name, std::string description, std::string inputs,
                                std::string inputs_help, bool required,
                                std::function<int(const RunConfig&, const std::vector<std::string>&)> run) {
  return {std::move(name), std::move(description),
          [=](CLI::App& command) -> Runner {
            auto values = std::make_shared<std::vector<std::string>>();
            command.add_option(inputs, *values, inputs_help)->required(required);
            return [values, run](const RunConfig& config) { return run(config, *values); };
          }};
}

CLI::Option* add_seed_option(CLI::App& command, std::uint64_t& seed) {
  const CLI::Validator unsigned_64([](const std::string& text) {
    std::uint64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size()) return std::string();
    return fmt::format("expected an integer in [0, {}], got '{}'", std::numeric_limits<std::uint64_t>::max(), text);
  }, "");
  return command.add_option("--seed", seed, "Random seed (0 to 2^64 - 1)")->check(unsigned_64);
}

}  // namespace loom::tools
