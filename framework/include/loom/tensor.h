#pragma once
/// The Tensor: an n-dimensional array (float32 by default, float64, or int64 for indices) that can
/// record the operations applied to it so that `backward()` computes gradients.
///
///     auto x = loom::randn({4, 3}).requires_grad_();   // (4, 3)
///     auto y = (x * x).sum();                           // scalar
///     y.backward();                                     // x.grad() == 2 * x
///
/// A Tensor is a cheap handle: copies share storage and autograd state; `clone()` copies data.
/// Public headers never include xsimd or BLAS; storage is reached through `data<T>()`.
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "loom/errors.h"
#include "loom/indexing.h"

namespace loom {

enum class Dtype { Float32, Float64, Int64 };

/// "float32", "float64" or "int64".
const char* dtype_name(Dtype dtype);
/// Bytes per element.
std::size_t dtype_size(Dtype dtype);

using Shape = std::vector<std::int64_t>;
/// "(2, 3)": the form every error message uses.
std::string shape_str(const Shape& shape);

struct TensorImpl;  // defined in framework/detail; users never need it.
class Generator;

class Tensor {
 public:
  /// An undefined tensor (no storage); `defined()` is false.
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  std::int64_t dim() const;
  /// Size of one axis; negative axes count from the end.
  std::int64_t size(std::int64_t axis) const;
  std::int64_t numel() const;
  Dtype dtype() const;
  bool is_floating_point() const;

  /// Elements between consecutive entries of each axis in the shared storage (row-major for a
  /// tensor an op made; permuted, scaled or zero in a view).
  const std::vector<std::int64_t>& strides() const;
  /// True when the values lie row-major without gaps, so `data<T>()` can hand them out.
  bool is_contiguous() const;
  /// This tensor when contiguous, else a row-major copy (differentiable).
  Tensor contiguous() const;

  /// Raw contiguous row-major storage. T must match dtype() (float, double or int64_t). Throws
  /// LayoutError for a view that is not contiguous (`x.t()`, `x.select(1, 0)`...): call
  /// `contiguous()` first.
  template <class T>
  T* data();
  template <class T>
  const T* data() const;
  /// The single value of a one-element tensor, converted to double.
  double item() const;
  /// All values, converted to T.
  template <class T>
  std::vector<T> to_vector() const;

  // ---- autograd -------------------------------------------------------------------------------
  bool requires_grad() const;
  /// Marks a leaf tensor as needing a gradient; returns *this for chaining.
  Tensor& requires_grad_(bool requires = true);
  /// The accumulated gradient (undefined until a backward pass reaches this tensor).
  Tensor grad() const;
  void set_grad(const Tensor& grad);
  /// Drops the accumulated gradient.
  void zero_grad();
  /// True for tensors created by the user rather than by an operation.
  bool is_leaf() const;
  /// Keep the gradient of a non-leaf tensor after backward (leaves always keep theirs).
  void retain_grad();
  /// Reverse-mode differentiation from this tensor. A non-scalar needs `gradient` of its shape.
  /// The graph and its saved activations are freed afterwards unless `retain_graph`.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  /// The same storage, cut from the graph: no gradient flows through the result.
  Tensor detach() const;

  // ---- copies and conversions -----------------------------------------------------------------
  /// A deep copy of the data; differentiable.
  Tensor clone() const;
  /// Converts to another dtype (a copy; differentiable between float types).
  Tensor to(Dtype dtype) const;
  /// Copies `source` (same shape and dtype) into this tensor's storage, in place, without
  /// recording a graph. For parameter updates and loading weights; into a view, it writes the
  /// viewed part of the storage.
  void copy_(const Tensor& source);
  /// Fills the storage in place with one value (no graph).
  void fill_(double value);

