#pragma once
/// Differentiable operations, each a free function. Binary elementwise ops broadcast with NumPy's
/// rules. add, sub, mul, div, minimum, maximum, the comparisons and where also take int64 and
/// promote as PyTorch does: int64 with int64 stays int64 (div divides truly, giving float32),
/// int64 with a float tensor becomes that float; float32 with float64 is a DtypeError. The other
/// ops take float32 or float64. Axes may be negative (counted from the end).
///
///     auto logits = loom::matmul(x, w) + b;                 // (B, C)
///     auto loss = loom::cross_entropy(logits, targets);     // targets: int64 (B)
///     loss.backward();
#include <cstdint>
#include <vector>

#include "loom/tensor.h"

namespace loom {

using Axes = std::vector<std::int64_t>;

// ---- elementwise arithmetic -----------------------------------------------------------------
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor neg(const Tensor& x);
/// x ** exponent, elementwise.
Tensor pow(const Tensor& x, double exponent);
/// base ** exponent elementwise with broadcasting; base must be positive where it matters.
Tensor pow(const Tensor& base, const Tensor& exponent);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
/// Limits x to [low, high]; the gradient is zero where x was clipped.
Tensor clamp(const Tensor& x, double low, double high);
/// Elementwise minimum / maximum of two tensors (broadcasting); ties send the gradient to `a`.
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
/// condition ? a : b elementwise (broadcasting); `condition` is nonzero-means-true of any dtype.
/// Differentiable in a and b.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
/// x with `value` where `mask` (any dtype, nonzero = true) is nonzero; mask broadcasts to x.
/// Differentiable in x; an int64 x gets value truncated to an integer, as in PyTorch.
Tensor masked_fill(const Tensor& x, const Tensor& mask, double value);

// ---- comparisons (not differentiable) --------------------------------------------------------
// Loom has no bool dtype: a comparison returns 0/1 in the operands' promoted dtype (int64 for
// two int64 tensors, else float), ready for where, masked_fill or a product. A length mask:
//     loom::lt(loom::arange(0, T, 1, loom::Dtype::Int64), lengths.unsqueeze(1));   // (B, T) int64
Tensor eq(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);

// ---- linear algebra -------------------------------------------------------------------------
/// Matrix product through BLAS: (M, K) @ (K, N) -> (M, N); batched (..., M, K) @ (..., K, N)
/// with broadcasting batch axes; (..., M, K) @ (K, N) runs as one GEMM.
Tensor matmul(const Tensor& a, const Tensor& b);
/// x @ weight^T + bias, as torch.nn.functional.linear: x (..., in), weight (out, in), bias (out)
/// or undefined -> (..., out). One GEMM forward and one per gradient, with no transposed copies.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// ---- reductions -----------------------------------------------------------------------------
/// Sum over `axes` (all axes when empty).
Tensor sum(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Axes& axes = {}, bool keepdim = false);
/// Maximum / minimum over one axis; the gradient goes to the first maximal entry.
Tensor max(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor min(const Tensor& x, std::int64_t axis, bool keepdim = false);
/// Maximum / minimum of all entries (0-d); the gradient is shared evenly by the entries equal to
/// it, as PyTorch's full max does. NaN wins over any number.
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
/// Index of the maximum / minimum over one axis (int64, not differentiable); ties go to the
/// first index, NaN wins, as in PyTorch.
Tensor argmax(const Tensor& x, std::int64_t axis, bool keepdim = false);
Tensor argmin(const Tensor& x, std::int64_t axis, bool keepdim = false);
/// Index of the maximum / minimum in the flattened tensor (0-d int64).
Tensor argmax(const Tensor& x);
Tensor argmin(const Tensor& x);
/// log(sum(exp(x))) over one axis, computed stably.
Tensor logsumexp(const Tensor& x, std::int64_t axis, bool keepdim = false);

// ---- activations ----------------------------------------------------------------------------
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
/// Exact GELU, x * Phi(x), as PyTorch's default.
Tensor gelu(const Tensor& x);
/// log(1 + exp(beta x)) / beta; linear above `threshold` as in PyTorch.
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor softmax(const Tensor& x, std::int64_t axis);
Tensor log_softmax(const Tensor& x, std::int64_t axis);

// ---- normalisation --------------------------------------------------------------------------
/// torch.nn.functional.layer_norm: normalises over the trailing `normalized_shape` axes to mean 0
/// and (biased) variance 1, plus eps, then multiplies by `weight` and adds `bias` (each of shape
/// normalized_shape, or undefined). One pass over each row forward and backward.
///     auto y = loom::layer_norm(x, {512}, gamma, beta);    // (B, T, 512) -> (B, T, 512)
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = Tensor(),
                  const Tensor& bias = Tensor(), double eps = 1e-5);

// ---- losses ---------------------------------------------------------------------------------
enum class Reduction { Mean, Sum, None };

struct CrossEntropyOptions {
  std::int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::Mean;
  Tensor weight;  // (C) per-class weights, as PyTorch's `weight`; undefined means all ones
  CrossEntropyOptions& set_ignore_index(std::int64_t v) { ignore_index = v; return *this; }
  CrossEntropyOptions& set_label_smoothing(double v) { label_smoothing = v; return *this; }
  CrossEntropyOptions& set_reduction(Reduction v) { reduction = v; return *this; }
  CrossEntropyOptions& set_weight(Tensor v) { weight = std::move(v); return *this; }
};

/// Cross entropy of logits (N, C) against int64 class indices (N). Targets equal to
/// ignore_index contribute nothing; the mean is over the non-ignored targets (as PyTorch).
/// With class weights w, sample i counts w[target_i] times (the smoothing term weighs class c
/// by w[c]) and the mean divides by the sum of w[target_i] — PyTorch's definition.
Tensor cross_entropy(const Tensor& logits, const Tensor& targets,
                     const CrossEntropyOptions& options = {});
/// Negative log likelihood of log-probabilities (N, C) against int64 indices (N).
Tensor nll_loss(const Tensor& log_probs, const Tensor& targets,
                const CrossEntropyOptions& options = {});
Tensor mse_loss(const Tensor& prediction, const Tensor& target,
                Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& prediction, const Tensor& target,
               Reduction reduction = Reduction::Mean);
/// Binary cross entropy on logits (stable: max(x,0) - x*y + log(1 + exp(-|x|))).
Tensor binary_cross_entropy_with_logits(const Tensor& logits, const Tensor& target,
                                        Reduction reduction = Reduction::Mean);

// ---- regularisation -------------------------------------------------------------------------
/// Inverted dropout: zeroes each entry with probability p and scales the rest by 1/(1-p) when
/// `training`; the identity otherwise.
Tensor dropout(const Tensor& x, double p, bool training, Generator* generator = nullptr);

// ---- indexing and joining -------------------------------------------------------------------
/// Rows of `weight` (V, E) picked by int64 `indices` of any shape -> (..., E). The backward adds
/// only into the rows that were used.
Tensor embedding(const Tensor& weight, const Tensor& indices);
/// Entries of `axis` picked by a 1-D int64 `indices`.
Tensor index_select(const Tensor& x, std::int64_t axis, const Tensor& indices);
/// out[i][j] = x[i][index[i][j]] for axis 1 (generally along `axis`); index is int64 and has
/// x's rank.
Tensor gather(const Tensor& x, std::int64_t axis, const Tensor& index);
/// A copy of x with src added at the positions `index` names along `axis`.
Tensor scatter_add(const Tensor& x, std::int64_t axis, const Tensor& index, const Tensor& src);
/// Joins tensors along an existing axis.
Tensor concat(const std::vector<Tensor>& tensors, std::int64_t axis);
/// Joins tensors along a new axis.
Tensor stack(const std::vector<Tensor>& tensors, std::int64_t axis);

// ---- cutting: views of one tensor, recorded as one node of several outputs ------------------
// The pieces share x's storage, as slices do; the backward writes each used piece's gradient into
// its region of one gradient of x's shape. As PyTorch's split, chunk and unbind.
//
//     std::vector<Tensor> gates = loom::chunk(preactivation, 4, 1);  // (B, 4H) -> 4 x (B, H)
/// Cuts `axis` into pieces of `split_size`, the last one shorter when they do not divide it.
std::vector<Tensor> split(const Tensor& x, std::int64_t split_size, std::int64_t axis);
/// Cuts `axis` into pieces of the given sizes, which must add up to its length.
std::vector<Tensor> split(const Tensor& x, const std::vector<std::int64_t>& sizes,
                          std::int64_t axis);
/// Cuts `axis` into `chunks` pieces of ceil(length / chunks), the last one shorter: fewer than
/// `chunks` pieces when that many do not fit (6 into 4 gives 2, 2, 2), as torch.chunk.
std::vector<Tensor> chunk(const Tensor& x, std::int64_t chunks, std::int64_t axis);
/// The entries of `axis`, each without that axis: unbind(x, 1) of (B, T, F) is T x (B, F).
std::vector<Tensor> unbind(const Tensor& x, std::int64_t axis);

}  // namespace loom
