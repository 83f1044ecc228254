#pragma once
// The text classification tasks of the loom program (sentiment, spam).
#include <string>
#include <vector>

#include "run_config.h"

namespace loom::tools {

struct Task;
/// The two tasks, for the task registry.
const Task& sentiment_task();
const Task& spam_task();

/// Trains, keeps the best epoch, writes metrics.json and report.html; returns the exit code.
int train_text(const RunConfig& config);
/// Recomputes the held-out figures of a run folder.
int eval_text(const RunConfig& config);
/// Classifies each input text and prints the label, its probability and the text.
int predict_text(const RunConfig& config, const std::vector<std::string>& inputs);

}  // namespace loom::tools
