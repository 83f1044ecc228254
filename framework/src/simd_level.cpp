// The run-time choice of detail/simd_level.h.
#include "detail/simd_level.h"

#include <fmt/format.h>
#include <loom/errors.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <string_view>

namespace loom::detail {

bool simd_level_available(SimdLevel level) {
  switch (level) {
    case SimdLevel::Portable: return true;
#ifdef LOOM_X86_KERNELS
    case SimdLevel::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::Avx512: return __builtin_cpu_supports("avx512f");
#endif
    default: return false;
  }
}

constexpr SimdLevel kLevels[] = {SimdLevel::Portable, SimdLevel::Avx2, SimdLevel::Avx512};

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::Avx2: return "avx2";
    case SimdLevel::Avx512: return "avx512";
    default: return "portable";
  }
}

SimdLevel select_simd_level() {
  const char* setting = std::getenv("LOOM_SIMD");
  if (!setting) {
    for (SimdLevel best : {SimdLevel::Avx512, SimdLevel::Avx2})
      if (simd_level_available(best)) return best;
    return SimdLevel::Portable;
  }
  const std::string_view name(setting);
  const auto* chosen = std::find_if(std::begin(kLevels), std::end(kLevels),
                                    [&](SimdLevel level) { return name == simd_level_name(level); });
  if (chosen == std::end(kLevels))
    throw ValueError(fmt::format("LOOM_SIMD: expected portable, avx2 or avx512, got '{}'", name));
  if (!simd_level_available(*chosen))
    throw ValueError(fmt::format("LOOM_SIMD: this CPU cannot run the {} kernels", name));
  return *chosen;
}

bool avx512_vnni_available() {
#ifdef LOOM_X86_KERNELS
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

}  // namespace loom::detail
