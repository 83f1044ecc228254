// Tensor handles, storage, creation and the checks every op shares.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <ostream>
#include <string_view>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "detail/tensor_impl.h"
#include "loom/ops.h"
#include "loom/random.h"
#include "loom/runtime.h"

namespace loom {

// ---- storage --------------------------------------------------------------------------------

namespace {

// A training step frees and allocates the same large buffers (activations, logits, gradients)
// every step. glibc serves blocks above its mmap threshold (128 KiB at first, rising to at most
// 32 MiB as such blocks are freed) with fresh mmaps, unmaps them on free and trims the heap top,
// so each step paid page faults and page zeroing again for the same memory: 15% of the
// seq2seq-with-attention step was in the kernel, and these two settings cut that step by about
// a fifth (bench/README.md). Set once, before Loom's first tensor; LOOM_MALLOC_TUNING=0 leaves
// malloc as the program configured it.
bool malloc_tuning_enabled() {
  static const bool enabled = [] {
    const char* setting = std::getenv("LOOM_MALLOC_TUNING");
    if (setting && std::string_view(setting) == "0") return false;
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);   // blocks up to 32 MiB come from (and return to) the heap
    mallopt(M_TRIM_THRESHOLD, 256 << 20);  // keep up to 256 MiB of free heap top for the next step
#endif
    return true;
  }();
  return enabled;
}

// Blocks above 32 MiB, glibc's highest mmap threshold, are still mapped on every malloc and
// unmapped on every free: at T=512 a char-LM step faulted in and zeroed ~760 MB of activation
// and gradient buffers afresh (134 MB per [T*B, 4H] gate buffer), 20% of the step in the kernel.
// Freed blocks that large wait here, newest last, for the next request of their size (up to an
// eighth smaller, so bucketed lengths reuse them too); past `capacity` the oldest are freed.
class LargeBlockCache {
 public:
  static constexpr std::size_t smallest = std::size_t{32} << 20;
  static constexpr std::size_t capacity = std::size_t{1} << 30;

  static LargeBlockCache& instance() {
    static auto* cache = new LargeBlockCache;  // never destroyed: static tensors may die after it
    return *cache;
  }

  // The smallest cached block holding `bytes` and not over an eighth larger; nullptr if none.
  void* take(std::size_t bytes, std::size_t& block_bytes) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto best = blocks_.end();
    for (auto it = blocks_.begin(); it != blocks_.end(); ++it)
      if (it->bytes >= bytes && it->bytes - bytes <= bytes / 8 && (best == blocks_.end() || it->bytes < best->bytes))
        best = it;
    if (best == blocks_.end()) return nullptr;
    void* data = best->data;
    block_bytes = best->bytes;
    cached_bytes_ -= best->bytes;
    blocks_.erase(best);
    return data;
  }

  void put(void* data, std::size_t bytes) {
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks_.push_back({data, bytes});
      cached_bytes_ += bytes;
      while (cached_bytes_ > capacity) {
        evicted.push_back(blocks_.front().data);
        cached_bytes_ -= blocks_.front().bytes;
        blocks_.erase(blocks_.begin());
      }
    }
    for (void* block : evicted) std::free(block);
  }

  void release() {
    std::vector<Block> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(blocks_);
      cached_bytes_ = 0;
    }
    for (const Block& block : blocks) std::free(block.data);
  }

 private:
  struct Block {
    void* data;
    std::size_t bytes;
  };
  std::mutex mutex_;
  std::vector<Block> blocks_;  // oldest first; a handful at most
  std::size_t cached_bytes_ = 0;
};

}  // namespace

void release_cached_memory() { LargeBlockCache::instance().release(); }

