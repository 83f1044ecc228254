// Initialisers (torch.nn.init): fills written straight into storage, so no graph is recorded.
#include "loom/init.h"

#include <cmath>

#include "detail/kernels.h"

namespace loom::init {

namespace {

// Writes next() into every element of a float tensor, in row-major order.
template <class Next>
Tensor fill(const char* op, Tensor tensor, Next next) {
  detail::check_defined(op, tensor);
  detail::dispatch_floating(op, tensor.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* p = tensor.data<T>();
    for (std::int64_t i = 0; i < tensor.numel(); ++i) p[i] = static_cast<T>(next());
  });
  detail::bump_version(tensor);
  return tensor;
}

Generator& pick(Generator* generator) { return generator ? *generator : default_generator(); }

std::int64_t fan(const char* op, const Tensor& tensor, FanMode mode) {
  detail::check_defined(op, tensor);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  return mode == FanMode::FanIn ? fan_in : fan_out;
}

// Glob with '*' (any run) and '?' (one character), iterative with backtracking to the last '*'.
bool glob(const std::string& pattern, const std::string& name) {
  std::size_t p = 0, n = 0, star = std::string::npos, resume = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p, ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace

double calculate_gain(Nonlinearity nonlinearity, double negative_slope) {
  switch (nonlinearity) {
    case Nonlinearity::Linear:
    case Nonlinearity::Conv:
    case Nonlinearity::Sigmoid:
      return 1.0;
    case Nonlinearity::Tanh:
      return 5.0 / 3.0;
    case Nonlinearity::ReLU:
      return std::sqrt(2.0);
    case Nonlinearity::LeakyReLU:
      return std::sqrt(2.0 / (1.0 + negative_slope * negative_slope));
    case Nonlinearity::SELU:
      return 3.0 / 4.0;
  }
  throw ValueError("calculate_gain: unknown nonlinearity");
}

std::pair<std::int64_t, std::int64_t> calculate_fan_in_and_fan_out(const Tensor& tensor) {
  if (tensor.dim() < 2)
    throw ValueError(fmt::format("calculate_fan_in_and_fan_out: fan in and fan out can not be "
                                 "computed for a tensor with fewer than 2 dimensions, got {}",
                                 shape_str(tensor.shape())));
  std::int64_t receptive_field = 1;  // the kernel's spatial size, for convolution weights
  for (std::int64_t axis = 2; axis < tensor.dim(); ++axis) receptive_field *= tensor.size(axis);
  return {tensor.size(1) * receptive_field, tensor.size(0) * receptive_field};
}

Tensor uniform_(Tensor tensor, double a, double b, Generator* generator) {
  if (!(a <= b))
    throw ValueError(fmt::format("uniform_: expected a <= b, got a = {} and b = {}", a, b));
  Generator& gen = pick(generator);
  return fill("uniform_", tensor, [&] { return a + (b - a) * gen.uniform(); });
}

Tensor normal_(Tensor tensor, double mean, double std, Generator* generator) {
  if (!(std >= 0.0))
    throw ValueError(fmt::format("normal_: expected std >= 0, got {}", std));
  Generator& gen = pick(generator);
  return fill("normal_", tensor, [&] { return mean + std * gen.normal(); });
}

Tensor constant_(Tensor tensor, double value) {
  return fill("constant_", tensor, [value] { return value; });
}

Tensor zeros_(Tensor tensor) { return constant_(tensor, 0.0); }

Tensor ones_(Tensor tensor) { return constant_(tensor, 1.0); }

Tensor xavier_uniform_(Tensor tensor, double gain, Generator* generator) {
  detail::check_defined("xavier_uniform_", tensor);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(tensor, -bound, bound, generator);
}

Tensor xavier_normal_(Tensor tensor, double gain, Generator* generator) {
  detail::check_defined("xavier_normal_", tensor);
  const auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(tensor);
  return normal_(tensor, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)),
                 generator);
}

Tensor kaiming_uniform_(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity,
                        Generator* generator) {
  const double std = calculate_gain(nonlinearity, a) /
                     std::sqrt(static_cast<double>(fan("kaiming_uniform_", tensor, mode)));
  const double bound = std::sqrt(3.0) * std;  // U(-b, b) has variance b^2 / 3
  return uniform_(tensor, -bound, bound, generator);
}

Tensor kaiming_normal_(Tensor tensor, double a, FanMode mode, Nonlinearity nonlinearity,
                       Generator* generator) {
  const double std = calculate_gain(nonlinearity, a) /
                     std::sqrt(static_cast<double>(fan("kaiming_normal_", tensor, mode)));
  return normal_(tensor, 0.0, std, generator);
}

