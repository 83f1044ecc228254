#pragma once
/// Greedy and beam-search decoding over any step-by-step decoder: an encoder-decoder (Seq2Seq),
/// an image captioner, a language model. The decoder implements `step` (the next token's
/// log-probabilities for N rows, given the last token of each), `last_attention` (that step's
/// attention weights, if it has any) and `select_rows` (keep, reorder or repeat rows of its
/// state); the searches do the rest, batched over sentences.
///
///     auto decoder = model.decoder(source_ids, source_lengths);   // a DecoderStep for B sentences
///     auto best = loom::models::beam_search(*decoder, B, loom::models::DecodeOptions()
///                                                          .beam_size(5).max_length(30));
///     best[0].tokens;     // sentence 0's ids, without <bos> and <eos>
///     best[0].attention;  // one row of attention weights per output step (with <eos>)
#include <cstdint>
#include <string>
#include <vector>

#include "loom/options.h"
#include "loom/tensor.h"

namespace loom::models {

/// One step of a decoder over N rows (N sentences, or sentences times beams).
class DecoderStep {
 public:
  virtual ~DecoderStep() = default;
  /// tokens: int64 (N), the last token of each row. Returns log-probabilities (N, V) of the
  /// next token and advances every row's state by one step.
  virtual Tensor step(const Tensor& tokens) = 0;
  /// The attention weights (N, S) of the last step, or an undefined tensor for a decoder
  /// without attention.
  virtual Tensor last_attention() const = 0;
  /// Keeps the state rows `rows` (int64 (M)), in that order: M may differ from N, and a row may
  /// appear more than once (beam search starts by repeating each sentence beam_size times).
  virtual void select_rows(const Tensor& rows) = 0;
};

struct DecodeOptions {
  LOOM_ARG(std::int64_t, bos_id, 2)
  LOOM_ARG(std::int64_t, eos_id, 3)
  /// Output steps at most, <eos> included; a hypothesis still open then ends there.
  LOOM_ARG(std::int64_t, max_length, 50)
  LOOM_ARG(std::int64_t, beam_size, 5)
  /// Length normalisation: hypotheses are ranked by log P / lp(length) (length counts <eos>), with
  /// lp = length^length_penalty ("power") or GNMT's lp = (5 + length)^length_penalty / 6^length_penalty
  /// ("gnmt", Wu et al. 2016); a length_penalty of 0 ranks by log P alone, which favours short outputs.
  LOOM_ARG(double, length_penalty, 1.0)
  /// "power" or "gnmt".
  LOOM_ARG(std::string, length_normalization, "power")
  /// GNMT's coverage penalty beta: the score gains beta * sum_i log(min(sum_t a_ti, 1)) over the
  /// source positions i, a_ti being output step t's attention on i, which rewards outputs whose
  /// attention has covered the whole source. Positions that no step attended at all (source
  /// padding) are left out. 0: none; a decoder without attention ignores it.
  LOOM_ARG(double, coverage_penalty, 0.0)
};


struct Hypothesis {
  std::vector<std::int64_t> tokens;  ///< without <bos> and <eos>
  double log_prob = 0.0;             ///< of the tokens and the <eos> (if one was produced)
  double score = 0.0;                ///< hypothesis_score: what was ranked
  bool finished = false;             ///< ended with <eos> (rather than at max_length)
  /// Attention weights of each output step (<eos> included), each a row of S values; empty when
  /// the decoder has no attention.
  std::vector<std::vector<double>> attention;
};

/// The score a hypothesis is ranked by: log_prob / lp(length) + cp (see DecodeOptions), from its
/// log_prob, its tokens (and <eos> when finished) and its attention rows. ValueError for options
/// beam_search refuses.
double hypothesis_score(const Hypothesis& hypothesis, const DecodeOptions& options);

/// The most likely token at every step, for `batch` sentences at once (the decoder holds
/// `batch` rows), until every sentence has produced <eos> or max_length steps. One hypothesis
/// per sentence. ValueError for batch < 1 or max_length < 1.
std::vector<Hypothesis> greedy_decode(DecoderStep& decoder, std::int64_t batch,
                                      const DecodeOptions& options = {});

/// Beam search: each sentence keeps the beam_size best open hypotheses (by log P); a candidate
/// ending in <eos> is finished, scored and kept aside. A sentence stops at max_length (its open
/// hypotheses are finished as they are) or earlier: without length normalisation and coverage
/// penalty once the best open hypothesis is below the best finished one (it can only lose
/// probability), with either once beam_size have finished and the best open one, scored as it
/// stands, is behind the best finished. Returns the best hypothesis of each sentence by score. The decoder holds `batch` rows on entry (its rows are
/// repeated to batch * beam_size). Beam size 1 gives greedy_decode's result. ValueError for batch,
/// beam_size or max_length < 1, a negative length_penalty or coverage_penalty, or an unknown
/// length_normalization.
std::vector<Hypothesis> beam_search(DecoderStep& decoder, std::int64_t batch,
                                    const DecodeOptions& options = {});

}  // namespace loom::models
