#pragma once
/// Connectionist temporal classification (Graves et al., 2006): the loss of unsegmented label
/// sequences under per-frame class scores, and two decoders of such scores.
///
///     auto log_probs = loom::log_softmax(scores, 2);              // (T, B, C)
///     auto loss = loom::ctc_loss(log_probs, targets, input_lengths, target_lengths);
///     loss.backward();
///     auto best = loom::ctc_beam_search(log_probs.detach(), input_lengths);  // best[b][0].labels
#include <cstdint>
#include <vector>

#include "loom/ops.h"

namespace loom {

struct CtcLossOptions {
  std::int64_t blank = 0;
  /// Mean divides each sequence's loss by its target length (1 for an empty target), then
  /// averages over the batch: PyTorch's definition.
  Reduction reduction = Reduction::Mean;
  /// A sequence no alignment can produce (a target longer than its input, or a repeated label,
  /// which needs a blank between its copies: "aa" needs 3 frames) has an infinite loss; with
  /// zero_infinity its loss and gradient are 0. As PyTorch: no error, so that one bad pair in a
  /// batch does not stop training.
  bool zero_infinity = false;
  CtcLossOptions& set_blank(std::int64_t v) { blank = v; return *this; }
  CtcLossOptions& set_reduction(Reduction v) { reduction = v; return *this; }
  CtcLossOptions& set_zero_infinity(bool v) { zero_infinity = v; return *this; }
};

/// -log p(target | log_probs), summed over every alignment by the forward-backward recursions in
/// log space, as torch.nn.functional.ctc_loss.
///   log_probs:      (T, B, C) float32 or float64, normally log_softmax over C
///   targets:        int64, padded (B, S) with S >= every target length, or the targets
///                   concatenated (sum of target lengths); labels in [0, C), never `blank`
///   input_lengths:  (B) frames of each sequence, in [1, T]
///   target_lengths: (B) labels of each target, >= 0 (longer than the input: infinite loss)
/// The gradient is d loss / d log_probs itself (minus the posterior of each class at each frame;
/// zero past a sequence's input length). PyTorch returns softmax(log_probs) minus that posterior
/// instead, the gradient with respect to the scores that went into log_softmax; composed with
/// log_softmax, both give the same gradient to those scores. An infinite loss has a NaN gradient
/// (as in PyTorch) unless zero_infinity. Each sequence is computed by one thread, so results do
/// not depend on the thread count.
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, const CtcLossOptions& options = {});
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets,
                const std::vector<std::int64_t>& input_lengths,
                const std::vector<std::int64_t>& target_lengths,
                const CtcLossOptions& options = {});

/// A decoded label sequence (blanks removed, repeats merged) and its log-probability: of the one
/// best alignment for the greedy decoder, of all alignments the beam kept for beam search.
struct CtcHypothesis {
  std::vector<std::int64_t> labels;
  double log_prob = 0.0;
};

/// Best path: the most likely class of each frame, repeats merged, blanks removed. log_probs
/// (T, B, C) as for ctc_loss; one hypothesis per sequence.
std::vector<CtcHypothesis> ctc_greedy_decode(const Tensor& log_probs,
                                             const std::vector<std::int64_t>& input_lengths,
                                             std::int64_t blank = 0);

struct CtcBeamSearchOptions {
  std::int64_t beam_width = 8;
  std::int64_t blank = 0;
  CtcBeamSearchOptions& set_beam_width(std::int64_t v) { beam_width = v; return *this; }
  CtcBeamSearchOptions& set_blank(std::int64_t v) { blank = v; return *this; }
};

/// Prefix beam search: keeps the beam_width most likely label prefixes at each frame, each
/// scored by the sum over its alignments (ending in a blank or not), so a sequence spread over
/// many alignments can beat the single best path. Per sequence, up to beam_width hypotheses,
/// most likely first (ties: the lexicographically smaller labels first).
std::vector<std::vector<CtcHypothesis>> ctc_beam_search(
    const Tensor& log_probs, const std::vector<std::int64_t>& input_lengths,
    const CtcBeamSearchOptions& options = {});

/// The labels of each sequence's best hypothesis: the greedy best path when beam_width is 1,
/// else prefix beam search's first hypothesis (what a recogniser prints).
std::vector<std::vector<std::int64_t>> ctc_best_labels(const Tensor& log_probs,
                                                       const std::vector<std::int64_t>& input_lengths,
                                                       std::int64_t beam_width, std::int64_t blank = 0);

}  // namespace loom
