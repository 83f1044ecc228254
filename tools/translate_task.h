#pragma once
// The translate task of the loom program: English -> Spanish Bible verses (World English Bible
// -> Reina-Valera 1909) with an attentional Seq2Seq over words (`loom train translate`,
// `loom eval`, `loom translate`).
#include <string>
#include <vector>

#include "run_config.h"

namespace loom::tools {

/// Trains (stopping at the config's time limit), keeps the epoch of highest validation BLEU
/// (greedy decoding), decodes every verse of the held-out test books with beam search, writes
/// metrics.json and report.html; returns the exit code.
int train_translate(const RunConfig& config);
/// Recomputes the test figures of a translate run and updates metrics.json.
int eval_translate(const RunConfig& config);
/// Prints the Spanish translation of each sentence, one a line. Unknown English words are read
/// as <unk> and named in one line on stderr; ValueError (one line) for no sentence or an empty one.
int translate_sentences(const RunConfig& config, const std::vector<std::string>& sentences);

struct Task;
/// The task, for the task registry: train_translate, eval_translate, and `loom translate RUN_DIR TEXT...`.
const Task& translate_task();

}  // namespace loom::tools