namespace {
std::atomic<std::size_t> live_storage_bytes{0}, peak_storage_bytes{0}, allocated_storage_bytes{0};

void count_allocation(std::size_t bytes) {
  allocated_storage_bytes.fetch_add(bytes, std::memory_order_relaxed);
  const std::size_t live = live_storage_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  std::size_t peak = peak_storage_bytes.load(std::memory_order_relaxed);
  while (live > peak && !peak_storage_bytes.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}
}  // namespace

TensorMemoryStats tensor_memory_stats() {
  return {live_storage_bytes.load(), peak_storage_bytes.load(), allocated_storage_bytes.load()};
}

void reset_tensor_memory_stats() {
  peak_storage_bytes.store(live_storage_bytes.load());
  allocated_storage_bytes.store(0);
}

Storage::Storage(std::size_t size_in_bytes) : data(nullptr), bytes(size_in_bytes) {
  const bool tuned = malloc_tuning_enabled();  // before the first allocation
  constexpr std::size_t alignment = 64;  // a cache line, and an AVX-512 register
  capacity = (size_in_bytes + alignment - 1) / alignment * alignment;
  if (capacity == 0) capacity = alignment;
  if (tuned && capacity >= LargeBlockCache::smallest)
    data = LargeBlockCache::instance().take(capacity, capacity);
  if (!data) data = std::aligned_alloc(alignment, capacity);
  if (!data && tuned) {  // out of memory: give back the cached blocks and try once more
    release_cached_memory();
    data = std::aligned_alloc(alignment, capacity);
  }
  if (!data)
    throw ResourceError(fmt::format("tensor storage: cannot allocate {:.1f} MiB{}",
                                    static_cast<double>(capacity) / (1 << 20), address_space_note()));
  count_allocation(bytes);
}

Storage::~Storage() {
  live_storage_bytes.fetch_sub(bytes, std::memory_order_relaxed);
  if (malloc_tuning_enabled() && capacity >= LargeBlockCache::smallest)
    LargeBlockCache::instance().put(data, capacity);
  else
    std::free(data);
}

const char* dtype_name(Dtype dtype) {
  switch (dtype) {
    case Dtype::Float32: return "float32";
    case Dtype::Float64: return "float64";
    case Dtype::Int64: return "int64";
  }
  return "unknown";
}

std::size_t dtype_size(Dtype dtype) { return dtype == Dtype::Float32 ? 4 : 8; }

std::string shape_str(const Shape& shape) {
  std::string out = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  if (shape.size() == 1) out += ",";
  return out + ")";
}

namespace detail {

std::int64_t numel_of(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<std::int64_t> contiguous_strides(const Shape& shape) {
  std::vector<std::int64_t> strides(shape.size(), 1);
  for (std::size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

bool is_row_major(const Shape& shape, const std::vector<std::int64_t>& strides) {
  std::int64_t expected = 1;
  for (std::size_t i = shape.size(); i-- > 0;) {
    if (shape[i] == 1) continue;
    if (shape[i] == 0) return true;  // no values to misplace
    if (strides[i] != expected) return false;
    expected *= shape[i];
  }
  return true;
}

std::int64_t normalize_axis(const char* op, std::int64_t axis, std::int64_t rank) {
  const std::int64_t bound = std::max<std::int64_t>(rank, 1);  // a scalar accepts axis 0 / -1
  if (axis < -bound || axis >= bound)
    throw IndexError(fmt::format("{}: axis {} is out of range for a tensor of rank {}", op, axis,
                                 rank));
  return axis < 0 ? axis + bound : axis;
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    const std::int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    const std::int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(fmt::format("{}: shapes {} and {} cannot be broadcast together", op,
                                   shape_str(a), shape_str(b)));
    out[i] = da == 1 ? db : da;
  }
  return out;
}

void check_defined(const char* op, const Tensor& t) {
  if (!t.defined()) throw ValueError(fmt::format("{}: got an undefined tensor", op));
}

void check_floating(const char* op, const Tensor& t) {
  check_defined(op, t);
  if (!t.is_floating_point())
    throw DtypeError(fmt::format("{}: expected a float32 or float64 tensor, got {}", op,
                                 dtype_name(t.dtype())));
}

// The first byte of a contiguous tensor: what data<T>() and raw_bytes hand out, so that no
// caller can walk a view as if it were dense.
static char* contiguous_bytes(const char* op, const TensorImpl& impl) {
  if (!is_row_major(impl.shape, impl.strides))
    throw LayoutError(fmt::format("{}: expected a contiguous tensor, got a view of shape {} with strides {}; "
                                  "call contiguous() first",
                                  op, shape_str(impl.shape), shape_str(impl.strides)));
  return static_cast<char*>(impl.storage->data) + impl.offset * dtype_size(impl.dtype);
}

char* raw_bytes(const Tensor& t) { return contiguous_bytes("raw_bytes", *t.impl()); }

void check_floating_dtype(const char* op, Dtype dtype) {
  if (dtype == Dtype::Int64)
    throw DtypeError(fmt::format("{}: expected float32 or float64, got int64", op));
}

void check_same_floating(const char* op, const Tensor& a, const Tensor& b) {
  check_floating(op, a);
  check_floating(op, b);
  if (a.dtype() != b.dtype())
    throw DtypeError(fmt::format("{}: operands have different dtypes: {} and {}", op,
                                 dtype_name(a.dtype()), dtype_name(b.dtype())));
}

void check_index_tensor(const char* op, const Tensor& t) {
  check_defined(op, t);
  if (t.dtype() != Dtype::Int64)
    throw DtypeError(fmt::format("{}: expected int64 indices, got {}", op, dtype_name(t.dtype())));
}

}  // namespace detail

// ---- the handle -----------------------------------------------------------------------------

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

namespace {
const TensorImpl& checked(const TensorImpl* impl) {
  if (!impl) throw ValueError("Tensor: the tensor is undefined");
  return *impl;
}
}  // namespace

const Shape& Tensor::shape() const { return checked(impl_.get()).shape; }
std::int64_t Tensor::dim() const { return static_cast<std::int64_t>(shape().size()); }
std::int64_t Tensor::size(std::int64_t axis) const {
  return shape()[detail::normalize_axis("size", axis, dim())];
}
std::int64_t Tensor::numel() const { return detail::numel_of(shape()); }
Dtype Tensor::dtype() const { return checked(impl_.get()).dtype; }
bool Tensor::is_floating_point() const { return dtype() != Dtype::Int64; }

namespace {
template <class T>
constexpr Dtype dtype_of() {
  if constexpr (std::is_same_v<T, float>) return Dtype::Float32;
  else if constexpr (std::is_same_v<T, double>) return Dtype::Float64;
  else return Dtype::Int64;
}
}  // namespace

template <class T>
T* Tensor::data() {
  const TensorImpl& impl = checked(impl_.get());
  if (impl.dtype != dtype_of<T>())
    throw DtypeError(fmt::format("data: the tensor holds {}, not {}", dtype_name(impl.dtype),
                                 dtype_name(dtype_of<T>())));
  return reinterpret_cast<T*>(detail::contiguous_bytes("data", impl));
}
template <class T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}
template float* Tensor::data<float>();
template double* Tensor::data<double>();
template std::int64_t* Tensor::data<std::int64_t>();
template const float* Tensor::data<float>() const;
template const double* Tensor::data<double>() const;
template const std::int64_t* Tensor::data<std::int64_t>() const;

namespace {
// Reads element i as double whatever the dtype.
double value_at(const Tensor& t, std::int64_t i) {
  switch (t.dtype()) {
    case Dtype::Float32: return t.data<float>()[i];
    case Dtype::Float64: return t.data<double>()[i];
    case Dtype::Int64: return static_cast<double>(t.data<std::int64_t>()[i]);
  }
  return 0.0;
}
void set_value_at(Tensor& t, std::int64_t i, double v) {
  switch (t.dtype()) {
    case Dtype::Float32: t.data<float>()[i] = static_cast<float>(v); break;
    case Dtype::Float64: t.data<double>()[i] = v; break;
    case Dtype::Int64: t.data<std::int64_t>()[i] = static_cast<std::int64_t>(v); break;
  }
}

}  // namespace

const std::vector<std::int64_t>& Tensor::strides() const { return checked(impl_.get()).strides; }
bool Tensor::is_contiguous() const {
  const TensorImpl& impl = checked(impl_.get());
  return detail::is_row_major(impl.shape, impl.strides);
}

double Tensor::item() const {
  if (numel() != 1)
    throw ValueError(fmt::format("item: expected a tensor with one element, got shape {}",
                                 shape_str(shape())));
  return value_at(*this, 0);
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  const Tensor values = contiguous();
  std::vector<T> out(static_cast<std::size_t>(numel()));
  for (std::int64_t i = 0; i < numel(); ++i) out[i] = static_cast<T>(value_at(values, i));
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<std::int64_t> Tensor::to_vector<std::int64_t>() const;

bool Tensor::requires_grad() const { return checked(impl_.get()).requires_grad; }

Tensor& Tensor::requires_grad_(bool requires) {
  checked(impl_.get());
  if (requires && !is_floating_point())
    throw DtypeError(fmt::format("requires_grad_: only floating tensors can require gradients, "
                                 "got {}", dtype_name(dtype())));
  if (!requires && impl_->grad_fn)
    throw AutogradError("requires_grad_: cannot turn off gradients of a non-leaf tensor; "
                        "use detach()");
  impl_->requires_grad = requires;
  return *this;
}

Tensor Tensor::grad() const { return checked(impl_.get()).grad; }
void Tensor::set_grad(const Tensor& grad) {
  checked(impl_.get());
  if (grad.defined() && (grad.shape() != shape() || grad.dtype() != dtype()))
    throw ShapeError(fmt::format("set_grad: expected a {} gradient of shape {}, got {} {}",
                                 dtype_name(dtype()), shape_str(shape()),
                                 dtype_name(grad.dtype()), shape_str(grad.shape())));
  impl_->grad = grad;
}
void Tensor::zero_grad() { checked(impl_.get()), impl_->grad = Tensor(); }
bool Tensor::is_leaf() const { return checked(impl_.get()).grad_fn == nullptr; }
void Tensor::retain_grad() { checked(impl_.get()), impl_->retains_grad = true; }

Tensor Tensor::detach() const {
  const TensorImpl& impl = checked(impl_.get());
  auto out = std::make_shared<TensorImpl>();
  out->storage = impl.storage;
  out->offset = impl.offset;
  out->shape = impl.shape;
  out->strides = impl.strides;
  out->dtype = impl.dtype;
  return Tensor(std::move(out));
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype());
  detail::copy_strided(*this, out);
  record_op(out, "clone", {*this}, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::to(Dtype target) const {
  if (target == dtype()) return *this;
  if (!is_contiguous()) return contiguous().to(target);
  Tensor out = empty(shape(), target);
  for (std::int64_t i = 0; i < numel(); ++i) set_value_at(out, i, value_at(*this, i));
  if (is_floating_point() && target != Dtype::Int64) {
    const Dtype source = dtype();
    record_op(out, "to", {*this},
                   [source](const Tensor& g) { return std::vector<Tensor>{g.to(source)}; });
  }
  return out;
}

void Tensor::copy_(const Tensor& source) {
  detail::check_defined("copy_", source);
  if (source.dtype() != dtype())
    throw DtypeError(fmt::format("copy_: expected a {} tensor, got {}", dtype_name(dtype()),
                                 dtype_name(source.dtype())));
  if (source.shape() != shape())
    throw ShapeError(fmt::format("copy_: expected a {} tensor of shape {}, got {} {}",
                                 dtype_name(dtype()), shape_str(shape()),
                                 dtype_name(source.dtype()), shape_str(source.shape())));
  detail::copy_strided(source, *this);
  detail::bump_version(*this);
}

void Tensor::fill_(double value) {
  if (!is_contiguous()) return copy_(full({}, value, dtype()).expand(shape()));  // a view's part
  // One dtype switch, then a plain fill: zeros() of every gradient buffer comes through here.
  detail::bump_version(*this);
  const std::int64_t n = numel();
  switch (dtype()) {
    case Dtype::Float32: std::fill_n(data<float>(), n, static_cast<float>(value)); break;
    case Dtype::Float64: std::fill_n(data<double>(), n, value); break;
    case Dtype::Int64: std::fill_n(data<std::int64_t>(), n, static_cast<std::int64_t>(value)); break;
  }
}

Tensor Tensor::sum() const { return loom::sum(*this); }
Tensor Tensor::mean() const { return loom::mean(*this); }

// ---- creation -------------------------------------------------------------------------------

Tensor empty(const Shape& shape, Dtype dtype) {
  for (auto d : shape)
    if (d < 0)
      throw ValueError(fmt::format("empty: negative dimension in shape {}", shape_str(shape)));
  auto impl = std::make_shared<TensorImpl>();
  impl->storage =
      std::make_shared<Storage>(static_cast<std::size_t>(detail::numel_of(shape)) *
                                dtype_size(dtype));
  impl->shape = shape;
  impl->strides = detail::contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, Dtype dtype) {
  Tensor out = empty(shape, dtype);
  out.fill_(value);
  return out;
}
Tensor zeros(const Shape& shape, Dtype dtype) {
  Tensor out = empty(shape, dtype);
  std::memset(out.impl()->storage->data, 0, out.impl()->storage->bytes);
  return out;
}
Tensor ones(const Shape& shape, Dtype dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& like) { return zeros(like.shape(), like.dtype()); }
Tensor ones_like(const Tensor& like) { return ones(like.shape(), like.dtype()); }
Tensor full_like(const Tensor& like, double value) {
  return full(like.shape(), value, like.dtype());
}
Tensor scalar_tensor(double value, Dtype dtype) { return full({}, value, dtype); }

Tensor arange(double start, double stop, double step, Dtype dtype) {
  if (step == 0.0 || !std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step))
    throw ValueError(fmt::format("arange: needs finite bounds and a nonzero step, got start={} "
                                 "stop={} step={}", start, stop, step));
  const double count = std::ceil((stop - start) / step);
  const auto n = static_cast<std::int64_t>(std::max(0.0, count));
  Tensor out = empty({n}, dtype);
  for (std::int64_t i = 0; i < n; ++i) set_value_at(out, i, start + step * static_cast<double>(i));
  return out;
}

namespace {
template <class T>
Tensor from_values(const std::vector<T>& values, const Shape& shape, Dtype dtype) {
  const Shape target = shape.empty() ? Shape{static_cast<std::int64_t>(values.size())} : shape;
  if (detail::numel_of(target) != static_cast<std::int64_t>(values.size()))
    throw ShapeError(fmt::format("from_vector: {} values cannot fill shape {}", values.size(),
                                 shape_str(target)));
  Tensor out = empty(target, dtype);
  if (!values.empty()) std::memcpy(out.data<T>(), values.data(), values.size() * sizeof(T));
  return out;
}
}  // namespace

Tensor from_vector(const std::vector<float>& values, const Shape& shape) {
  return from_values(values, shape, Dtype::Float32);
}
Tensor from_vector(const std::vector<double>& values, const Shape& shape) {
  return from_values(values, shape, Dtype::Float64);
}
Tensor from_vector(const std::vector<std::int64_t>& values, const Shape& shape) {
  return from_values(values, shape, Dtype::Int64);
}

Tensor randn(const Shape& shape, Dtype dtype, Generator* generator) {
  detail::check_floating_dtype("randn", dtype);
  Generator& gen = generator ? *generator : default_generator();
  Tensor out = empty(shape, dtype);
  for (std::int64_t i = 0; i < out.numel(); ++i) set_value_at(out, i, gen.normal());
  return out;
}

Tensor rand(const Shape& shape, double low, double high, Dtype dtype, Generator* generator) {
  detail::check_floating_dtype("rand", dtype);
  if (!(low < high))
    throw ValueError(fmt::format("rand: expected low < high, got low={} high={}", low, high));
  Generator& gen = generator ? *generator : default_generator();
  Tensor out = empty(shape, dtype);
  for (std::int64_t i = 0; i < out.numel(); ++i)
    set_value_at(out, i, low + (high - low) * gen.uniform());
  return out;
}

Tensor randint(std::int64_t low, std::int64_t high, const Shape& shape, Generator* generator) {
  if (low >= high)
    throw ValueError(fmt::format("randint: expected low < high, got low={} high={}", low, high));
  Generator& gen = generator ? *generator : default_generator();
  Tensor out = empty(shape, Dtype::Int64);
  const auto range = static_cast<std::uint64_t>(high - low);
  auto* p = out.data<std::int64_t>();
  for (std::int64_t i = 0; i < out.numel(); ++i)
    p[i] = low + static_cast<std::int64_t>(gen.next_u64() % range);
  return out;
}

// ---- printing -------------------------------------------------------------------------------

namespace {
void print_axis(const Tensor& t, std::size_t axis, std::int64_t offset, std::int64_t stride,
                std::string& out, int indent) {
  const std::int64_t n = t.shape()[axis];
  const bool summarise = t.numel() > 1000 && n > 6;  // show the edges of large tensors
  out += '[';
  for (std::int64_t i = 0; i < n; ++i) {
    if (summarise && i == 3) {
      out += axis + 1 == t.shape().size() ? "..., " : "...,\n" + std::string(indent + 1, ' ');
      i = n - 3;
    }
    const std::int64_t inner_stride = stride / std::max<std::int64_t>(n, 1);
    if (axis + 1 == t.shape().size()) {
      const double v = value_at(t, offset + i);
      out += t.is_floating_point() ? fmt::format("{:.4f}", v)
                                   : fmt::format("{}", static_cast<std::int64_t>(v));
    } else {
      print_axis(t, axis + 1, offset + i * inner_stride, inner_stride, out, indent + 1);
    }
    if (i + 1 < n) out += axis + 1 == t.shape().size() ? ", " : ",\n" + std::string(indent + 1, ' ');
  }
  out += ']';
}
}  // namespace

std::string Tensor::to_string() const {
  if (!defined()) return "tensor(undefined)";
  std::string body;
  if (dim() == 0) {
    body = is_floating_point() ? fmt::format("{:.4f}", item())
                               : fmt::format("{}", static_cast<std::int64_t>(item()));
  } else {
    print_axis(contiguous(), 0, 0, numel(), body, 7);
  }
  return fmt::format("tensor({}, shape={}, dtype={}{})", body, shape_str(shape()),
                     dtype_name(dtype()), requires_grad() ? ", requires_grad" : "");
}

std::ostream& operator<<(std::ostream& out, const Tensor& t) { return out << t.to_string(); }

}  // namespace loom
