#pragma once
// Private: Loom's worker threads, the only pool: the GEMMs (each cut into one single-threaded
// OpenBLAS call per thread), the time loop of the fused LSTM with a packed weight, and the row,
// plane and elementwise loops of the larger ops. As many as loom::get_num_threads(); one region
// runs at a time.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

namespace loom::detail {

/// Work handed out step by step inside a parallel region of `threads` threads (the time loop of a
/// fused LSTM). Each thread has a home share of every step's tasks (the same share at every step,
/// so its data stays in its cache); it claims its own tasks first, then any left in the others'
/// shares, and leaves the step when all tasks are done. A thread the OS has descheduled thus
/// holds the others up by at most the one task it has claimed, not by its whole share — which
/// matters on a machine shared with other jobs.
class StepQueue {
 public:
  StepQueue(std::int64_t steps, std::int64_t tasks, int threads)
      : tasks_(tasks), threads_(threads),
        claimed_(new Counter[static_cast<std::size_t>(steps * threads)]),
        done_(new Counter[static_cast<std::size_t>(steps)]) {}

  /// On thread `thread`: runs task(index) for the tasks of `step` that no other thread has
  /// claimed, then waits until every task of the step has finished (their writes are then visible
  /// to this thread). Tasks must not throw: the other threads would wait for them forever.
  template <class Task>
  void run(std::int64_t step, int thread, Task&& task) {
    std::atomic<std::int64_t>& done = done_[step].value;
    for (int k = 0; k < threads_; ++k) {
      const int owner = (thread + k) % threads_;
      const auto [begin, end] = share(tasks_, owner, threads_);
      std::atomic<std::int64_t>& claimed = claimed_[step * threads_ + owner].value;
      for (std::int64_t index; (index = begin + claimed.fetch_add(1, std::memory_order_relaxed)) < end;) {
        task(index);
        done.fetch_add(1, std::memory_order_release);
      }
    }
    wait_until_done(done);
  }

  /// The part [begin, end) of `count` items that `thread` of `threads` owns (contiguous, balanced).
  static std::pair<std::int64_t, std::int64_t> share(std::int64_t count, int thread, int threads) {
    return {count * thread / threads, count * (thread + 1) / threads};
  }

 private:
  struct alignas(64) Counter {  // a cache line each: no false sharing between threads or steps
    std::atomic<std::int64_t> value{0};
  };
  void wait_until_done(const std::atomic<std::int64_t>& done) const;

  const std::int64_t tasks_;
  const int threads_;
  std::unique_ptr<Counter[]> claimed_;  // (steps, threads): tasks claimed from each home share
  std::unique_ptr<Counter[]> done_;     // (steps)
};

/// Whether this thread is running the body of a parallel region (a nested one would wait forever).
bool in_parallel_region();

/// Runs body(thread) for thread = 0 .. threads-1, thread 0 on the caller, and returns when all
/// have finished. An exception in any thread is rethrown on the caller.
void parallel_run(int threads, const std::function<void(int thread)>& body);

/// Runs body(begin, end) over [0, count) cut into one contiguous part per thread
/// (loom::get_num_threads()), each at least `grain` items: on the caller alone when count is
/// below 2 * grain, and inline inside another parallel region. For independent work over large
/// buffers: the optimizers' updates, softmax and cross-entropy rows, sums.
void parallel_for(std::int64_t count, std::int64_t grain,
                  const std::function<void(std::int64_t begin, std::int64_t end)>& body);


}  // namespace loom::detail
