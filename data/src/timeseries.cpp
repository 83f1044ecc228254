#include "loom/data/timeseries.h"

#include <fmt/format.h>

#include <cmath>

#include "loom/data/delimited.h"
#include "loom/data/fields.h"
#include "loom/errors.h"

namespace loom::data {

namespace {

// "2000-01-03": four digits, a month 01-12 and a day 01-31.
bool is_iso_date(const std::string& text) {
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (text[i] < '0' || text[i] > '9') return false;
  const int month = (text[5] - '0') * 10 + (text[6] - '0'), day = (text[8] - '0') * 10 + (text[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

}  // namespace

std::vector<double> read_daily_closes(const std::string& path) {
  const Table table = read_delimited(path, ',', true);
  const auto date = static_cast<std::size_t>(table.column("date"));
  const auto close = static_cast<std::size_t>(table.column("close"));
  std::vector<double> closes;
  for (std::size_t r = 0; r < table.rows.size(); ++r) {
    const FieldSource at{"read_daily_closes", path, table.line_numbers[r]};
    const std::string& day = table.rows[r][date];
    if (!is_iso_date(day))
      throw_field_error(at, fmt::format("expected a date YYYY-MM-DD in column 'date', got {}", quote_field(day)));
    // Days out of order would mix the held-out days into training, as a repeated day would.
    if (r > 0 && day <= table.rows[r - 1][date])
      throw_field_error(at, fmt::format("expected a date after {} (one row per trading day, oldest first), got {}",
                                        table.rows[r - 1][date], day));
    const double value = parse_finite_number(table.rows[r][close], at, "in column 'close'");
    // Percent changes divide by the close: zero or below is no price.
    if (!(value > 0.0)) throw_field_error(at, fmt::format("expected a close above 0, got {}", value));
    closes.push_back(value);
  }
  return closes;
}

Windows sliding_windows(const std::vector<double>& series, std::int64_t window, std::int64_t horizon) {
  if (window < 1 || horizon < 1)
    throw ValueError(fmt::format("sliding_windows: expected window >= 1 and horizon >= 1, got {} and {}",
                                 window, horizon));
  const auto length = static_cast<std::int64_t>(series.size());
  const std::int64_t count = length - window - horizon + 1;
  if (count < 1)
    throw ValueError(fmt::format("sliding_windows: expected a series of at least window + horizon = {} "
                                 "values, got {}", window + horizon, length));
  Windows out;
  out.x = empty({count, window, 1});  // (N, window, 1)
  out.y = empty({count, horizon});    // (N, horizon)
  float* x = out.x.data<float>();
  float* y = out.y.data<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    for (std::int64_t t = 0; t < window; ++t) x[i * window + t] = static_cast<float>(series[i + t]);
    for (std::int64_t h = 0; h < horizon; ++h)
      y[i * horizon + h] = static_cast<float>(series[i + window + h]);
  }
  return out;
}

Standardizer::Standardizer(double mean, double std) : mean_(mean), std_(std), fitted_(true) {
  if (!std::isfinite(mean) || !std::isfinite(std) || std <= 0.0)
    throw ValueError(fmt::format("Standardizer: expected a finite mean and a std > 0, got {} and {}", mean, std));
}

void Standardizer::fit(const std::vector<double>& values) {
  if (values.empty()) throw ValueError("Standardizer::fit: expected at least one value, got none");
  double sum = 0.0;
  for (double v : values) sum += v;
  const double mean = sum / static_cast<double>(values.size());
  double squares = 0.0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double std = std::sqrt(squares / static_cast<double>(values.size()));
  if (!(std > 0.0) || !std::isfinite(std))
    throw ValueError(fmt::format("Standardizer::fit: expected values that vary, got a standard "
                                 "deviation of {} over {} values", std, values.size()));
  *this = Standardizer(mean, std);
}

void Standardizer::check_fitted(const char* function) const {
  if (!fitted_) throw ValueError(fmt::format("Standardizer::{}: expected a fitted standardizer (call fit first)", function));
}

std::vector<double> Standardizer::transform(const std::vector<double>& values) const {
  check_fitted("transform");
  std::vector<double> out;
  out.reserve(values.size());
  for (double v : values) out.push_back((v - mean_) / std_);
  return out;
}

std::vector<double> Standardizer::inverse_transform(const std::vector<double>& values) const {
  check_fitted("inverse_transform");
  std::vector<double> out;
  out.reserve(values.size());
  for (double v : values) out.push_back(v * std_ + mean_);
  return out;
}

Tensor Standardizer::transform(const Tensor& values) const {
  check_fitted("transform");
  return (values - mean_) / std_;
}

Tensor Standardizer::inverse_transform(const Tensor& values) const {
  check_fitted("inverse_transform");
  return values * std_ + mean_;
}

}  // namespace loom::data
