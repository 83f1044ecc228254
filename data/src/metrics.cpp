#include "loom/data/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <unordered_map>

#include "loom/data/utf8.h"

#include "loom/errors.h"

namespace loom::data {
namespace {

template <class T, class U>
void check_pair(const char* function, const std::vector<T>& predicted, const std::vector<U>& target) {
  if (predicted.size() != target.size())
    throw ValueError(fmt::format("{}: expected as many predictions as targets, got {} and {}", function,
                                 predicted.size(), target.size()));
  if (target.empty()) throw ValueError(fmt::format("{}: expected at least one target, got none", function));
}

void check_tensors(const char* function, const Tensor& predicted, const Tensor& target, bool floating) {
  if (predicted.shape() != target.shape())
    throw ShapeError(fmt::format("{}: expected predictions and targets of one shape, got {} and {}",
                                 function, shape_str(predicted.shape()), shape_str(target.shape())));
  const bool ok = floating ? predicted.is_floating_point() && target.is_floating_point()
                           : predicted.dtype() == Dtype::Int64 && target.dtype() == Dtype::Int64;
  if (!ok)
    throw DtypeError(fmt::format("{}: expected {} tensors, got {} and {}", function,
                                 floating ? "floating-point" : "int64", dtype_name(predicted.dtype()),
                                 dtype_name(target.dtype())));
}

double ratio(double numerator, double denominator) { return denominator == 0.0 ? 0.0 : numerator / denominator; }

ClassScores scores(std::int64_t true_positives, std::int64_t false_positives,
                   std::int64_t false_negatives) {
  ClassScores s;
  s.precision = ratio(double(true_positives), double(true_positives + false_positives));
  s.recall = ratio(double(true_positives), double(true_positives + false_negatives));
  s.f1 = ratio(2.0 * s.precision * s.recall, s.precision + s.recall);
  s.support = true_positives + false_negatives;
  return s;
}

}  // namespace

double accuracy(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& target,
                std::int64_t ignore) {
  check_pair("accuracy", predicted, target);
  std::int64_t counted = 0, correct = 0;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == ignore) continue;
    ++counted;
    correct += predicted[i] == target[i];
  }
  if (counted == 0) throw ValueError("accuracy: expected at least one target that is not ignored, got none");
  return double(correct) / double(counted);
}

double accuracy(const Tensor& predicted, const Tensor& target, std::int64_t ignore) {
  check_tensors("accuracy", predicted, target, false);
  return accuracy(predicted.to_vector<std::int64_t>(), target.to_vector<std::int64_t>(), ignore);
}

std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int64_t>& predicted,
                                                        const std::vector<std::int64_t>& target,
                                                        std::int64_t num_classes, std::int64_t ignore) {
  check_pair("confusion_matrix", predicted, target);
  if (num_classes < 1)
    throw ValueError(fmt::format("confusion_matrix: expected num_classes >= 1, got {}", num_classes));
  std::vector<std::vector<std::int64_t>> counts(static_cast<std::size_t>(num_classes),
                                                std::vector<std::int64_t>(static_cast<std::size_t>(num_classes)));
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == ignore) continue;
    for (std::int64_t c : {target[i], predicted[i]})
      if (c < 0 || c >= num_classes)
        throw IndexError(fmt::format("confusion_matrix: expected classes in [0, {}), got {} at position {}",
                                     num_classes, c, i));
    ++counts[static_cast<std::size_t>(target[i])][static_cast<std::size_t>(predicted[i])];
  }
  return counts;
}

ClassificationReport classification_report(const std::vector<std::int64_t>& predicted,
                                           const std::vector<std::int64_t>& target,
                                           std::int64_t num_classes, std::int64_t ignore) {
  ClassificationReport report;
  report.confusion = confusion_matrix(predicted, target, num_classes, ignore);
  report.accuracy = accuracy(predicted, target, ignore);
  const auto n = static_cast<std::size_t>(num_classes);
  for (std::size_t c = 0; c < n; ++c) {
    std::int64_t predicted_as_c = 0, actually_c = 0;
    for (std::size_t k = 0; k < n; ++k) {
      predicted_as_c += report.confusion[k][c];
      actually_c += report.confusion[c][k];
    }
    const std::int64_t hits = report.confusion[c][c];
    report.classes.push_back(scores(hits, predicted_as_c - hits, actually_c - hits));
    report.macro_precision += report.classes.back().precision / double(n);
    report.macro_recall += report.classes.back().recall / double(n);
    report.macro_f1 += report.classes.back().f1 / double(n);
  }
  return report;
}

