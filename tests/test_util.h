#pragma once
// Helpers shared by the test files.
#include <doctest/doctest.h>

#include <loom/loom.h>

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace loom_test {

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

/// Runs `f`, expects exception E, and returns its message (fails the test otherwise).
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL("wrong exception type: " << e.what());
  }
  FAIL("no exception thrown");
  return {};
}

/// A fresh folder under the system temp folder, removed with everything in it at scope exit.
struct TempDir {
  std::string path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "loom-test-XXXXXX").string();
    path = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Sets (or, given null, unsets) an environment variable for its lifetime, then restores what
// was there, also when the test throws: LOOM_SIMD in the kernel tests.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    set(value);
  }
  ~ScopedEnv() { set(old_ ? old_->c_str() : nullptr); }
  void set(const char* value) const {
    if (value) ::setenv(name_.c_str(), value, 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace loom_test
