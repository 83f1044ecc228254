#include "detail/progress.h"

#include <fmt/format.h>

#include <cmath>

namespace loom::detail {

std::string short_duration(double seconds) {
  const auto whole = static_cast<std::int64_t>(std::llround(std::max(0.0, seconds)));
  if (whole < 60) return fmt::format("{}s", whole);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

Progress::Progress(std::FILE* out, bool terminal, std::int64_t epoch, std::int64_t epochs, std::int64_t steps,
                   Clock::time_point start)
    : out_(out), terminal_(terminal), epoch_(epoch), epochs_(epochs), steps_(steps), start_(start), last_shown_(start) {}

void Progress::update(std::int64_t done, std::int64_t examples, double running_loss, Clock::time_point now) {
  if (!out_) return;
  const bool last = done >= steps_;
  if (terminal_ ? !last && now - last_shown_ < std::chrono::milliseconds(100) : now - last_shown_ < plain_interval)
    return;
  last_shown_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  std::string rate = "-", eta = "-";  // until the clock has moved
  if (seconds > 0) {
    rate = fmt::format("{:.0f}", static_cast<double>(examples) / seconds);
    eta = short_duration(static_cast<double>(steps_ - done) * seconds / static_cast<double>(std::max<std::int64_t>(done, 1)));
  }
  const std::string figures = fmt::format("step {}/{}  {} examples/s  loss {:.4f}  ETA {}", done, steps_, rate,
                                          running_loss, eta);
  if (terminal_) {
    constexpr std::int64_t width = 20;
    const std::int64_t filled = steps_ > 0 ? std::min(width, width * done / steps_) : width;
    fmt::print(out_, "\repoch {}/{} [{}{}] {}\033[K", epoch_, epochs_, std::string(filled, '='),
               std::string(width - filled, ' '), figures);
  } else {
    fmt::print(out_, "epoch {}/{}  {}\n", epoch_, epochs_, figures);
  }
  std::fflush(out_);
}

void Progress::finish(const std::string& summary) {
  if (out_) fmt::print(out_, "{}{}\n", terminal_ ? "\r\033[K" : "", summary);
}

}  // namespace loom::detail
