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
#include <cstdint>
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

}  // namespace loom::data
