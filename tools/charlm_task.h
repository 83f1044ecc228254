#pragma once
// The charlm task of the loom program: training, and `loom generate`.
#include <cstdint>
#include <string>

#include "run_config.h"

namespace loom::tools {

struct GenerateOptions {
  std::string prefix = "The ";
  std::int64_t length = 300;
  double temperature = 0.8;
  std::int64_t top_k = 0;
  std::uint64_t seed = 0;
};

/// Trains, keeps the epoch of lowest validation perplexity, writes metrics.json and report.html
/// (with samples); returns the exit code.
int train_charlm(const RunConfig& config);
/// Prints `length` characters generated after the prefix.
int generate(const RunConfig& config, const GenerateOptions& options);

struct Task;
/// The task, for the task registry: train_charlm, and `loom generate RUN_DIR`.
const Task& charlm_task();

}  // namespace loom::tools
