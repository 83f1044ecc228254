#pragma once
/// LayerNorm: normalises over the trailing `normalized_shape` axes to mean 0 and variance 1
/// (biased variance, plus eps), then applies an elementwise affine map, as torch.nn.LayerNorm.
///
///     loom::LayerNorm norm(loom::LayerNormOptions({512}));   // weight, bias (512)
///     auto y = norm(x);                                       // (B, T, 512) -> (B, T, 512)
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

struct LayerNormOptions {
  /* implicit */ LayerNormOptions(Shape normalized_shape)
      : normalized_shape_(std::move(normalized_shape)) {}
  /// The trailing axes to normalise over, e.g. {H} or {T, H}.
  LOOM_ARG(Shape, normalized_shape, {})
  LOOM_ARG(double, eps, 1e-5)
  /// Whether to learn `weight` (ones) and `bias` (zeros) of shape normalized_shape.
  LOOM_ARG(bool, elementwise_affine, true)
};

class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(const LayerNormOptions& options);

  /// weight to ones and bias to zeros.
  void reset_parameters();
  /// (..., *normalized_shape) -> the same shape.
  Tensor forward(const Tensor& input) override;

  const LayerNormOptions& options() const { return options_; }

  Tensor weight;  ///< normalized_shape, undefined without elementwise_affine
  Tensor bias;    ///< normalized_shape, undefined without elementwise_affine

 private:
  LayerNormOptions options_;
};

}  // namespace loom