  // ---- shape (all differentiable) -------------------------------------------------------------
  // Views: the result shares this tensor's storage (a write through one shows in the other) and
  // costs no copy; reshape copies only a tensor that is not contiguous.
  /// New shape with the same number of elements; one axis may be -1.
  Tensor reshape(const Shape& shape) const;
  /// As reshape, for a contiguous tensor only (LayoutError otherwise): always a view.
  Tensor view(const Shape& shape) const;
  Tensor flatten(std::int64_t start_axis = 0, std::int64_t end_axis = -1) const;
  Tensor transpose(std::int64_t axis0, std::int64_t axis1) const;
  /// Matrix transpose of a 2-D tensor.
  Tensor t() const;
  Tensor permute(const std::vector<std::int64_t>& order) const;
  Tensor squeeze(std::int64_t axis) const;
  Tensor unsqueeze(std::int64_t axis) const;
  /// `length` entries of `axis` starting at `start`.
  Tensor narrow(std::int64_t axis, std::int64_t start, std::int64_t length) const;
  /// Entries [start, stop) with a step along `axis`; negative indices count from the end.
  Tensor slice(std::int64_t axis, std::int64_t start, std::int64_t stop,
               std::int64_t step = 1) const;
  /// One entry of `axis`, which is removed: x.select(0, i) is x[i].
  Tensor select(std::int64_t axis, std::int64_t index) const;
  /// Broadcasts to `shape` (NumPy rules).
  Tensor expand(const Shape& shape) const;
  /// Python-style indexing from slice and select, axis by axis (loom/indexing.h):
  /// `x.index({Slice(1, 3), 0})` is x[1:3, 0], `x.index({Ellipsis, -1})` is x[..., -1].
  Tensor index(const std::vector<indexing::TensorIndex>& indices) const;

  // ---- reductions as methods (see ops.h for the full set) -------------------------------------
  Tensor sum() const;
  Tensor mean() const;

  /// Multi-line printout with shape and dtype, as fmt formats it.
  std::string to_string() const;

  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }

 private:
  std::shared_ptr<TensorImpl> impl_;
};

// ---- creation -------------------------------------------------------------------------------
Tensor empty(const Shape& shape, Dtype dtype = Dtype::Float32);
Tensor zeros(const Shape& shape, Dtype dtype = Dtype::Float32);
Tensor ones(const Shape& shape, Dtype dtype = Dtype::Float32);
Tensor full(const Shape& shape, double value, Dtype dtype = Dtype::Float32);
Tensor zeros_like(const Tensor& like);
Tensor ones_like(const Tensor& like);
Tensor full_like(const Tensor& like, double value);
/// Zero-dimensional tensor holding one value.
Tensor scalar_tensor(double value, Dtype dtype = Dtype::Float32);
/// start, start+step, ... < stop.
Tensor arange(double start, double stop, double step = 1.0, Dtype dtype = Dtype::Float32);
/// Copies `values` into a tensor of `shape` (1-D of values.size() when shape is empty).
Tensor from_vector(const std::vector<float>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<double>& values, const Shape& shape = {});
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape = {});
/// Standard normal samples (mean 0, std 1), from `generator` or the default one.
Tensor randn(const Shape& shape, Dtype dtype = Dtype::Float32, Generator* generator = nullptr);
/// Uniform samples in [low, high).
Tensor rand(const Shape& shape, double low = 0.0, double high = 1.0,
            Dtype dtype = Dtype::Float32, Generator* generator = nullptr);
/// Uniform integers in [low, high), as int64.
Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape,
               Generator* generator = nullptr);

// ---- arithmetic operators (broadcasting, differentiable) ------------------------------------
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

/// `value` as a 0-d tensor of t's dtype: the operand of the integer-scalar operators below.
Tensor integer_scalar_like(const Tensor& t, std::int64_t value);
/// An integer scalar keeps an int64 tensor int64 (`lengths - 1`), as PyTorch's Python ints do;
/// with a float tensor it is that float. (A double scalar makes an int64 tensor float32.)
#define LOOM_INTEGER_SCALAR_OPERATOR(op)                                                         \
  template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>> \
  Tensor operator op(const Tensor& a, I b) {                                                     \
    return a op integer_scalar_like(a, static_cast<std::int64_t>(b));                            \
  }                                                                                              \
  template <class I, class = std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>>> \
  Tensor operator op(I a, const Tensor& b) {                                                     \
    return integer_scalar_like(b, static_cast<std::int64_t>(a)) op b;                            \
  }
LOOM_INTEGER_SCALAR_OPERATOR(+)
LOOM_INTEGER_SCALAR_OPERATOR(-)
LOOM_INTEGER_SCALAR_OPERATOR(*)
LOOM_INTEGER_SCALAR_OPERATOR(/)
#undef LOOM_INTEGER_SCALAR_OPERATOR

/// Prints `t.to_string()`: `std::cout << x;` as PyTorch's `std::cout << tensor`.
std::ostream& operator<<(std::ostream& out, const Tensor& t);

}  // namespace loom
