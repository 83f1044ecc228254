#pragma once
// Helpers shared by the test files.
#include <doctest/doctest.h>

#include <loom/loom.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace loom_test {

/// A fresh folder under /tmp, removed with everything in it at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char pattern[] = "/tmp/loom-test-XXXXXX";
    path = mkdtemp(pattern);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

/// A float64 leaf with values drawn from a fixed seed, scaled and shifted.
inline loom::Tensor input(const loom::Shape& shape, std::uint64_t seed, double scale = 1.0,
                          double shift = 0.0) {
  loom::Generator generator(seed);
  auto t = loom::randn(shape, loom::Dtype::Float64, &generator) * scale + shift;
  return t.detach().requires_grad_();
}

/// Values kept away from zero (|x| in [0.5, 1.5]) for ops with a kink or pole at 0.
inline loom::Tensor away_from_zero(const loom::Shape& shape, std::uint64_t seed) {
  loom::Generator generator(seed);
  auto magnitude = loom::rand(shape, 0.5, 1.5, loom::Dtype::Float64, &generator);
  auto sign = loom::rand(shape, -1.0, 1.0, loom::Dtype::Float64, &generator);
  auto out = loom::where(loom::gt(sign, loom::zeros_like(sign)), magnitude, -magnitude);
  return out.detach().requires_grad_();
}

/// Asserts that `function`'s gradients match central differences (max relative error <= 1e-6).
inline void check_gradients(const std::function<loom::Tensor(const std::vector<loom::Tensor>&)>& function,
                            const std::vector<loom::Tensor>& inputs) {
  const auto result = loom::gradcheck(function, inputs);
  INFO("worst: " << result.worst);
  CHECK(result.max_relative_error <= 1e-6);
}

inline std::vector<double> values(const loom::Tensor& t) { return t.to_vector<double>(); }

}  // namespace loom_test
