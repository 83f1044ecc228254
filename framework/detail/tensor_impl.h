#pragma once
// Private: the storage and autograd state behind a Tensor handle, and the helpers every op uses
// to check its arguments and record its backward. No xsimd here; see detail/kernels.h.
#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "loom/autograd.h"
#include "loom/errors.h"
#include "loom/tensor.h"

namespace loom {

/// One 64-byte aligned allocation, shared by every tensor viewing it.
struct Storage {
  explicit Storage(std::size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data;
  std::size_t bytes;     // as asked for
  std::size_t capacity;  // as allocated: rounded up, or a larger cached block reused
  // Counts in-place writes (copy_, fill_, initialisers, optimiser steps), so that backward can
  // tell a saved value was changed after the op read it, as PyTorch's version counter does.
  std::uint64_t version = 0;
};

/// A recorded operation: its inputs and the closure computing their gradients. The closure
/// captures saved values only (never the outputs' handles), so the graph has no cycles. Each
/// output's TensorImpl points here through `grad_fn`, with its place in `output_index`.
struct Node {
  const char* name;
  std::vector<Tensor> inputs;
  // One gradient per output in (undefined for an output the pass gave none), one per input out.
  MultiOutputBackwardFunction backward;
  std::size_t num_outputs = 1;
  // The storage of each tensor the backward reads, with its version when the op ran.
  std::vector<std::pair<std::shared_ptr<Storage>, std::uint64_t>> saved_versions;
  // Set (instead of `backward`) for a view that picks part of its one input (slice, narrow):
  // maps the input's gradient buffer to the part, into which the engine adds the view's gradient.
  // So T slices of one tensor cost T slices, not T zero tensors of the input's shape.
  std::function<Tensor(const Tensor& input_gradient)> input_region;
  bool released = false;  // the saved values were freed by a backward pass
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  std::size_t offset = 0;  // in elements, of the first value within the storage
  Shape shape;
  // In elements, one per axis: a view (transpose, slice, expand...) reads the storage through
  // permuted, scaled or zero strides; a tensor an op allocates is row-major.
  std::vector<std::int64_t> strides;
  Dtype dtype = Dtype::Float32;
  bool requires_grad = false;
  bool retains_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  std::size_t output_index = 0;  // which of grad_fn's outputs this tensor is
  // Leaves only; null (one pointer test per leaf in backward) unless someone listens.
  std::shared_ptr<const PostAccumulateGradHook> post_accumulate_grad_hook;
};

namespace detail {

std::int64_t numel_of(const Shape& shape);
/// Row-major strides in elements.
std::vector<std::int64_t> contiguous_strides(const Shape& shape);
/// True when `strides` walk `shape` row-major without gaps (size-1 axes may have any stride).
bool is_row_major(const Shape& shape, const std::vector<std::int64_t>& strides);
/// The first value of `t` in its storage, whatever its strides: for kernels that read views
/// through their strides (data<T>() accepts contiguous tensors only).
template <class T>
T* first_element(const Tensor& t) {
  return static_cast<T*>(t.impl()->storage->data) + t.impl()->offset;
}
/// Marks an in-place write into `t`'s storage (see Storage::version).
inline void bump_version(const Tensor& t) { ++t.impl()->storage->version; }

/// `t` made contiguous (undefined stays undefined): what an op whose kernel walks the storage
/// row-major calls on its operands first.
inline Tensor dense(const Tensor& t) { return t.defined() ? t.contiguous() : t; }
/// `t`'s data<T>(), or null when it is undefined: for loops that read optional buffers through
/// plain pointers taken once (data<T>() checks the layout on every call). T* from a Tensor,
/// const T* from a const Tensor.
template <class T, class TensorRef>
auto data_or_null(TensorRef& t) {
  return t.defined() ? t.template data<T>() : nullptr;
}
/// Copies `source` into `target` (same shape and dtype), each read through its own strides.
void copy_strided(const Tensor& source, Tensor& target);

/// Axis in [0, rank), or IndexError naming `op`.
std::int64_t normalize_axis(const char* op, std::int64_t axis, std::int64_t rank);
/// NumPy broadcast of two shapes, or ShapeError naming `op`.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// DtypeError unless `t` is float32 or float64.
void check_floating(const char* op, const Tensor& t);
/// The first byte of a tensor's data, whatever its dtype.
char* raw_bytes(const Tensor& t);
/// DtypeError unless `dtype` is float32 or float64.
void check_floating_dtype(const char* op, Dtype dtype);
/// DtypeError unless both are floating and of one dtype.
void check_same_floating(const char* op, const Tensor& a, const Tensor& b);
/// DtypeError unless `t` holds int64 indices.
void check_index_tensor(const char* op, const Tensor& t);
/// Error unless `t` is defined.
void check_defined(const char* op, const Tensor& t);

/// True when grad mode is on and some input requires a gradient.
bool needs_graph(const std::vector<Tensor>& inputs);

/// Records `output` as a view of part of `input`: `region(g)` applies the same view to a tensor
/// of the input's shape (see Node::input_region).
void record_region_view(Tensor& output, const char* name, const Tensor& input,
                        std::function<Tensor(const Tensor& input_gradient)> region);

/// Sums `grad` down to `shape` (undoing broadcasting).
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace detail
}  // namespace loom
