#pragma once
// Private: Loom's own worker threads for kernels that OpenBLAS cannot run, the time loop of the
// fused recurrent layers with a packed weight. They run only while OpenBLAS's pool is idle (a
// kernel never calls BLAS from inside a parallel region), and as many as loom::get_num_threads(),
// so the machine still sees one pool's worth of busy threads at a time.
#include <atomic>
#include <cstdint>
#include <functional>
#include <utility>

namespace loom::detail {

/// Threads meet here between the phases of a parallel region (the steps of a time loop). Waiters
/// spin briefly, then yield the core: on a busy machine a sleeping partner must not be starved.
class Barrier {
 public:
  explicit Barrier(int threads) : threads_(threads) {}
  void wait();

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<std::uint64_t> generation_{0};
};

/// Runs body(thread) for thread = 0 .. threads-1, thread 0 on the caller, and returns when all
/// have finished. An exception in any thread is rethrown on the caller.
void parallel_run(int threads, const std::function<void(int thread)>& body);

/// Runs body(begin, end) over [0, count) cut into one contiguous part per thread
/// (loom::get_num_threads()), each at least `grain` items: on the caller alone when count is
/// below 2 * grain. For independent elementwise work over large buffers (the optimizers).
void parallel_for(std::int64_t count, std::int64_t grain,
                  const std::function<void(std::int64_t begin, std::int64_t end)>& body);

/// The part [begin, end) of `count` items that `thread` of `threads` owns (contiguous, balanced).
inline std::pair<std::int64_t, std::int64_t> share(std::int64_t count, int thread, int threads) {
  return {count * thread / threads, count * (thread + 1) / threads};
}

}  // namespace loom::detail
