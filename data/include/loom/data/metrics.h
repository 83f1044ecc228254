#pragma once
/// Evaluation metrics over predicted and true values, as plain functions.
///
///     double acc = loom::data::accuracy(loom::argmax(logits, -1), targets);   // int64 tensors
///     auto report = loom::data::classification_report(predicted, truth, 2);
///     report.f1[1];             // F1 of class 1;  report.macro_f1 over all classes
///     double rmse = loom::data::rmse(forecast, actual);
///
/// Conventions (as scikit-learn's): precision, recall or F1 with a zero denominator is 0;
/// MAPE is in percent.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "loom/tensor.h"

namespace loom::data {

/// Fraction of predictions equal to the target, over targets != ignore (padding in tagging).
double accuracy(const std::vector<std::int64_t>& predicted, const std::vector<std::int64_t>& target,
                std::int64_t ignore = -100);
/// The same on int64 tensors of one shape.
double accuracy(const Tensor& predicted, const Tensor& target, std::int64_t ignore = -100);

/// counts[true class][predicted class], (num_classes, num_classes). Entries whose target is
/// `ignore` are skipped; any other class outside [0, num_classes) is an IndexError.
std::vector<std::vector<std::int64_t>> confusion_matrix(const std::vector<std::int64_t>& predicted,
                                                        const std::vector<std::int64_t>& target,
                                                        std::int64_t num_classes,
                                                        std::int64_t ignore = -100);

struct ClassScores {
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  std::int64_t support = 0;  ///< how many targets are of this class
};

struct ClassificationReport {
  std::vector<ClassScores> classes;  ///< one per class
  double macro_precision = 0.0;      ///< unweighted means over the classes
  double macro_recall = 0.0;
  double macro_f1 = 0.0;
  double accuracy = 0.0;
  std::vector<std::vector<std::int64_t>> confusion;  ///< as confusion_matrix
};

ClassificationReport classification_report(const std::vector<std::int64_t>& predicted,
                                           const std::vector<std::int64_t>& target,
                                           std::int64_t num_classes, std::int64_t ignore = -100);
/// Precision, recall and F1 of one class against all others (e.g. spam = 1).
ClassScores binary_scores(const std::vector<std::int64_t>& predicted,
                          const std::vector<std::int64_t>& target, std::int64_t positive_class);

/// Root mean squared error.
double rmse(const std::vector<double>& predicted, const std::vector<double>& target);
/// Mean absolute error.
double mae(const std::vector<double>& predicted, const std::vector<double>& target);
/// Mean absolute percentage error, in percent; ValueError on a zero target.
double mape(const std::vector<double>& predicted, const std::vector<double>& target);
/// The same on floating-point tensors of one shape.
double rmse(const Tensor& predicted, const Tensor& target);
double mae(const Tensor& predicted, const Tensor& target);
double mape(const Tensor& predicted, const Tensor& target);

/// exp(mean negative log-likelihood per token), e.g. of cross_entropy's mean loss.
double perplexity(double mean_nll);

// ---- sequence metrics (translation, grapheme-to-phoneme, captions) ----------------------------
//
//     std::vector<std::vector<std::string>> hyp = {{"the", "cat", "sat"}};
//     std::vector<std::vector<std::string>> ref = {{"the", "cat", "sat", "down"}};
//     loom::data::corpus_bleu(hyp, ref).score;     // BLEU-4 in [0, 1]
//     loom::data::token_error_rate(hyp, ref);      // 0.25: one deletion over 4 reference tokens

using Tokens = std::vector<std::string>;
using IdSequence = std::vector<std::int64_t>;  ///< e.g. digits or label ids

/// Levenshtein distance: the fewest insertions, deletions and substitutions turning one token
/// sequence into the other.
std::int64_t edit_distance(const Tokens& a, const Tokens& b);
std::int64_t edit_distance(const IdSequence& a, const IdSequence& b);

/// Sum of edit distances over the sum of reference lengths: the phoneme error rate when tokens
/// are phonemes, the (speech-recognition) word error rate when tokens are words. Can exceed 1.
/// ValueError when the lists differ in size, are empty, or every reference is empty.
double token_error_rate(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references);
/// The same over id sequences: the character error rate of a recogniser that reads digits.
double token_error_rate(const std::vector<IdSequence>& hypotheses, const std::vector<IdSequence>& references);
/// The fraction of hypotheses equal to their reference, token for token. In grapheme-to-phoneme
/// conversion the word error rate is 1 - exact_match (a word is wrong if any phoneme is).
double exact_match(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references);
double exact_match(const std::vector<IdSequence>& hypotheses, const std::vector<IdSequence>& references);

struct BleuScore {
  double score = 0.0;                   ///< BLEU-max_order in [0, 1] (sacreBLEU prints 100x)
  std::array<double, 4> precisions{};   ///< clipped n-gram precisions, n = 1..4, corpus-wide
  double brevity_penalty = 0.0;
  std::int64_t hypothesis_length = 0;   ///< tokens over the corpus
  std::int64_t reference_length = 0;    ///< per sentence, the closest reference length
};

/// Corpus BLEU (Papineni et al. 2002) on pre-tokenised text, as sacreBLEU computes it with
/// tokenize="none": n-gram matches clipped by the most any one reference has, summed over the
/// corpus before dividing; score = BP * exp(mean over n = 1..max_order of log p_n), with
/// BP = exp(1 - r / c) when c < r (c hypothesis, r reference tokens; r from the reference whose
/// length is closest to each hypothesis, the shorter one on a tie). No smoothing: an order with
/// no match gives 0 (sacreBLEU's default "exp" smoothing differs only in that case).
/// `references[i]` holds one or more references of hypothesis i. max_order in [1, 4] gives
/// BLEU-1..BLEU-4. ValueError on mismatched or empty lists, or a hypothesis with no reference.
BleuScore corpus_bleu(const std::vector<Tokens>& hypotheses,
                      const std::vector<std::vector<Tokens>>& references, int max_order = 4);
/// The same with one reference per hypothesis.
BleuScore corpus_bleu(const std::vector<Tokens>& hypotheses, const std::vector<Tokens>& references,
                      int max_order = 4);

/// sacreBLEU's default tokenisation "13a" (the rules of WMT's mteval-v13a.pl) of one detokenised
/// line: the entities &quot; &amp; &lt; &gt; unescaped, <skipped> and hyphenated line breaks
/// removed; every ASCII symbol but . , - (that is { | } ~ [ \ ] ^ _ ` space ! " # $ % & ( ) * +
/// : ; < = > ? @ /) split off; a period or comma split off unless between two digits; a dash
/// split off after a digit. Letters of any script stay whole; ASCII whitespace separates tokens.
///     tokenize_13a("¿Quién dijo: \"3.5-4,0\"?")  // {"¿Quién", "dijo", ":", "\"", "3.5", "-", "4,0", "\"", "?"}
Tokens tokenize_13a(const std::string& line);
/// Corpus BLEU as the field reports it (sacreBLEU's defaults): corpus_bleu over tokenize_13a of
/// detokenised hypotheses and their one reference each, with sacreBLEU's "exp" smoothing: the k-th
/// order without a match counts 1 / (2^k * its n-gram count) instead of making the score 0, so an
/// early model's score still moves (`precisions` stay the unsmoothed ones). Same errors as corpus_bleu.
BleuScore corpus_bleu_13a(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references);

/// Corpus chrF (Popović 2015) as sacreBLEU computes it by default: character n-grams (n = 1 ..
/// max_order, code points, whitespace removed) of each hypothesis and its reference, matches
/// clipped per sentence and counted over the corpus; the precisions and recalls of the orders both
/// sides have averaged, then F_beta = (1 + beta^2) P R / (beta^2 P + R). In [0, 1] (sacreBLEU
/// prints 100x); 0 when nothing matches. ValueError on mismatched or empty lists, max_order < 1,
/// beta <= 0 or text that is not UTF-8.
double corpus_chrf(const std::vector<std::string>& hypotheses, const std::vector<std::string>& references,
                   int max_order = 6, double beta = 2.0);

}  // namespace loom::data
