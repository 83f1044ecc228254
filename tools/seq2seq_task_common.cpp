#include "seq2seq_task_common.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "loom/data.h"
#include "loom/loom.h"

namespace loom::tools {

namespace {
constexpr std::size_t kDecodeBatch = 256;  // sources per decoder call (times the beam in beam search)
}  // namespace

models::Seq2Seq make_seq2seq(const RunConfig& c, std::int64_t source_vocab_size, std::int64_t target_vocab_size) {
  return models::Seq2Seq(models::Seq2SeqOptions(source_vocab_size, target_vocab_size)
                             .embedding_dim(c.embedding_dim)
                             .cell(c.cell)
                             .hidden_size(c.hidden)
                             .architecture(c.arch)
                             .encoder_layers(c.layers)
                             .decoder_layers(c.arch == "gnmt" ? c.layers : 1)
                             .bidirectional(c.bidirectional)
                             .dropout(c.dropout)
                             .attention(c.attention));
}

std::vector<models::Hypothesis> decode_all(models::Seq2Seq& model, const std::vector<std::vector<std::int64_t>>& sources,
                                           const RunConfig& config, std::int64_t beam) {
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  // Sorted by length (stable, so ties keep their order), a batch pads little.
  std::vector<std::size_t> order(sources.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return sources[a].size() < sources[b].size(); });
  std::vector<models::Hypothesis> out(sources.size());
  for (std::size_t start = 0; start < order.size(); start += kDecodeBatch) {
    const std::size_t end = std::min(order.size(), start + kDecodeBatch);
    std::vector<std::vector<std::int64_t>> chunk;
    for (std::size_t i = start; i < end; ++i) chunk.push_back(sources[order[i]]);
    const auto padded = data::pad(chunk);  // ids (B, S)
    auto decoder = model.decoder(padded.ids, padded.lengths);
    const auto options = models::DecodeOptions()
                             .beam_size(beam)
                             .max_length(2 * padded.ids.size(1) + 5)
                             .length_normalization(config.length_normalization)
                             .length_penalty(config.length_penalty)
                             .coverage_penalty(config.coverage_penalty);
    const auto batch = static_cast<std::int64_t>(chunk.size());
    auto hypotheses = beam == 1 ? models::greedy_decode(*decoder, batch, options)
                                : models::beam_search(*decoder, batch, options);
    for (std::size_t i = start; i < end; ++i) out[order[i]] = std::move(hypotheses[i - start]);
  }
  model.train(was_training);
  return out;
}

std::string seq2seq_title(const RunConfig& config) {
  if (config.arch == "gnmt")
    return fmt::format("loom {}: {} (GNMT {} x{} a side, {} attention)", config.task, config.run_dir, config.cell,
                       config.layers, config.attention);
  return fmt::format("loom {}: {} ({}{} x{}, {} attention)", config.task, config.run_dir, config.bidirectional ? "bi" : "",
                     config.cell, config.layers, config.attention);
}

std::string join_tokens(const std::vector<std::string>& tokens) {
  std::string out;
  for (const auto& t : tokens) out += (out.empty() ? "" : " ") + t;
  return out;
}

report::Heatmap attention_heatmap(std::string title, std::vector<std::string> source, std::vector<std::string> output,
                                  const models::Hypothesis& hypothesis) {
  if (hypothesis.finished) output.push_back("<eos>");
  return {std::move(title), std::move(source), std::move(output), hypothesis.attention};
}

}  // namespace loom::tools
