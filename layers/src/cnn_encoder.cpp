// CNNEncoder: conv -> norm -> relu -> pool blocks.
#include "loom/layers/cnn_encoder.h"

#include <fmt/format.h>

#include <string>

#include "loom/ops.h"

namespace loom {

CNNEncoder::CNNEncoder(const CNNEncoderOptions& options) : options_(options) {
  const auto& o = options_;
  if (o.channels().empty())
    throw ValueError("CNNEncoder: expected at least one block in channels, got none");
  const Size2 k = o.kernel_size();
  std::int64_t in = o.in_channels();
  for (std::size_t i = 0; i < o.channels().size(); ++i) {
    const std::string index = std::to_string(i);
    // A bias right before batch norm would be cancelled by its centring.
    convs_.push_back(register_module(
        "conv" + index, std::make_shared<Conv2d>(Conv2dOptions(in, o.channels()[i], k)
                                                     .padding({k.h / 2, k.w / 2})
                                                     .bias(!o.batch_norm()))));
    if (o.batch_norm())
      norms_.push_back(register_module(
          "norm" + index, std::make_shared<BatchNorm2d>(BatchNormOptions(o.channels()[i]))));
    in = o.channels()[i];
  }
}

Tensor CNNEncoder::forward(const Tensor& input) {
  Tensor x = input;  // (N, C_in, H, W)
  for (std::size_t i = 0; i < convs_.size(); ++i) {
    x = convs_[i]->forward(x);  // (N, C_i, H, W) for odd kernels
    if (!norms_.empty()) x = norms_[i]->forward(x);
    x = relu(x);
    if (options_.pool()) x = max_pool2d(x, 2);  // (N, C_i, H / 2, W / 2)
  }
  if (options_.output() == CNNEncoderOutput::FeatureMap) return x;  // (N, C_last, H', W')
  return adaptive_avg_pool2d(x, 1).flatten(1);                      // (N, C_last)
}

}  // namespace loom
