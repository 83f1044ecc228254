#pragma once
/// Dropout: in training mode, zeroes each entry with probability p and scales the rest by
/// 1 / (1 - p); in eval mode, the identity. As torch.nn.Dropout.
///
///     loom::Dropout drop(loom::DropoutOptions().p(0.2));
///     auto y = drop(x);     // random while training
///     drop.eval();
///     auto z = drop(x);     // z == x
#include "loom/module.h"
#include "loom/options.h"
#include "loom/random.h"

namespace loom {

struct DropoutOptions {
  DropoutOptions() = default;
  /// The probability of zeroing an entry, in [0, 1].
  LOOM_ARG(double, p, 0.5)
};

class Dropout : public UnaryModule {
 public:
  /// Masks are drawn from `generator` (not owned; it must outlive the module) or, when null,
  /// from the default generator.
  explicit Dropout(const DropoutOptions& options = {}, Generator* generator = nullptr);

  /// Any shape; the output has the input's shape.
  Tensor forward(const Tensor& input) override;

  const DropoutOptions& options() const { return options_; }

 private:
  DropoutOptions options_;
  Generator* generator_;
};

}  // namespace loom
