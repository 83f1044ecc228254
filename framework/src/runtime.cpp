// Thread control: Loom's workers are the only pool; OpenBLAS runs on whichever thread calls it.
#include <cblas.h>

#include <algorithm>
#include <atomic>

#include <fmt/format.h>

#include "loom/errors.h"
#include "loom/runtime.h"

namespace loom {

namespace {

// Loom's thread count. It starts at OpenBLAS's own default (OPENBLAS_NUM_THREADS, else the core
// count); OpenBLAS itself is then kept at one thread, since detail::gemm splits each product
// between Loom's workers.
std::atomic<int>& thread_count() {
  static std::atomic<int> count{[] {
    const int initial = std::max(1, openblas_get_num_threads());
    openblas_set_num_threads(1);
    return initial;
  }()};
  return count;
}

}  // namespace

void set_num_threads(int threads) {
  if (threads < 1)
    throw ValueError(fmt::format("set_num_threads: expected at least 1 thread, got {}", threads));
  thread_count().store(threads, std::memory_order_relaxed);
}

int get_num_threads() { return thread_count().load(std::memory_order_relaxed); }

}  // namespace loom
