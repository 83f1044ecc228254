// Greedy and beam-search decoding over a DecoderStep. The searches run on the host over the
// log-probabilities of each step (a few thousand numbers), and tell the decoder which state rows
// to keep with select_rows, so the same code serves every decoder.
#include "loom/models/decoding.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "loom/autograd.h"
#include "loom/errors.h"
#include "loom/ops.h"

namespace loom::models {

namespace {

constexpr double kMinusInfinity = -std::numeric_limits<double>::infinity();

void check_scoring(const char* function, const DecodeOptions& o) {
  if (!(o.length_penalty() >= 0.0))
    throw ValueError(
        fmt::format("{}: length_penalty must be >= 0, got {}", function, o.length_penalty()));
  if (!(o.coverage_penalty() >= 0.0))
    throw ValueError(
        fmt::format("{}: coverage_penalty must be >= 0, got {}", function, o.coverage_penalty()));
  if (o.length_normalization() != "power" && o.length_normalization() != "gnmt")
    throw ValueError(fmt::format("{}: length_normalization must be \"power\" or \"gnmt\", got \"{}\"",
                                 function, o.length_normalization()));
}

double length_normalizer(double length, const DecodeOptions& o) {
  const double alpha = o.length_penalty();
  if (o.length_normalization() == "gnmt") return std::pow((5.0 + length) / 6.0, alpha);
  return std::pow(std::max(length, 1.0), alpha);
}

// beta * sum_i log(min(coverage_i, 1)) over the source positions some step attended.
double coverage_bonus(const std::vector<std::vector<double>>& attention, double beta) {
  if (beta == 0.0 || attention.empty()) return 0.0;
  std::vector<double> coverage(attention.front().size(), 0.0);
  for (const auto& row : attention)
    for (std::size_t i = 0; i < row.size(); ++i) coverage[i] += row[i];
  double sum = 0.0;
  for (double c : coverage)
    if (c > 0.0) sum += std::log(std::min(c, 1.0));
  return beta * sum;
}

void check_options(const char* function, std::int64_t batch, const DecodeOptions& o) {
  if (batch < 1)
    throw ValueError(
        fmt::format("{}: expected at least one sentence, got batch {}", function, batch));
  if (o.max_length() < 1)
    throw ValueError(fmt::format("{}: max_length must be >= 1, got {}", function, o.max_length()));
  if (o.beam_size() < 1)
    throw ValueError(fmt::format("{}: beam_size must be >= 1, got {}", function, o.beam_size()));
  check_scoring(function, o);
}

// Whether a score can only fall as a hypothesis grows: log P alone, without normalisation or
// coverage.
bool ranks_by_log_prob(const DecodeOptions& o) {
  return o.length_penalty() == 0.0 && o.coverage_penalty() == 0.0;
}

// One step's outputs on the host: log-probabilities (N, V) and attention (N, S) or empty.
struct StepValues {
  std::vector<double> log_probs, attention;
  std::int64_t vocab = 0, sources = 0;
  std::vector<double> attention_row(std::int64_t row) const {
    if (attention.empty()) return {};
    return {attention.begin() + row * sources, attention.begin() + (row + 1) * sources};
  }
};

StepValues run_step(DecoderStep& decoder, const std::vector<std::int64_t>& tokens) {
  const Tensor log_probs =
      decoder.step(from_vector(tokens, {static_cast<std::int64_t>(tokens.size())}));  // (N, V)
  StepValues values{log_probs.to_vector<double>(), {}, log_probs.size(1), 0};
  const Tensor attention = decoder.last_attention();  // (N, S) or undefined
  if (attention.defined())
    values.attention = attention.to_vector<double>(), values.sources = attention.size(1);
  return values;
}

}  // namespace

double hypothesis_score(const Hypothesis& h, const DecodeOptions& options) {
  check_scoring("hypothesis_score", options);
  const auto length = static_cast<double>(h.tokens.size() + (h.finished ? 1 : 0));
  const double normalized = options.length_penalty() == 0.0
                                ? h.log_prob
                                : h.log_prob / length_normalizer(length, options);
  return normalized + coverage_bonus(h.attention, options.coverage_penalty());
}

std::vector<Hypothesis> greedy_decode(DecoderStep& decoder, std::int64_t batch,
                                      const DecodeOptions& options) {
  check_options("greedy_decode", batch, DecodeOptions(options).beam_size(1));
  NoGradGuard no_grad;
  std::vector<Hypothesis> out(static_cast<std::size_t>(batch));
  std::vector<std::int64_t> last(static_cast<std::size_t>(batch), options.bos_id());
  std::int64_t open = batch;
  for (std::int64_t t = 0; t < options.max_length() && open > 0; ++t) {
    const auto values = run_step(decoder, last);
    for (std::int64_t b = 0; b < batch; ++b) {
      Hypothesis& h = out[b];
      if (h.finished) continue;
      const double* row = values.log_probs.data() + b * values.vocab;
      const auto best = std::max_element(row, row + values.vocab) - row;  // the lowest id on a tie
      h.log_prob += row[best];
      if (!values.attention.empty()) h.attention.push_back(values.attention_row(b));
      if (best == options.eos_id())
        h.finished = true, --open;
      else
        h.tokens.push_back(best);
      last[b] = best;
    }
  }
  for (auto& h : out) h.score = hypothesis_score(h, options);
  return out;
}

std::vector<Hypothesis> beam_search(DecoderStep& decoder, std::int64_t batch,
                                    const DecodeOptions& options) {
  check_options("beam_search", batch, options);
  NoGradGuard no_grad;
  const std::int64_t beams = options.beam_size(), rows = batch * beams;
  // Row b * beams + k holds beam k of sentence b; at the start only beam 0 is open, so the
  // first step does not pick the same token beams times.
  std::vector<std::int64_t> repeat(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r) repeat[r] = r / beams;
  decoder.select_rows(from_vector(repeat, {rows}));
  std::vector<Hypothesis> open(static_cast<std::size_t>(rows));
  for (std::int64_t r = 0; r < rows; ++r)
    if (r % beams) open[r].log_prob = kMinusInfinity;
  std::vector<std::vector<Hypothesis>> finished(static_cast<std::size_t>(batch));
  std::vector<bool> done(static_cast<std::size_t>(batch), false);
  std::vector<std::int64_t> last(static_cast<std::size_t>(rows), options.bos_id());

  for (std::int64_t t = 0; t < options.max_length(); ++t) {
    const auto values = run_step(decoder, last);
    const std::int64_t vocab = values.vocab;
    std::vector<std::int64_t> parents(static_cast<std::size_t>(rows));
    std::vector<Hypothesis> next(static_cast<std::size_t>(rows));
    for (std::int64_t b = 0; b < batch; ++b) {
      const std::int64_t first = b * beams;
      std::int64_t kept = 0;
      if (!done[b]) {
        // Candidates (beam k, token v) of this sentence, best cumulative log P first (ties: the
        // lower beam, then the lower id). 2 * beams suffice: at most beams of them end in <eos>.
        std::vector<std::int64_t> candidates;
        for (std::int64_t k = 0; k < beams; ++k)
          if (open[first + k].log_prob > kMinusInfinity)
            for (std::int64_t v = 0; v < vocab; ++v) candidates.push_back(k * vocab + v);
        auto total = [&](std::int64_t c) {
          return open[first + c / vocab].log_prob +
                 values.log_probs[(first + c / vocab) * vocab + c % vocab];
        };
        const auto considered =
            std::min<std::size_t>(candidates.size(), static_cast<std::size_t>(2 * beams));
        std::partial_sort(candidates.begin(),
                          candidates.begin() + static_cast<std::ptrdiff_t>(considered),
                          candidates.end(), [&](std::int64_t x, std::int64_t y) {
                            const double tx = total(x), ty = total(y);
                            return tx != ty ? tx > ty : x < y;
                          });
        for (std::size_t i = 0; i < considered && kept < beams; ++i) {
          const std::int64_t k = candidates[i] / vocab, v = candidates[i] % vocab,
                             parent = first + k;
          Hypothesis h = open[parent];
          h.log_prob = total(candidates[i]);
          if (!values.attention.empty()) h.attention.push_back(values.attention_row(parent));
          if (v == options.eos_id()) {
            if (static_cast<std::int64_t>(i) >= beams) continue;  // only the top beams may finish
            h.finished = true;
            h.score = hypothesis_score(h, options);
            finished[b].push_back(std::move(h));
            continue;
          }
          h.tokens.push_back(v);
          parents[first + kept] = parent;
          next[first + kept] = std::move(h);
          last[first + kept] = v;
          ++kept;
        }
      }
      for (std::int64_t k = kept; k < beams; ++k) {  // empty slots: a closed copy of any row
        parents[first + k] = first;
        next[first + k].log_prob = kMinusInfinity;
        last[first + k] = options.eos_id();
      }
      if (done[b]) continue;
      const bool at_end = t + 1 == options.max_length();
      if (at_end || kept == 0) {
        for (std::int64_t k = 0; k < kept; ++k) {  // still open at max_length: finished as they are
          next[first + k].score = hypothesis_score(next[first + k], options);
          finished[b].push_back(next[first + k]);
        }
        done[b] = true;
      } else if (!finished[b].empty()) {
        double best_finished = kMinusInfinity;
        for (const auto& h : finished[b]) best_finished = std::max(best_finished, h.score);
        // Slot 0 holds the best open hypothesis. Ranked by log P alone, a longer one only loses
        // probability, so once it is below the best finished one nothing can overtake it. With
        // normalisation or coverage that is not certain; stop once beam_size have finished and
        // the best open one, scored as it stands, is behind.
        if (ranks_by_log_prob(options))
          done[b] = next[first].log_prob <= best_finished;
        else
          done[b] = static_cast<std::int64_t>(finished[b].size()) >= beams &&
                    hypothesis_score(next[first], options) <= best_finished;
      }
      if (done[b])
        for (std::int64_t k = 0; k < beams; ++k) next[first + k].log_prob = kMinusInfinity;
    }
    open = std::move(next);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    decoder.select_rows(from_vector(parents, {rows}));
  }

  std::vector<Hypothesis> best(static_cast<std::size_t>(batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto& pool = finished[b];
    best[b] = *std::max_element(
        pool.begin(), pool.end(),
        [](const Hypothesis& x, const Hypothesis& y) { return x.score < y.score; });
  }
  return best;
}

}  // namespace loom::models
