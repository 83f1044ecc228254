#pragma once
/// The pieces of `Tensor::index`, as in PyTorch's C++ API (torch::indexing): an integer picks
/// one entry of an axis and removes it, `Slice(start, stop, step)` keeps a range, `Ellipsis`
/// stands for all the axes not named.
///
///     using namespace loom::indexing;
///     x.index({Slice(1, 3), 0});              // x[1:3, 0]
///     x.index({Ellipsis, Slice(None, -1)});   // x[..., :-1]
#include <cstdint>
#include <optional>
#include <type_traits>

namespace loom::indexing {

/// An open end of a Slice: `Slice(None, 3)` is `[:3]`.
inline constexpr std::nullopt_t None = std::nullopt;

struct EllipsisIndex {};
/// All the axes that the other indices do not name (at most one per index list).
inline constexpr EllipsisIndex Ellipsis{};

/// [start:stop:step] of one axis, as Python reads it: negative start and stop count from the
/// end, ends past the axis are clipped, None is the whole way. step must be positive.
struct Slice {
  explicit Slice(std::optional<std::int64_t> start_ = None, std::optional<std::int64_t> stop_ = None,
                 std::int64_t step_ = 1)
      : start(start_), stop(stop_), step(step_) {}
  std::optional<std::int64_t> start;
  std::optional<std::int64_t> stop;
  std::int64_t step;
};

/// One entry of an index list: an integer, a Slice or Ellipsis.
class TensorIndex {
 public:
  enum class Kind { Integer, Slice, Ellipsis };
  template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>>
  /* implicit */ TensorIndex(I integer) : kind_(Kind::Integer), integer_(static_cast<std::int64_t>(integer)) {}
  /* implicit */ TensorIndex(Slice slice) : kind_(Kind::Slice), slice_(slice) {}
  /* implicit */ TensorIndex(EllipsisIndex) : kind_(Kind::Ellipsis) {}

  Kind kind() const { return kind_; }
  std::int64_t integer() const { return integer_; }
  const Slice& slice() const { return slice_; }

 private:
  Kind kind_;
  std::int64_t integer_ = 0;
  Slice slice_;
};

}  // namespace loom::indexing
