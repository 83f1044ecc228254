#pragma once
/// Linear: y = x W^T + b over the last axis, as torch.nn.Linear.
///
///     loom::Linear fc(loom::LinearOptions(64, 10));   // weight (10, 64), bias (10)
///     auto logits = fc(x);                             // (B, 64) -> (B, 10)
#include <cstdint>
#include <memory>

#include "loom/module.h"
#include "loom/options.h"
#include "loom/random.h"

namespace loom {

namespace detail {
struct Int8Matrix;
}

struct LinearOptions {
  LinearOptions(std::int64_t in_features, std::int64_t out_features)
      : in_features_(in_features), out_features_(out_features) {}
  LOOM_ARG(std::int64_t, in_features, 0)
  LOOM_ARG(std::int64_t, out_features, 0)
  /// Whether to learn an additive bias.
  LOOM_ARG(bool, bias, true)
};

class Linear : public UnaryModule {
 public:
  explicit Linear(const LinearOptions& options);
  Linear(std::int64_t in_features, std::int64_t out_features)
      : Linear(LinearOptions(in_features, out_features)) {}

  /// PyTorch's initialisation: weight and bias from U(-1/sqrt(in), 1/sqrt(in)) (the weight by
  /// kaiming_uniform_ with a = sqrt(5)).
  void reset_parameters(Generator* generator = nullptr);
  /// (..., in_features) -> (..., out_features).
  Tensor forward(const Tensor& input) override;

  const LinearOptions& options() const { return options_; }

  /// Int8 inference from now on (loom::quantize_dynamic does it for a whole model): the weight,
  /// as it is now, quantized per output channel; forward then refuses training mode and its
  /// output refuses backward. The float weight stays (state_dict still saves it).
  void quantize();
  bool quantized() const { return quantized_ != nullptr; }

  Tensor weight;  ///< (out_features, in_features)
  Tensor bias;    ///< (out_features), undefined when options.bias() is false

 private:
  LinearOptions options_;
  std::shared_ptr<const detail::Int8Matrix> quantized_;  // set by quantize()
};

}  // namespace loom
