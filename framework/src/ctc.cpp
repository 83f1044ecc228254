// CTC loss and decoders. The loss runs the forward (alpha) recursion over the extended target
// (blank, l1, blank, l2, ..., blank) in log space, in double whatever the input dtype, and keeps
// the alphas for the backward, which runs the beta recursion and turns alpha * beta into each
// class's posterior. Sequences are independent: each is computed by one thread.
#include "loom/ctc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <utility>

#include "detail/kernels.h"

namespace loom {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// log(exp(a) + exp(b)), -inf when both are (where the plain formula gives NaN).
double log_add(double a, double b) {
  if (a < b) std::swap(a, b);
  if (a == kNegInf) return a;
  return a + std::log1p(std::exp(b - a));
}

// Checks log_probs (T, B, C), the input lengths and the blank, shared by the loss and decoders.
void check_log_probs(const char* op, const Tensor& log_probs,
                     const std::vector<std::int64_t>& input_lengths, std::int64_t blank) {
  detail::check_floating(op, log_probs);
  if (log_probs.dim() != 3)
    throw ShapeError(fmt::format("{}: expected log_probs of shape (T, B, C), got {}", op,
                                 shape_str(log_probs.shape())));
  const std::int64_t time = log_probs.size(0), batch = log_probs.size(1),
                     classes = log_probs.size(2);
  if (time == 0 || batch == 0)
    throw ValueError(fmt::format("{}: expected at least one frame and one sequence, got "
                                 "log_probs {}", op, shape_str(log_probs.shape())));
  if (blank < 0 || blank >= classes)
    throw IndexError(fmt::format("{}: blank {} is out of range for {} classes", op, blank, classes));
  if (static_cast<std::int64_t>(input_lengths.size()) != batch)
    throw ShapeError(fmt::format("{}: expected {} input lengths for log_probs {}, got {}", op,
                                 batch, shape_str(log_probs.shape()), input_lengths.size()));
  for (std::size_t b = 0; b < input_lengths.size(); ++b)
    if (input_lengths[b] < 1 || input_lengths[b] > time)
      throw ValueError(fmt::format("{}: input length {} of sequence {} is out of range [1, {}]", op,
                                   input_lengths[b], b, time));
}

std::vector<std::int64_t> lengths_of(const char* what, const Tensor& lengths) {
  detail::check_index_tensor("ctc_loss", lengths);
  if (lengths.dim() != 1)
    throw ShapeError(fmt::format("ctc_loss: expected {} of shape (B), got {}", what,
                                 shape_str(lengths.shape())));
  return lengths.to_vector<std::int64_t>();
}

// The validated targets: sequence b's labels are labels[offsets[b] .. offsets[b] + lengths[b]).
struct CtcTargets {
  std::vector<std::int64_t> labels;
  std::vector<std::int64_t> offsets;
  std::vector<std::int64_t> lengths;
  std::int64_t longest = 0;
};

CtcTargets check_targets(const Tensor& targets, const std::vector<std::int64_t>& input_lengths,
                         const std::vector<std::int64_t>& target_lengths, std::int64_t classes,
                         std::int64_t blank) {
  detail::check_index_tensor("ctc_loss", targets);
  const std::size_t batch = input_lengths.size();
  if (target_lengths.size() != batch)
    throw ShapeError(fmt::format("ctc_loss: expected {} target lengths (one per sequence), got {}",
                                 batch, target_lengths.size()));
  CtcTargets out{targets.to_vector<std::int64_t>(), {}, target_lengths, 0};
  for (std::size_t b = 0; b < batch; ++b) {
    if (target_lengths[b] < 0)
      throw ValueError(fmt::format("ctc_loss: target length {} of sequence {} is negative",
                                   target_lengths[b], b));
    out.longest = std::max(out.longest, target_lengths[b]);
  }
  const std::int64_t total = std::accumulate(target_lengths.begin(), target_lengths.end(), std::int64_t{0});
  if (targets.dim() == 2) {
    if (targets.size(0) != static_cast<std::int64_t>(batch) || targets.size(1) < out.longest)
      throw ShapeError(fmt::format("ctc_loss: expected padded targets of shape ({}, S) with S >= "
                                   "the longest target length {}, got {}", batch, out.longest,
                                   shape_str(targets.shape())));
    for (std::size_t b = 0; b < batch; ++b) out.offsets.push_back(static_cast<std::int64_t>(b) * targets.size(1));
  } else if (targets.dim() == 1) {
    if (targets.numel() != total)
      throw ShapeError(fmt::format("ctc_loss: expected concatenated targets of shape ({},) (the "
                                   "sum of the target lengths), got {}", total,
                                   shape_str(targets.shape())));
    out.offsets.push_back(0);
    for (std::size_t b = 0; b + 1 < batch; ++b) out.offsets.push_back(out.offsets.back() + target_lengths[b]);
  } else {
    throw ShapeError(fmt::format("ctc_loss: expected targets padded (B, S) or concatenated (N,), "
                                 "got {}", shape_str(targets.shape())));
  }
  for (std::size_t b = 0; b < batch; ++b)
    for (std::int64_t i = 0; i < target_lengths[b]; ++i) {
      const std::int64_t label = out.labels[static_cast<std::size_t>(out.offsets[b] + i)];
      if (label < 0 || label >= classes)
        throw IndexError(fmt::format("ctc_loss: label {} at position {} of target {} is out of "
                                     "range for {} classes", label, i, b, classes));
      if (label == blank)
        throw ValueError(fmt::format("ctc_loss: label {} at position {} of target {} is the "
                                     "blank", label, i, b));
    }
  return out;
}

// One sequence's view of the problem: frame t's log-probabilities and the extended target
// l'(s), s in [0, 2L + 1): blanks at even s, the labels at odd s.
template <class T>
struct Sequence {
  const T* log_probs;  // frame t of this sequence at log_probs[t * frame_stride]
  std::int64_t frame_stride;
  const std::int64_t* labels;
  std::int64_t frames, states;
  std::int64_t blank;

