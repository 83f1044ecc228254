#pragma once
// The timing the bench programs share (bench_rnn, bench_quant, onednn_rnn), so that their rows
// compare like for like: one untimed warm-up call, then the median of `reps` timed calls, in ms.
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

inline double median_ms(const std::function<void()>& run, int reps) {
  run();  // warm up
  std::vector<double> times;
  for (int i = 0; i < reps; ++i) {
    const auto start = std::chrono::steady_clock::now();
    run();
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}
