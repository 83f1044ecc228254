// quantize_dynamic: a walk over the module tree; each layer quantizes its own weights.
#include "loom/layers/quantize.h"

#include "loom/layers/embedding.h"
#include "loom/layers/linear.h"
#include "loom/layers/recurrent.h"

namespace loom {
namespace {

// Quantizes `module` if it is a layer int8 covers and not quantized yet; true if it did.
bool quantize_one(Module& module) {
  if (auto* linear = dynamic_cast<Linear*>(&module); linear && !linear->quantized()) {
    linear->quantize();
    return true;
  }
  if (auto* embedding = dynamic_cast<Embedding*>(&module); embedding && !embedding->quantized()) {
    embedding->quantize();
    return true;
  }
  auto* recurrent = dynamic_cast<Recurrent*>(&module);
  const bool covered = recurrent && (recurrent->cell_type() == CellType::LSTM || recurrent->cell_type() == CellType::GRU);
  if (covered && !recurrent->quantized()) {
    recurrent->quantize();
    return true;
  }
  return false;
}

std::int64_t quantize_tree(Module& module) {
  std::int64_t count = quantize_one(module) ? 1 : 0;
  for (const auto& [name, child] : module.named_children()) count += quantize_tree(*child);
  return count;
}

}  // namespace

std::int64_t quantize_dynamic(Module& module) {
  const std::int64_t count = quantize_tree(module);
  module.eval();
  return count;
}

}  // namespace loom