  std::int64_t label(std::int64_t s) const { return s % 2 == 0 ? blank : labels[s / 2]; }
  double emission(std::int64_t t, std::int64_t s) const {
    return static_cast<double>(log_probs[t * frame_stride + label(s)]);
  }
  // Whether a path may go straight from state s - 2 to s: from one label to the next, when they
  // differ (equal labels need the blank between them).
  bool can_skip(std::int64_t s) const { return s % 2 == 1 && s >= 2 && label(s) != label(s - 2); }

  // Fills alpha (frames, states) and returns log p(target).
  double forward(double* alpha) const {
    std::fill(alpha, alpha + states, kNegInf);
    alpha[0] = emission(0, 0);
    if (states > 1) alpha[1] = emission(0, 1);
    for (std::int64_t t = 1; t < frames; ++t) {
      const double* previous = alpha + (t - 1) * states;
      double* current = alpha + t * states;
      for (std::int64_t s = 0; s < states; ++s) {
        double reach = previous[s];
        if (s >= 1) reach = log_add(reach, previous[s - 1]);
        if (can_skip(s)) reach = log_add(reach, previous[s - 2]);
        current[s] = reach == kNegInf ? kNegInf : reach + emission(t, s);
      }
    }
    const double* last = alpha + (frames - 1) * states;
    return states > 1 ? log_add(last[states - 1], last[states - 2]) : last[0];
  }

  // Adds scale * d(-log p) / d log_probs into grad (same layout as log_probs): minus the
  // posterior of each class at each frame, exp(alpha + beta - log p), where beta(t, s) is the
  // log-probability of finishing from state s at frame t, frame t's emission excluded.
  void backward(const double* alpha, double log_likelihood, double scale, T* grad) const {
    std::vector<double> beta(static_cast<std::size_t>(states), kNegInf), next_beta(beta.size());
    beta[static_cast<std::size_t>(states - 1)] = 0.0;
    if (states > 1) beta[static_cast<std::size_t>(states - 2)] = 0.0;
    for (std::int64_t t = frames - 1; t >= 0; --t) {
      const double* alpha_t = alpha + t * states;
      T* grad_t = grad + t * frame_stride;
      for (std::int64_t s = 0; s < states; ++s) {
        const double log_posterior = alpha_t[s] + beta[s] - log_likelihood;
        if (log_posterior != kNegInf)
          grad_t[label(s)] -= static_cast<T>(scale * std::exp(log_posterior));
      }
      if (t == 0) break;
      // beta(t - 1, s) sums over the states s may move to at frame t, with their emissions
      for (std::int64_t s = 0; s < states; ++s) {
        const auto through = [&](std::int64_t next) {
          return beta[next] == kNegInf ? kNegInf : beta[next] + emission(t, next);
        };
        double reach = through(s);
        if (s + 1 < states) reach = log_add(reach, through(s + 1));
        if (s + 2 < states && can_skip(s + 2)) reach = log_add(reach, through(s + 2));
        next_beta[s] = reach;
      }
      std::swap(beta, next_beta);
    }
  }
};

template <class T>
Sequence<T> sequence(const Tensor& log_probs, const CtcTargets& targets,
                     const std::vector<std::int64_t>& input_lengths, std::int64_t b,
                     std::int64_t blank) {
  const std::int64_t batch = log_probs.size(1), classes = log_probs.size(2);
  return {log_probs.data<T>() + b * classes, batch * classes,
          targets.labels.data() + targets.offsets[b], input_lengths[b],
          2 * targets.lengths[b] + 1, blank};
}

}  // namespace