ClassScores binary_scores(const std::vector<std::int64_t>& predicted,
                          const std::vector<std::int64_t>& target, std::int64_t positive_class) {
  check_pair("binary_scores", predicted, target);
  std::int64_t true_positives = 0, false_positives = 0, false_negatives = 0;
  for (std::size_t i = 0; i < target.size(); ++i) {
    const bool p = predicted[i] == positive_class, t = target[i] == positive_class;
    true_positives += p && t;
    false_positives += p && !t;
    false_negatives += !p && t;
  }
  return scores(true_positives, false_positives, false_negatives);
}

double rmse(const std::vector<double>& predicted, const std::vector<double>& target) {
  check_pair("rmse", predicted, target);
  double sum = 0.0;
  for (std::size_t i = 0; i < target.size(); ++i) sum += (predicted[i] - target[i]) * (predicted[i] - target[i]);
  return std::sqrt(sum / double(target.size()));
}

double mae(const std::vector<double>& predicted, const std::vector<double>& target) {
  check_pair("mae", predicted, target);
  double sum = 0.0;
  for (std::size_t i = 0; i < target.size(); ++i) sum += std::abs(predicted[i] - target[i]);
  return sum / double(target.size());
}

double mape(const std::vector<double>& predicted, const std::vector<double>& target) {
  check_pair("mape", predicted, target);
  double sum = 0.0;
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0.0)
      throw ValueError(fmt::format("mape: expected non-zero targets, got 0 at position {}", i));
    sum += std::abs((predicted[i] - target[i]) / target[i]);
  }
  return 100.0 * sum / double(target.size());
}

double rmse(const Tensor& predicted, const Tensor& target) {
  check_tensors("rmse", predicted, target, true);
  return rmse(predicted.to_vector<double>(), target.to_vector<double>());
}

double mae(const Tensor& predicted, const Tensor& target) {
  check_tensors("mae", predicted, target, true);
  return mae(predicted.to_vector<double>(), target.to_vector<double>());
}

double mape(const Tensor& predicted, const Tensor& target) {
  check_tensors("mape", predicted, target, true);
  return mape(predicted.to_vector<double>(), target.to_vector<double>());
}

double perplexity(double mean_nll) {
  if (!(mean_nll >= 0.0) || !std::isfinite(mean_nll))
    throw ValueError(fmt::format("perplexity: expected a finite mean negative log-likelihood >= 0, got {}", mean_nll));
  return std::exp(mean_nll);
}

namespace {

template <class T>
std::int64_t levenshtein(const std::vector<T>& a, const std::vector<T>& b) {
  std::vector<std::int64_t> previous(b.size() + 1), current(b.size() + 1);  // one row of the table
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = static_cast<std::int64_t>(j);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = static_cast<std::int64_t>(i);
    for (std::size_t j = 1; j <= b.size(); ++j)
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(previous, current);
  }
  return previous[b.size()];
}

using NgramCounts = std::map<Tokens, std::int64_t>;

NgramCounts ngrams(const Tokens& tokens, std::size_t n) {
  NgramCounts counts;
  for (std::size_t i = 0; i + n <= tokens.size(); ++i) ++counts[Tokens(tokens.begin() + i, tokens.begin() + i + n)];
  return counts;
}

}  // namespace

std::int64_t edit_distance(const Tokens& a, const Tokens& b) { return levenshtein(a, b); }
std::int64_t edit_distance(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b) {
  return levenshtein(a, b);
}

namespace {
// Over words (Tokens) or ids (IdSequence): the two overloads below share these.
template <class Sequence>
double token_error_rate_of(const std::vector<Sequence>& hypotheses, const std::vector<Sequence>& references) {
  check_pair("token_error_rate", hypotheses, references);
  std::int64_t errors = 0, reference_tokens = 0;
  for (std::size_t i = 0; i < references.size(); ++i) {
    errors += edit_distance(hypotheses[i], references[i]);
    reference_tokens += static_cast<std::int64_t>(references[i].size());
  }
  if (reference_tokens == 0)
    throw ValueError("token_error_rate: expected at least one reference token, got only empty references");
  return static_cast<double>(errors) / static_cast<double>(reference_tokens);
}

template <class Sequence>
double exact_match_of(const std::vector<Sequence>& hypotheses, const std::vector<Sequence>& references) {
  check_pair("exact_match", hypotheses, references);
  std::size_t same = 0;
  for (std::size_t i = 0; i < references.size(); ++i) same += hypotheses[i] == references[i];
  return static_cast<double>(same) / static_cast<double>(references.size());
}
}  // namespace

