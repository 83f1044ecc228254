#pragma once
/// Embedding: a lookup table of `num_embeddings` vectors of size `embedding_dim`, as
/// torch.nn.Embedding.
///
///     loom::Embedding embed(loom::EmbeddingOptions(10000, 128).padding_idx(0));
///     auto vectors = embed(token_ids);        // int64 (B, T) -> (B, T, 128); id 0 gives zeros
///
///     auto frozen = loom::Embedding::from_pretrained(glove);   // (V, E), not trained
#include <cstdint>
#include <memory>
#include <optional>

#include "loom/module.h"
#include "loom/options.h"
#include "loom/random.h"

namespace loom {

namespace detail {
struct Int8Table;
}

struct EmbeddingOptions {
  EmbeddingOptions(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  LOOM_ARG(std::int64_t, num_embeddings, 0)
  LOOM_ARG(std::int64_t, embedding_dim, 0)
  /// The row for padding: initialised to zeros and never updated (its gradient is zero).
  /// Negative values count from the end, as in PyTorch.
  LOOM_ARG(std::optional<std::int64_t>, padding_idx, std::nullopt)
  /// When set, every row looked up whose `norm_type`-norm exceeds max_norm is rescaled in place
  /// to norm max_norm before the lookup (the weight changes, as in PyTorch).
  LOOM_ARG(std::optional<double>, max_norm, std::nullopt)
  LOOM_ARG(double, norm_type, 2.0)
};

class Embedding : public UnaryModule {
 public:
  explicit Embedding(const EmbeddingOptions& options) : Embedding(options, Tensor()) {}
  Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim)
      : Embedding(EmbeddingOptions(num_embeddings, embedding_dim)) {}

  /// An Embedding holding a copy of `embeddings` (V, E); `freeze` stops its training. The
  /// padding row keeps its given values (it only gets no gradient), as in PyTorch.
  static std::shared_ptr<Embedding> from_pretrained(
      const Tensor& embeddings, bool freeze = true,
      std::optional<std::int64_t> padding_idx = std::nullopt,
      std::optional<double> max_norm = std::nullopt);

  /// N(0, 1) entries, with the padding row set to zero.
  void reset_parameters(Generator* generator = nullptr);
  /// int64 indices of any shape (...) -> (..., embedding_dim).
  Tensor forward(const Tensor& indices) override;

  const EmbeddingOptions& options() const { return options_; }

  /// Int8 inference from now on (see loom::quantize_dynamic): every row of the table, as it is
  /// now (rows past max_norm renormalised), in int8 with its own scale, dequantized on lookup;
  /// forward then refuses training mode and its output refuses backward.
  void quantize();
  bool quantized() const { return quantized_ != nullptr; }

  Tensor weight;  ///< (num_embeddings, embedding_dim)

 private:
  // `pretrained` (V, E), when defined, is copied into the table instead of initialising it.
  Embedding(const EmbeddingOptions& options, const Tensor& pretrained);
  // Rescales the rows of `table` (the weight or a copy) that `indices` names whose norm exceeds
  // max_norm (torch.embedding_renorm_).
  void renormalize(Tensor table, const Tensor& indices) const;

  EmbeddingOptions options_;
  std::shared_ptr<const detail::Int8Table> quantized_;  // set by quantize()
};

}  // namespace loom