Tensor orthogonal_(Tensor tensor, double gain, Generator* generator) {
  detail::check_defined("orthogonal_", tensor);
  detail::check_floating("orthogonal_", tensor);
  if (tensor.dim() < 2)
    throw ValueError(fmt::format("orthogonal_: only tensors with 2 or more dimensions are "
                                 "supported, got {}",
                                 shape_str(tensor.shape())));
  if (tensor.numel() == 0) return tensor;
  const std::int64_t rows = tensor.size(0), cols = tensor.numel() / rows;
  // Orthonormalise the `k` shorter vectors of length `n` (the rows when rows <= cols, else the
  // columns): vectors[i * n + j] is entry j of vector i.
  const std::int64_t k = std::min(rows, cols), n = std::max(rows, cols);
  Generator& gen = pick(generator);
  std::vector<double> vectors(static_cast<std::size_t>(k * n));
  for (auto& v : vectors) v = gen.normal();
  // Modified Gram-Schmidt: subtract each earlier direction from the running remainder, then
  // normalise. Dividing by the (positive) norm is QR with R's diagonal made positive.
  for (std::int64_t i = 0; i < k; ++i) {
    double* vi = vectors.data() + i * n;
    for (std::int64_t j = 0; j < i; ++j) {
      const double* vj = vectors.data() + j * n;
      double dot = 0.0;
      for (std::int64_t e = 0; e < n; ++e) dot += vi[e] * vj[e];
      for (std::int64_t e = 0; e < n; ++e) vi[e] -= dot * vj[e];
    }
    double norm = 0.0;
    for (std::int64_t e = 0; e < n; ++e) norm += vi[e] * vi[e];
    norm = std::sqrt(norm);
    for (std::int64_t e = 0; e < n; ++e) vi[e] /= norm;
  }
  // Element (r, c) of the (rows, cols) result is entry c of vector r, or entry r of vector c.
  std::int64_t index = 0;
  return fill("orthogonal_", tensor, [&] {
    const std::int64_t r = index / cols, c = index % cols;
    ++index;
    return gain * (rows <= cols ? vectors[r * n + c] : vectors[c * n + r]);
  });
}

Initializer uniform(double a, double b, Generator* generator) {
  return [=](Tensor t) { uniform_(t, a, b, generator); };
}
Initializer normal(double mean, double std, Generator* generator) {
  return [=](Tensor t) { normal_(t, mean, std, generator); };
}
Initializer constant(double value) {
  return [=](Tensor t) { constant_(t, value); };
}
Initializer zeros() { return constant(0.0); }
Initializer ones() { return constant(1.0); }
Initializer xavier_uniform(double gain, Generator* generator) {
  return [=](Tensor t) { xavier_uniform_(t, gain, generator); };
}
Initializer xavier_normal(double gain, Generator* generator) {
  return [=](Tensor t) { xavier_normal_(t, gain, generator); };
}
Initializer kaiming_uniform(double a, FanMode mode, Nonlinearity nonlinearity,
                            Generator* generator) {
  return [=](Tensor t) { kaiming_uniform_(t, a, mode, nonlinearity, generator); };
}
Initializer kaiming_normal(double a, FanMode mode, Nonlinearity nonlinearity,
                           Generator* generator) {
  return [=](Tensor t) { kaiming_normal_(t, a, mode, nonlinearity, generator); };
}
Initializer orthogonal(double gain, Generator* generator) {
  return [=](Tensor t) { orthogonal_(t, gain, generator); };
}

bool matches(const std::string& pattern, const std::string& name) {
  if (pattern.find_first_of("*?") != std::string::npos) return glob(pattern, name);
  if (name == pattern) return true;
  return name.size() > pattern.size() &&
         name.compare(name.size() - pattern.size(), pattern.size(), pattern) == 0 &&
         name[name.size() - pattern.size() - 1] == '.';
}

std::vector<std::string> apply(Module& module, const std::vector<Rule>& rules) {
  for (const auto& rule : rules)
    if (!rule.initializer)
      throw ValueError(fmt::format("init::apply: rule '{}' has no initializer", rule.pattern));
  // Plan first (the first matching rule per parameter), so a bad rule changes nothing.
  std::vector<std::pair<std::string, std::size_t>> plan;  // (parameter name, rule index)
  std::vector<bool> used(rules.size(), false);
  for (const auto& entry : module.named_parameters())
    for (std::size_t r = 0; r < rules.size(); ++r)
      if (matches(rules[r].pattern, entry.first)) {
        plan.emplace_back(entry.first, r);
        used[r] = true;
        break;
      }
  for (std::size_t r = 0; r < rules.size(); ++r)
    if (!used[r])
      throw ValueError(fmt::format("init::apply: rule '{}' applies to no parameter of the module "
                                   "(none matches, or earlier rules took them all)",
                                   rules[r].pattern));
  const auto parameters = module.state_dict();
  std::vector<std::string> names;
  for (const auto& [name, r] : plan) {
    rules[r].initializer(parameters.at(name));
    names.push_back(name);
  }
  return names;
}

}  // namespace loom::init
