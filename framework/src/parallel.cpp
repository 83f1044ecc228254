// Loom's worker threads (detail/parallel.h): started on first use, one fewer than the region's
// thread count (the caller is thread 0), parked on a condition variable between regions.
#include "detail/parallel.h"

#include <algorithm>
#include <chrono>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "loom/runtime.h"

#if defined(__x86_64__)
#include <immintrin.h>
#define LOOM_CPU_RELAX() _mm_pause()
#else
#define LOOM_CPU_RELAX() ((void)0)
#endif

namespace loom::detail {
namespace {

// Pauses before a waiter yields its core (microseconds: a task of the recurrent loop takes about
// that long, so work still missing after it most likely sits on a descheduled thread, and
// spinning on would only take the core that thread needs).
constexpr int kSpinsBeforeYield = 1000;

// How long an idle worker watches for the next region before parking on the condition variable.
// The regions of a training step (each GEMM, loop and LSTM time loop) follow each other within
// microseconds; a parked worker takes a futex wake-up to start each one.
constexpr std::chrono::microseconds kSpinBeforePark{100};

// Whether this thread is running the body of a parallel region: parallel_for then runs inline,
// since the pool is busy with that region (a nested region would wait on it forever).
thread_local bool inside_region = false;

class Workers {
 public:
  static Workers& instance() {
    static Workers workers;
    return workers;
  }

  void run(int threads, const std::function<void(int)>& body) {
    std::lock_guard<std::mutex> serial(run_mutex_);  // one region at a time
    grow(threads - 1);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      active_ = threads - 1;
      remaining_.store(threads - 1);
      error_ = nullptr;
      ++generation_;
      published_generation_.store(generation_, std::memory_order_release);
    }
    wake_.notify_all();
    run_guarded(body, 0);
    for (int spins = 0; remaining_.load(std::memory_order_acquire) != 0; ++spins) {
      if (spins < kSpinsBeforeYield) LOOM_CPU_RELAX();
      else std::this_thread::yield();
    }
    if (error_) std::rethrow_exception(error_);
  }

  ~Workers() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      published_generation_.fetch_add(1, std::memory_order_release);  // ends the spinners' watch
    }
    wake_.notify_all();
    for (auto& thread : threads_) thread.join();
  }

 private:
  void grow(int count) {
    while (static_cast<int>(threads_.size()) < count) {
      const int index = static_cast<int>(threads_.size()) + 1;
      threads_.emplace_back([this, index] { loop(index); });
    }
  }

  void loop(int index) {
    std::uint64_t seen = 0;
    for (;;) {
      const auto park_at = std::chrono::steady_clock::now() + kSpinBeforePark;
      while (published_generation_.load(std::memory_order_acquire) == seen &&
             std::chrono::steady_clock::now() < park_at)
        LOOM_CPU_RELAX();
      const std::function<void(int)>* body;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (index > active_) continue;  // this region needs fewer threads
        body = body_;
      }
      run_guarded(*body, index);
      remaining_.fetch_sub(1, std::memory_order_acq_rel);
    }
  }

  void run_guarded(const std::function<void(int)>& body, int index) {
    inside_region = true;
    struct Leave {
      ~Leave() { inside_region = false; }
    } leave;
    try {
      body(index);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!error_) error_ = std::current_exception();
    }
  }

  std::mutex run_mutex_, mutex_;
  std::condition_variable wake_;
  std::vector<std::thread> threads_;
  const std::function<void(int)>* body_ = nullptr;
  int active_ = 0;
  std::uint64_t generation_ = 0;
  std::atomic<std::uint64_t> published_generation_{0};  // generation_, readable without the mutex
  std::atomic<int> remaining_{0};
  std::exception_ptr error_;
  bool stop_ = false;
};

}  // namespace

void StepQueue::wait_until_done(const std::atomic<std::int64_t>& done) const {
  for (int spins = 0; done.load(std::memory_order_acquire) < tasks_; ++spins) {
    if (spins < kSpinsBeforeYield) LOOM_CPU_RELAX();
    else std::this_thread::yield();
  }
}

bool in_parallel_region() { return inside_region; }

void parallel_run(int threads, const std::function<void(int)>& body) {
  if (threads <= 1) {
    body(0);
    return;
  }
  Workers::instance().run(threads, body);
}

void parallel_for(std::int64_t count, std::int64_t grain,
                  const std::function<void(std::int64_t, std::int64_t)>& body) {
  const int threads = static_cast<int>(
      std::clamp<std::int64_t>(count / std::max<std::int64_t>(grain, 1), 1, get_num_threads()));
  if (threads == 1 || inside_region) {
    body(0, count);
    return;
  }
  parallel_run(threads, [&](int thread) {
    const auto [begin, end] = StepQueue::share(count, thread, threads);
    body(begin, end);
  });
}

}  // namespace loom::detail