Tensor ctc_loss(const Tensor& log_probs_view, const Tensor& targets_view,
                const std::vector<std::int64_t>& input_lengths,
                const std::vector<std::int64_t>& target_lengths, const CtcLossOptions& options) {
  const Tensor log_probs = detail::dense(log_probs_view), targets = detail::dense(targets_view);  // the kernel walks the storage row-major
  check_log_probs("ctc_loss", log_probs, input_lengths, options.blank);
  const CtcTargets checked = check_targets(targets, input_lengths, target_lengths,
                                           log_probs.size(2), options.blank);
  const std::int64_t time = log_probs.size(0), batch = log_probs.size(1);
  const std::int64_t max_states = 2 * checked.longest + 1;
  Tensor scores = log_probs.detach();
  Tensor alphas = empty({batch, time, max_states}, Dtype::Float64);  // kept for the backward
  std::vector<double> log_likelihoods(static_cast<std::size_t>(batch));
  Tensor per_sequence = empty({batch}, log_probs.dtype());
  detail::dispatch_floating("ctc_loss", log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* loss = per_sequence.data<T>();
    detail::parallel_rows(batch, time * max_states, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t b = begin; b < end; ++b) {
        const Sequence<T> seq = sequence<T>(scores, checked, input_lengths, b, options.blank);
        log_likelihoods[b] = seq.forward(alphas.data<double>() + b * time * max_states);
        const bool infeasible = log_likelihoods[b] == kNegInf;
        loss[b] = infeasible && options.zero_infinity ? T(0) : static_cast<T>(-log_likelihoods[b]);
      }
    });
  });
  record_op(per_sequence, "ctc_loss", {log_probs},
            [scores, alphas, log_likelihoods, checked, input_lengths, options, time, batch,
             max_states](const Tensor& g) {
    Tensor grad = zeros(scores.shape(), scores.dtype());
    detail::dispatch_floating("ctc_loss", scores.dtype(), [&](auto tag) {
      using T = decltype(tag);
      const T* upstream = g.data<T>();
      detail::parallel_rows(batch, time * max_states, [&](std::int64_t begin, std::int64_t end) {
        for (std::int64_t b = begin; b < end; ++b) {
          const Sequence<T> seq = sequence<T>(scores, checked, input_lengths, b, options.blank);
          T* grad_b = grad.data<T>() + b * scores.size(2);
          if (log_likelihoods[b] != kNegInf) {
            seq.backward(alphas.data<double>() + b * time * max_states, log_likelihoods[b],
                         static_cast<double>(upstream[b]), grad_b);
          } else if (!options.zero_infinity) {  // the gradient of an infinite loss is undefined
            for (std::int64_t t = 0; t < seq.frames; ++t)
              std::fill(grad_b + t * seq.frame_stride, grad_b + t * seq.frame_stride + scores.size(2),
                        std::numeric_limits<T>::quiet_NaN());
          }
        }
      });
    });
    return std::vector<Tensor>{grad};
  });
  switch (options.reduction) {
    case Reduction::None: return per_sequence;
    case Reduction::Sum: return sum(per_sequence);
    case Reduction::Mean: break;
  }
  std::vector<double> divisors(target_lengths.begin(), target_lengths.end());
  for (double& d : divisors) d = std::max(d, 1.0);
  return mean(per_sequence / from_vector(divisors).to(per_sequence.dtype()));
}

Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, const CtcLossOptions& options) {
  return ctc_loss(log_probs, targets, lengths_of("input_lengths", input_lengths),
                  lengths_of("target_lengths", target_lengths), options);
}

std::vector<CtcHypothesis> ctc_greedy_decode(const Tensor& log_probs_view,
                                             const std::vector<std::int64_t>& input_lengths,
                                             std::int64_t blank) {
  const Tensor log_probs = detail::dense(log_probs_view);  // the kernel walks the storage row-major
  check_log_probs("ctc_greedy_decode", log_probs, input_lengths, blank);
  const std::int64_t batch = log_probs.size(1), classes = log_probs.size(2);
  std::vector<CtcHypothesis> decoded(static_cast<std::size_t>(batch));
  detail::dispatch_floating("ctc_greedy_decode", log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t b = 0; b < batch; ++b) {
      CtcHypothesis& hypothesis = decoded[static_cast<std::size_t>(b)];
      std::int64_t previous = blank;
      for (std::int64_t t = 0; t < input_lengths[b]; ++t) {
        const T* frame = log_probs.data<T>() + (t * batch + b) * classes;
        const std::int64_t best = std::max_element(frame, frame + classes) - frame;
        hypothesis.log_prob += static_cast<double>(frame[best]);
        if (best != blank && best != previous) hypothesis.labels.push_back(best);
        previous = best;
      }
    }
  });
  return decoded;
}

