#pragma once
/// A batch and where batches come from: what loom::optim::Trainer::fit reads (as
/// loom::optim::Batch and loom::optim::BatchSource) and what the sources in loom/data/batching.h
/// are. They live in data because the trainer depends on data, never the reverse.
#include <cstdint>
#include <vector>

#include "loom/random.h"
#include "loom/tensor.h"

namespace loom::data {

/// One batch: tensors whose meaning the loss function knows (inputs, targets, lengths...).
using Batch = std::vector<Tensor>;

/// Where batches come from. `start_epoch` may reorder them with the generator it is given (the
/// trainer's own, saved in checkpoints, so a resumed run shuffles identically). The order must
/// depend on that generator alone, not on earlier epochs' orders, which a resumed process never
/// saw: shuffle a fresh 0..n-1 each epoch.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual std::int64_t num_batches() const = 0;
  virtual Batch batch(std::int64_t index) = 0;
  virtual void start_epoch(std::int64_t /*epoch*/, Generator& /*generator*/) {}
};

}  // namespace loom::data
