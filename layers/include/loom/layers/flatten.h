#pragma once
/// Flatten: merges the axes start_dim..end_dim into one, as torch.nn.Flatten (a view, no copy).
///
///     loom::Flatten flatten;                               // start_dim 1, end_dim -1
///     auto y = flatten(loom::randn({8, 16, 4, 4}));       // (8, 256)
#include <cstdint>

#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct FlattenOptions {
  LOOM_ARG(std::int64_t, start_dim, 1)
  LOOM_ARG(std::int64_t, end_dim, -1)
};

class Flatten : public UnaryModule {
 public:
  explicit Flatten(const FlattenOptions& options = {}) : options_(options) {}
  Tensor forward(const Tensor& input) override;
  const FlattenOptions& options() const { return options_; }

 private:
  FlattenOptions options_;
};

}  // namespace loom
