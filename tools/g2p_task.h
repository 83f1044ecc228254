#pragma once
// The g2p task of the loom program: grapheme-to-phoneme conversion on the CMU dictionary with an
// attentional Seq2Seq (`loom train g2p`, `loom eval`, `loom pronounce`).
#include <string>
#include <vector>

#include "run_config.h"

namespace loom::tools {

/// Trains, keeps the epoch of lowest validation word error rate (greedy decoding), decodes the
/// test words with beam search, writes metrics.json and report.html; returns the exit code.
int train_g2p(const RunConfig& config);
/// Recomputes the test figures of a g2p run and updates metrics.json.
int eval_g2p(const RunConfig& config);
/// Prints each word and its phones. ValueError (one line) for no words, an empty word or a
/// character the model has not seen.
int pronounce(const RunConfig& config, const std::vector<std::string>& words);

struct Task;
/// The task, for the task registry: train_g2p, eval_g2p, and `loom pronounce RUN_DIR WORD...`.
const Task& g2p_task();

}  // namespace loom::tools