double token_error_rate(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references) {
  return token_error_rate_of(hypotheses, references);
}
double token_error_rate(const std::vector<IdSequence>& hypotheses, const std::vector<IdSequence>& references) {
  return token_error_rate_of(hypotheses, references);
}
double exact_match(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references) {
  return exact_match_of(hypotheses, references);
}
double exact_match(const std::vector<IdSequence>& hypotheses, const std::vector<IdSequence>& references) {
  return exact_match_of(hypotheses, references);
}

namespace {

// Corpus BLEU; with exp_smoothing, an order without matches counts 1 / (2^k * its n-grams), k
// the number of such orders so far (sacreBLEU's default "exp", NIST's smoothing).
BleuScore bleu(const char* function, const std::vector<Tokens>& hypotheses,
               const std::vector<std::vector<Tokens>>& references, int max_order, bool exp_smoothing) {
  check_pair(function, hypotheses, references);
  if (max_order < 1 || max_order > 4)
    throw ValueError(fmt::format("{}: expected max_order in [1, 4], got {}", function, max_order));
  std::array<std::int64_t, 4> matches{}, totals{};
  BleuScore result;
  for (std::size_t i = 0; i < hypotheses.size(); ++i) {
    const Tokens& hypothesis = hypotheses[i];
    if (references[i].empty())
      throw ValueError(fmt::format("{}: hypothesis {} has no reference", function, i));
    const auto hypothesis_length = static_cast<std::int64_t>(hypothesis.size());
    std::int64_t closest = static_cast<std::int64_t>(references[i][0].size());
    for (const auto& reference : references[i]) {
      const auto length = static_cast<std::int64_t>(reference.size());
      const auto gap = std::abs(length - hypothesis_length), best_gap = std::abs(closest - hypothesis_length);
      if (gap < best_gap || (gap == best_gap && length < closest)) closest = length;
    }
    result.hypothesis_length += hypothesis_length;
    result.reference_length += closest;
    for (int n = 1; n <= max_order; ++n) {
      NgramCounts most;  // per n-gram, the most any one reference holds: the clip
      for (const auto& reference : references[i])
        for (const auto& [gram, count] : ngrams(reference, static_cast<std::size_t>(n)))
          most[gram] = std::max(most[gram], count);
      for (const auto& [gram, count] : ngrams(hypothesis, static_cast<std::size_t>(n))) {
        const auto clip = most.find(gram);
        matches[n - 1] += std::min(count, clip == most.end() ? 0 : clip->second);
        totals[n - 1] += count;
      }
    }
  }
  double log_sum = 0.0, smoothing = 1.0;
  bool any_zero = false;
  for (int n = 0; n < max_order; ++n) {
    result.precisions[n] = totals[n] ? static_cast<double>(matches[n]) / static_cast<double>(totals[n]) : 0.0;
    if (matches[n] > 0) {
      log_sum += std::log(result.precisions[n]);
    } else if (exp_smoothing && totals[n] > 0) {
      smoothing *= 2.0;
      log_sum += std::log(1.0 / (smoothing * static_cast<double>(totals[n])));
    } else {
      any_zero = true;
    }
  }
  const auto c = static_cast<double>(result.hypothesis_length), r = static_cast<double>(result.reference_length);
  result.brevity_penalty = c == 0.0 ? 0.0 : c < r ? std::exp(1.0 - r / c) : 1.0;
  result.score = any_zero ? 0.0 : result.brevity_penalty * std::exp(log_sum / max_order);
  return result;
}

std::vector<std::vector<Tokens>> one_reference_each(const std::vector<Tokens>& references) {
  std::vector<std::vector<Tokens>> wrapped;
  wrapped.reserve(references.size());
  for (const auto& reference : references) wrapped.push_back({reference});
  return wrapped;
}

}  // namespace

BleuScore corpus_bleu(const std::vector<Tokens>& hypotheses, const std::vector<std::vector<Tokens>>& references,
                      int max_order) {
  return bleu("corpus_bleu", hypotheses, references, max_order, false);
}

BleuScore corpus_bleu(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references, int max_order) {
  return corpus_bleu(hypotheses, one_reference_each(references), max_order);
}

namespace {

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
    text.replace(at, from.size(), to);
}

// The code points of a valid UTF-8 string, whitespace (ASCII) left out.
std::vector<std::string> characters_without_spaces(const char* function, const std::string& text) {
  const std::size_t bad = first_invalid_utf8(text);
  if (bad != std::string::npos)
    throw ValueError(fmt::format("{}: expected UTF-8 text, got an invalid byte at offset {}", function, bad));
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t length = utf8_sequence_length(text, at);
    if (!std::isspace(static_cast<unsigned char>(text[at]))) out.push_back(text.substr(at, length));
    at += length;
  }
  return out;
}

