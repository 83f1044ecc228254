#pragma once
/// CNNEncoder: a stack of blocks conv -> batch norm -> relu -> 2x2 max pool over (N, C, H, W)
/// images, ending either in a feature vector per image (global average pool, (N, C_last)) or in
/// the spatial feature map (N, C_last, H', W') an attention decoder attends over.
///
///     loom::CNNEncoder encoder(loom::CNNEncoderOptions(1, {16, 32}));
///     auto features = encoder(loom::randn({8, 1, 28, 28}));   // (8, 32)
///
/// Block i registers `conv<i>` (Conv2d, kernel_size with "same" padding kernel / 2, bias only
/// without batch norm) and `norm<i>` (BatchNorm2d, when batch_norm), so the parameters are
/// `conv0.weight`, `norm0.weight`, `norm0.bias`, `conv1.weight`, ... and the buffers
/// `norm0.running_mean`, `norm0.running_var`, `norm0.num_batches_tracked`, ...
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "loom/conv_ops.h"
#include "loom/layers/batch_norm.h"
#include "loom/layers/conv2d.h"
#include "loom/module.h"
#include "loom/options.h"

namespace loom {

enum class CNNEncoderOutput {
  Features,   ///< global average pool: (N, C_last)
  FeatureMap  ///< the last block's output: (N, C_last, H', W')
};

struct CNNEncoderOptions {
  CNNEncoderOptions(std::int64_t in_channels, std::vector<std::int64_t> channels)
      : in_channels_(in_channels), channels_(std::move(channels)) {}
  LOOM_ARG(std::int64_t, in_channels, 1)
  /// Output channels of each block, in order.
  LOOM_ARG(std::vector<std::int64_t>, channels, {})
  LOOM_ARG(Size2, kernel_size, 3)
  LOOM_ARG(bool, batch_norm, true)
  /// A 2x2 max pool (stride 2) at the end of every block.
  LOOM_ARG(bool, pool, true)
  LOOM_ARG(CNNEncoderOutput, output, CNNEncoderOutput::Features)
};

class CNNEncoder : public UnaryModule {
 public:
  explicit CNNEncoder(const CNNEncoderOptions& options);
  /// (N, C_in, H, W) -> (N, C_last) or (N, C_last, H', W'), by options.output().
  Tensor forward(const Tensor& input) override;
  const CNNEncoderOptions& options() const { return options_; }
  /// C_last: the size of a feature vector or the channels of the feature map.
  std::int64_t out_channels() const { return options_.channels().back(); }

 private:
  CNNEncoderOptions options_;
  std::vector<std::shared_ptr<Conv2d>> convs_;
  std::vector<std::shared_ptr<BatchNorm2d>> norms_;  // empty without batch norm
};

}  // namespace loom
