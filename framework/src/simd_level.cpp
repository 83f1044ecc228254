// The run-time choice of detail/simd_level.h.
#include "detail/simd_level.h"

#include <fmt/format.h>
#include <loom/errors.h>

#include <cstdlib>
#include <string_view>

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define LOOM_X86_CPU_CHECKS 1
#endif

namespace loom::detail {

bool simd_level_available(SimdLevel level) {
  switch (level) {
    case SimdLevel::Portable: return true;
#ifdef LOOM_X86_CPU_CHECKS
    case SimdLevel::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case SimdLevel::Avx512: return __builtin_cpu_supports("avx512f");
#endif
    default: return false;
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
  const SimdLevel chosen = name == "portable" ? SimdLevel::Portable
                           : name == "avx2"   ? SimdLevel::Avx2
                           : name == "avx512" ? SimdLevel::Avx512
                                              : throw ValueError(fmt::format(
                                                    "LOOM_SIMD: expected portable, avx2 or avx512, got '{}'", name));
  if (!simd_level_available(chosen))
    throw ValueError(fmt::format("LOOM_SIMD: this CPU cannot run the {} kernels", name));
  return chosen;
}

bool int8_vnni_available(SimdLevel level) {
#ifdef LOOM_X86_CPU_CHECKS
  return level == SimdLevel::Avx512 && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl");
#else
  (void)level;
  return false;
#endif
}

}  // namespace loom::detail
