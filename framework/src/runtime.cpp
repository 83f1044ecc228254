// Thread control: Loom's workers are the only pool; OpenBLAS runs on whichever thread calls it.
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>

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

std::string address_space_note() {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return {};
  std::ifstream status("/proc/self/status");
  long used_kib = -1;
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmSize:", 0) == 0) used_kib = std::stol(line.substr(7));
  const auto mib = [](double bytes) { return bytes / (1 << 20); };
  return used_kib < 0 ? fmt::format("; the address-space limit (ulimit -v) is {:.0f} MiB", mib(limit.rlim_cur))
                      : fmt::format("; the address-space limit (ulimit -v) is {:.0f} MiB, {:.0f} MiB of it in use",
                                    mib(limit.rlim_cur), mib(used_kib * 1024.0));
}

}  // namespace loom
