#pragma once
// What the Seq2Seq tasks of the loom program (g2p, translate) share: the model from the run's
// options, batched greedy or beam decoding, and the pieces of their reports.
#include <cstdint>
#include <string>
#include <vector>

#include "loom/models/seq2seq.h"
#include "report.h"
#include "run_config.h"

namespace loom::tools {

/// An attentional Seq2Seq with the config's architecture, cell, sizes, layers (for "gnmt", on each
/// side), direction, dropout and attention.
models::Seq2Seq make_seq2seq(const RunConfig& config, std::int64_t source_vocab_size, std::int64_t target_vocab_size);

/// Decodes every source (greedy for beam 1, else beam search ranked by the config's length
/// normalisation and coverage penalty) in batches of similar lengths, in eval mode and without
/// gradients; one hypothesis per source, in the sources' order. Each may run to 2 * its batch's
/// longest source + 5 steps.
std::vector<models::Hypothesis> decode_all(models::Seq2Seq& model, const std::vector<std::vector<std::int64_t>>& sources,
                                           const RunConfig& config, std::int64_t beam);

/// The report's title: "loom TASK: RUN_DIR (bigru x2, luong attention)".
std::string seq2seq_title(const RunConfig& config);

/// Tokens joined by single spaces.
std::string join_tokens(const std::vector<std::string>& tokens);

/// The attention of one decoded example: a column per source token, a row per output token
/// (with <eos> when the hypothesis produced one).
report::Heatmap attention_heatmap(std::string title, std::vector<std::string> source,
                                  std::vector<std::string> output, const models::Hypothesis& hypothesis);

}  // namespace loom::tools
