#pragma once
// Private: the trainer's progress display for one epoch (optim/src/progress.cpp), here so that
// the tests can drive it with their own clock and file.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace loom::detail {

/// Shows epoch, step/steps, examples per second, running loss and the epoch's ETA on `out`: on a
/// terminal one line redrawn in place (at most every 0.1 s); elsewhere (a log, a pipe) the same
/// figures as a plain line every plain_interval, so a long epoch shows life without a line per
/// step. Each epoch ends with its summary line either way. A null `out` shows nothing. Reading
/// the clock and writing are all it does: the training's numbers never depend on it.
class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds plain_interval{20};

  Progress(std::FILE* out, bool terminal, std::int64_t epoch, std::int64_t epochs, std::int64_t steps,
           Clock::time_point start = Clock::now());
  /// After `done` of the epoch's steps, `examples` of its examples (this process's) and a running
  /// mean loss of `running_loss`.
  void update(std::int64_t done, std::int64_t examples, double running_loss, Clock::time_point now = Clock::now());
  /// The epoch's summary line, which replaces the bar on a terminal.
  void finish(const std::string& summary);

 private:
  std::FILE* out_;
  bool terminal_;
  std::int64_t epoch_, epochs_, steps_;
  Clock::time_point start_, last_shown_;
};

/// A duration for people: "42s", "3m05s", "2h07m".
std::string short_duration(double seconds);

}  // namespace loom::detail
