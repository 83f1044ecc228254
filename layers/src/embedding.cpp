// Embedding: a row lookup; padding_idx and max_norm as in torch.nn.Embedding.
#include "loom/layers/embedding.h"

#include <cmath>
#include <set>

#include "detail/kernels.h"
#include "loom/autograd.h"
#include "loom/init.h"
#include "loom/ops.h"
#include "quantized.h"

namespace loom {

Embedding::Embedding(const EmbeddingOptions& options, const Tensor& pretrained)
    : options_(options) {
  const std::int64_t rows = options.num_embeddings();
  if (rows <= 0 || options.embedding_dim() <= 0)
    throw ValueError(fmt::format("Embedding: num_embeddings and embedding_dim must be positive, "
                                 "got {} and {}", rows, options.embedding_dim()));
  if (const auto pad = options.padding_idx()) {
    if (*pad < -rows || *pad >= rows)
      throw IndexError(fmt::format("Embedding: padding_idx must be within num_embeddings. "
                                   "Expected a value in [{}, {}), got {}", -rows, rows, *pad));
    options_.padding_idx(*pad < 0 ? *pad + rows : *pad);
  }
  if (options.max_norm() && !(*options.max_norm() > 0.0 && options.norm_type() > 0.0))
    throw ValueError(fmt::format("Embedding: max_norm and norm_type must be positive, got {} "
                                 "and {}", *options.max_norm(), options.norm_type()));
  if (pretrained.defined()) {  // from_pretrained: a copy, without drawing random numbers
    weight = register_parameter("weight", pretrained.detach().clone());
  } else {
    weight = register_parameter("weight", empty({rows, options.embedding_dim()}));
    reset_parameters();
  }
}

std::shared_ptr<Embedding> Embedding::from_pretrained(const Tensor& embeddings, bool freeze,
                                                      std::optional<std::int64_t> padding_idx,
                                                      std::optional<double> max_norm) {
  detail::check_defined("Embedding::from_pretrained", embeddings);
  detail::check_floating("Embedding::from_pretrained", embeddings);
  if (embeddings.dim() != 2)
    throw ShapeError(fmt::format("Embedding::from_pretrained: embeddings must be 2-dimensional "
                                 "(num_embeddings, embedding_dim), got {}",
                                 shape_str(embeddings.shape())));
  const auto options = EmbeddingOptions(embeddings.size(0), embeddings.size(1))
                           .padding_idx(padding_idx)
                           .max_norm(max_norm);
  std::shared_ptr<Embedding> module(new Embedding(options, embeddings));
  module->weight.requires_grad_(!freeze);
  return module;
}

void Embedding::reset_parameters(Generator* generator) {
  init::normal_(weight, 0.0, 1.0, generator);
  if (const auto pad = options_.padding_idx()) weight.detach().select(0, *pad).fill_(0.0);  // a view of the row
}

void Embedding::renormalize(Tensor table, const Tensor& indices) const {
  const std::int64_t rows = options_.num_embeddings(), dim = options_.embedding_dim();
  const double max_norm = *options_.max_norm(), p = options_.norm_type();
  std::set<std::int64_t> unique;
  const std::int64_t* ids = indices.data<std::int64_t>();
  for (std::int64_t i = 0; i < indices.numel(); ++i) {
    if (ids[i] < 0 || ids[i] >= rows)  // checked here because the rows are written below
      throw IndexError(
          fmt::format("Embedding: index {} is out of range for {} rows", ids[i], rows));
    unique.insert(ids[i]);
  }
  detail::dispatch_floating("Embedding", table.dtype(), [&](auto tag) {
    using T = decltype(tag);
    for (std::int64_t id : unique) {
      T* row = table.data<T>() + id * dim;
      double norm = 0.0;
      for (std::int64_t e = 0; e < dim; ++e) norm += std::pow(std::abs(double(row[e])), p);
      norm = std::pow(norm, 1.0 / p);
      if (norm <= max_norm) continue;
      const double scale = max_norm / (norm + 1e-7);  // PyTorch's epsilon
      for (std::int64_t e = 0; e < dim; ++e) row[e] = static_cast<T>(row[e] * scale);
    }
  });
  detail::bump_version(table);
}

Tensor Embedding::forward(const Tensor& indices_view) {
  const Tensor indices = detail::dense(indices_view);  // read as a flat list of ids
  detail::check_defined("Embedding", indices);
  detail::check_index_tensor("Embedding", indices);
  if (quantized_) {
    if (is_training()) detail::refuse_training("Embedding");
    return detail::int8_embedding(indices, *quantized_, weight);
  }
  if (options_.max_norm()) renormalize(weight, indices);
  const auto pad = options_.padding_idx();
  if (!pad) return embedding(weight, indices);

  // The lookup itself, then a backward that leaves the padding row's gradient at zero.
  const std::int64_t count = indices.numel(), rows = options_.num_embeddings();
  Tensor out = embedding(weight.detach(), indices);  // (..., E)
  std::vector<double> keep_values(static_cast<std::size_t>(count));
  const std::int64_t* ids = indices.data<std::int64_t>();
  for (std::int64_t i = 0; i < count; ++i) keep_values[i] = ids[i] == *pad ? 0.0 : 1.0;
  Tensor keep = from_vector(keep_values, {count, 1}).to(weight.dtype());  // (N, 1)
  Tensor flat = indices.reshape({count, 1});                               // (N, 1)
  record_op(out, "Embedding", {weight}, [keep, flat, rows](const Tensor& g) {
    const std::int64_t dim = g.size(-1);
    Tensor rows_grad = g.reshape({flat.size(0), dim}) * keep;  // (N, E)
    return std::vector<Tensor>{scatter_add(zeros({rows, dim}, g.dtype()), 0,
                                           flat.expand({flat.size(0), dim}), rows_grad)};
  });
  return out;
}

void Embedding::quantize() {
  Tensor table = weight.detach();  // (V, E)
  if (options_.max_norm()) {  // every row as a lookup would leave it, without changing the weight
    table = table.clone();
    std::vector<std::int64_t> all(static_cast<std::size_t>(options_.num_embeddings()));
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::int64_t>(i);
    renormalize(table, from_vector(all));
  }
  quantized_ = std::make_shared<const detail::Int8Table>(detail::quantize_table("Embedding", table));
}

}  // namespace loom
