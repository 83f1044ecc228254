// One libFuzzer executable per target: LOOM_FUZZ_TARGET names it (see fuzz_targets.h).
#include <cstddef>
#include <cstdint>

#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const loom_fuzz::Target& target = loom_fuzz::target(LOOM_FUZZ_TARGET);
  target.run(data, size);
  return 0;
}