// Per order n = 1..max_order: {hypothesis n-grams, reference n-grams, clipped matches}.
using ChrfCounts = std::vector<std::array<std::int64_t, 3>>;

void add_chrf_counts(const std::vector<std::string>& hypothesis, const std::vector<std::string>& reference,
                     ChrfCounts& counts) {
  for (std::size_t n = 1; n <= counts.size(); ++n) {
    std::unordered_map<std::string, std::int64_t> in_reference;
    for (std::size_t i = 0; i + n <= reference.size(); ++i) {
      std::string gram;
      for (std::size_t k = i; k < i + n; ++k) gram += reference[k];
      ++in_reference[gram];
    }
    auto& count = counts[n - 1];
    count[0] += static_cast<std::int64_t>(hypothesis.size() >= n ? hypothesis.size() - n + 1 : 0);
    count[1] += static_cast<std::int64_t>(reference.size() >= n ? reference.size() - n + 1 : 0);
    for (std::size_t i = 0; i + n <= hypothesis.size(); ++i) {
      std::string gram;
      for (std::size_t k = i; k < i + n; ++k) gram += hypothesis[k];
      const auto found = in_reference.find(gram);
      if (found != in_reference.end() && found->second > 0) --found->second, ++count[2];  // clipped
    }
  }
}

}  // namespace

Tokens tokenize_13a(const std::string& line) {
  std::string text = line;
  replace_all(text, "<skipped>", "");
  replace_all(text, "-\n", "");
  replace_all(text, "\n", " ");
  replace_all(text, "&quot;", "\"");
  replace_all(text, "&amp;", "&");
  replace_all(text, "&lt;", "<");
  replace_all(text, "&gt;", ">");
  text = " " + text + " ";
  // mteval-v13a's language-dependent rules, in its order (each a left-to-right, non-overlapping pass).
  static const std::regex symbols(R"(([{-~\[-` -&(-+:-@/]))"), period_after(R"(([^0-9])([\.,]))"),
      period_before(R"(([\.,])([^0-9]))"), dash_after_digit(R"(([0-9])(-))");
  text = std::regex_replace(text, symbols, " $1 ");
  text = std::regex_replace(text, period_after, "$1 $2 ");
  text = std::regex_replace(text, period_before, " $1 $2");
  text = std::regex_replace(text, dash_after_digit, "$1 $2 ");
  Tokens tokens;
  std::string token;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!token.empty()) tokens.push_back(std::move(token)), token.clear();
    } else {
      token += c;
    }
  }
  if (!token.empty()) tokens.push_back(std::move(token));
  return tokens;
}

BleuScore corpus_bleu_13a(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references) {
  check_pair("corpus_bleu_13a", hypotheses, references);
  std::vector<Tokens> hypothesis_tokens, reference_tokens;
  for (const auto& h : hypotheses) hypothesis_tokens.push_back(tokenize_13a(h));
  for (const auto& r : references) reference_tokens.push_back(tokenize_13a(r));
  return bleu("corpus_bleu_13a", hypothesis_tokens, one_reference_each(reference_tokens), 4, true);
}

double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                   int max_order, double beta) {
  check_pair("corpus_chrf", hypotheses, references);
  if (max_order < 1) throw ValueError(fmt::format("corpus_chrf: expected max_order >= 1, got {}", max_order));
  if (!(beta > 0.0)) throw ValueError(fmt::format("corpus_chrf: expected beta > 0, got {}", beta));
  ChrfCounts counts(static_cast<std::size_t>(max_order), {0, 0, 0});
  for (std::size_t i = 0; i < hypotheses.size(); ++i)
    add_chrf_counts(characters_without_spaces("corpus_chrf", hypotheses[i]),
                    characters_without_spaces("corpus_chrf", references[i]), counts);
  double precision = 0.0, recall = 0.0;
  int orders = 0;  // those both sides have n-grams of
  for (const auto& [hypothesis_grams, reference_grams, matches] : counts) {
    if (hypothesis_grams == 0 || reference_grams == 0) continue;
    precision += static_cast<double>(matches) / static_cast<double>(hypothesis_grams);
    recall += static_cast<double>(matches) / static_cast<double>(reference_grams);
    ++orders;
  }
  if (orders == 0 || precision + recall == 0.0) return 0.0;
  precision /= orders;
  recall /= orders;
  const double beta2 = beta * beta;
  return (1 + beta2) * precision * recall / (beta2 * precision + recall);
}

}  // namespace loom::data
