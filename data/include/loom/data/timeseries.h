#pragma once
/// Time series for forecasting: windows of past values paired with the values that follow, and
/// standardisation fitted on the training part only, so no statistic leaks from held-out days.
///
///     auto close = loom::data::read_csv_column("sp500.csv", "close");
///     const std::size_t split = close.size() * 8 / 10;
///     loom::data::Standardizer scaler;
///     scaler.fit({close.begin(), close.begin() + split});                  // training days only
///     auto train = loom::data::sliding_windows(scaler.transform({close.begin(), close.begin() + split}), 30, 1);
///     auto prediction = scaler.inverse_transform(model.forward(train.x));  // back in prices
#include <cstdint>
#include <string>
#include <vector>

#include "loom/tensor.h"

namespace loom::data {

/// The closes of a CSV of daily prices with a header naming the columns `date` and `close`
/// (others are ignored), one trading day per row: dates YYYY-MM-DD and strictly increasing,
/// closes finite and above zero. Anything else is an IOError naming the file and line.
std::vector<double> read_daily_closes(const std::string& path);

struct Windows {
  Tensor x;  // (N, window, 1) float32: series[i .. i+window)
  Tensor y;  // (N, horizon) float32: series[i+window .. i+window+horizon)
};

/// Every window of `window` values with the `horizon` values that follow it:
/// N = series.size() - window - horizon + 1 (ValueError when that is < 1). Window i predicts
/// from series[i + window] on: to hold out the values from index `split` on with full windows
/// of context, window the whole (standardised) series and test on the windows with
/// i + window >= split.
Windows sliding_windows(const std::vector<double>& series, std::int64_t window, std::int64_t horizon);

/// (x - mean) / std with the mean and (population) standard deviation of the data it was fitted on.
class Standardizer {
 public:
  Standardizer() = default;
  Standardizer(double mean, double std);  ///< e.g. restored from a saved run

  /// ValueError on an empty or constant series.
  void fit(const std::vector<double>& values);
  std::vector<double> transform(const std::vector<double>& values) const;
  std::vector<double> inverse_transform(const std::vector<double>& values) const;
  /// The same on a floating-point tensor of any shape (differentiable).
  Tensor transform(const Tensor& values) const;
  Tensor inverse_transform(const Tensor& values) const;

  double mean() const { return mean_; }
  double std() const { return std_; }
  bool fitted() const { return fitted_; }

 private:
  void check_fitted(const char* function) const;

  double mean_ = 0.0;
  double std_ = 1.0;
  bool fitted_ = false;
};

}  // namespace loom::data
