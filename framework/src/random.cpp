// xoshiro256** (Blackman and Vigna), seeded through splitmix64.
#include <cmath>
#include <sstream>

#include <fmt/format.h>

#include "loom/errors.h"
#include "loom/random.h"

namespace loom {
namespace {
std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
}  // namespace

Generator::Generator(std::uint64_t seed_value) { seed(seed_value); }

void Generator::seed(std::uint64_t seed_value) {
  for (auto& word : s_) word = splitmix64(seed_value);
  has_spare_normal_ = false;
}

std::uint64_t Generator::next_u64() {
  const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Generator::normal() {
  if (has_spare_normal_) {
    has_spare_normal_ = false;
    return spare_normal_;
  }
  const double u1 = 1.0 - uniform();  // in (0, 1]: log is finite
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  constexpr double two_pi = 6.283185307179586476925;
  spare_normal_ = radius * std::sin(two_pi * u2);
  has_spare_normal_ = true;
  return radius * std::cos(two_pi * u2);
}

std::string Generator::state() const {
  return fmt::format("{} {} {} {} {} {:a}", s_[0], s_[1], s_[2], s_[3], has_spare_normal_ ? 1 : 0,
                     spare_normal_);
}

void Generator::set_state(const std::string& state) {
  std::istringstream in(state);
  std::uint64_t words[4];
  int spare_flag = 0;
  std::string spare_text;
  if (!(in >> words[0] >> words[1] >> words[2] >> words[3] >> spare_flag >> spare_text) ||
      (spare_flag != 0 && spare_flag != 1))
    throw ValueError(fmt::format("Generator::set_state: malformed state '{}'", state));
  for (int i = 0; i < 4; ++i) s_[i] = words[i];
  has_spare_normal_ = spare_flag == 1;
  spare_normal_ = std::strtod(spare_text.c_str(), nullptr);
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

}  // namespace loom
