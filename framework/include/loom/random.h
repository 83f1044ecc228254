#pragma once
/// Seedable random numbers. One seed makes a run repeat bit for bit: every random draw in Loom
/// (initialisation, dropout, shuffling) goes through a Generator, the default one unless given.
///
///     loom::manual_seed(42);
///     loom::Generator gen(7);
///     auto noise = loom::randn({2, 3}, loom::Dtype::Float32, &gen);
#include <cstdint>
#include <string>

namespace loom {

/// xoshiro256** seeded through splitmix64. Its output, and our own normal sampling, are the same
/// on every platform and standard library, unlike std::normal_distribution's.
class Generator {
 public:
  explicit Generator(std::uint64_t seed = 0x5eed);
  void seed(std::uint64_t seed);
  /// Next raw 64-bit value.
  std::uint64_t next_u64();
  /// Uniform double in [0, 1).
  double uniform();
  /// Standard normal (Box-Muller; the spare value is kept for the next call).
  double normal();
  /// The full state as text, and back: for checkpoints that resume bit for bit.
  std::string state() const;
  void set_state(const std::string& state);

 private:
  std::uint64_t s_[4];
  bool has_spare_normal_ = false;
  double spare_normal_ = 0.0;
};

/// The process-wide default generator. It is not synchronised: threads that draw random numbers
/// at the same time (sampling, dropout in training mode) each pass a Generator of their own.
Generator& default_generator();
/// Reseeds the default generator.
void manual_seed(std::uint64_t seed);

}  // namespace loom
