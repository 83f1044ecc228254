// Thread control: OpenBLAS's pool is the only one Loom uses.
#include <cblas.h>

#include <fmt/format.h>

#include "loom/errors.h"
#include "loom/runtime.h"

namespace loom {

void set_num_threads(int threads) {
  if (threads < 1)
    throw ValueError(fmt::format("set_num_threads: expected at least 1 thread, got {}", threads));
  openblas_set_num_threads(threads);
}

int get_num_threads() { return openblas_get_num_threads(); }

}  // namespace loom