namespace {

// A prefix's probability split by how its alignments end: in a blank, or in its last label
// (which a repeat of that label then merges with).
struct PrefixScore {
  double blank = kNegInf;
  double label = kNegInf;
  double total() const { return log_add(blank, label); }
};

using Beam = std::map<std::vector<std::int64_t>, PrefixScore>;

// The possible hypotheses of a beam, most likely first (ties: smaller labels first), at most
// `width`. (A repeat with no blank before it enters the beam with probability 0.)
std::vector<CtcHypothesis> best_of(const Beam& beam, std::int64_t width) {
  std::vector<CtcHypothesis> ranked;
  for (const auto& [labels, score] : beam)
    if (score.total() != kNegInf) ranked.push_back({labels, score.total()});
  std::stable_sort(ranked.begin(), ranked.end(), [](const CtcHypothesis& a, const CtcHypothesis& b) {
    return a.log_prob > b.log_prob;  // the map's order already has the labels ascending
  });
  if (static_cast<std::int64_t>(ranked.size()) > width) ranked.resize(static_cast<std::size_t>(width));
  return ranked;
}

template <class T>
std::vector<CtcHypothesis> beam_search(const T* log_probs, std::int64_t frame_stride,
                                       std::int64_t frames, std::int64_t classes,
                                       const CtcBeamSearchOptions& options) {
  Beam beam;
  beam[{}].blank = 0.0;
  for (std::int64_t t = 0; t < frames; ++t) {
    const T* frame = log_probs + t * frame_stride;
    Beam next;
    for (const CtcHypothesis& kept : best_of(beam, options.beam_width)) {
      const PrefixScore& score = beam.at(kept.labels);
      PrefixScore& same = next[kept.labels];
      same.blank = log_add(same.blank, kept.log_prob + static_cast<double>(frame[options.blank]));
      for (std::int64_t c = 0; c < classes; ++c) {
        if (c == options.blank) continue;
        const double emission = static_cast<double>(frame[c]);
        std::vector<std::int64_t> extended = kept.labels;
        extended.push_back(c);
        PrefixScore& longer = next[extended];
        if (!kept.labels.empty() && kept.labels.back() == c) {
          // a repeat extends the prefix only after a blank; otherwise it merges into the last label
          longer.label = log_add(longer.label, score.blank + emission);
          same.label = log_add(same.label, score.label + emission);
        } else {
          longer.label = log_add(longer.label, kept.log_prob + emission);
        }
      }
    }
    beam = std::move(next);
  }
  return best_of(beam, options.beam_width);
}

}  // namespace

std::vector<std::vector<CtcHypothesis>> ctc_beam_search(
    const Tensor& log_probs_view, const std::vector<std::int64_t>& input_lengths,
    const CtcBeamSearchOptions& options) {
  const Tensor log_probs = detail::dense(log_probs_view);  // the kernel walks the storage row-major
  check_log_probs("ctc_beam_search", log_probs, input_lengths, options.blank);
  if (options.beam_width < 1)
    throw ValueError(fmt::format("ctc_beam_search: beam_width must be at least 1, got {}",
                                 options.beam_width));
  const std::int64_t batch = log_probs.size(1), classes = log_probs.size(2);
  std::vector<std::vector<CtcHypothesis>> decoded(static_cast<std::size_t>(batch));
  detail::dispatch_floating("ctc_beam_search", log_probs.dtype(), [&](auto tag) {
    using T = decltype(tag);
    detail::parallel_rows(batch, log_probs.size(0) * classes * options.beam_width,
                          [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t b = begin; b < end; ++b)
        decoded[static_cast<std::size_t>(b)] =
            beam_search(log_probs.data<T>() + b * classes, batch * classes, input_lengths[b],
                        classes, options);
    });
  });
  return decoded;
}

std::vector<std::vector<std::int64_t>> ctc_best_labels(const Tensor& log_probs,
                                                       const std::vector<std::int64_t>& input_lengths,
                                                       std::int64_t beam_width, std::int64_t blank) {
  std::vector<std::vector<std::int64_t>> best;
  if (beam_width == 1) {
    for (auto& hypothesis : ctc_greedy_decode(log_probs, input_lengths, blank)) best.push_back(std::move(hypothesis.labels));
    return best;
  }
  const auto options = CtcBeamSearchOptions().set_beam_width(beam_width).set_blank(blank);
  for (auto& hypotheses : ctc_beam_search(log_probs, input_lengths, options))
    best.push_back(hypotheses.empty() ? std::vector<std::int64_t>{} : std::move(hypotheses.front().labels));
  return best;
}

}  // namespace loom
