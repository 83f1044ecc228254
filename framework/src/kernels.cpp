// Shared loop helpers and the BLAS entry point.
#include <sys/mman.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <complex>  // cxxblas uses it without including it
#include <mutex>

#include <xtensor-blas/xblas_config.hpp>  // before cxxblas: it binds cxxblas to CBLAS
#include <xflens/cxxblas/cxxblas.cxx>

#include "detail/kernels.h"
#include "loom/runtime.h"

namespace loom::detail {

std::vector<std::int64_t> broadcast_strides(const Shape& shape, const std::vector<std::int64_t>& strides,
                                           const Shape& out_shape) {
  const std::size_t lead = out_shape.size() - shape.size();
  std::vector<std::int64_t> out(out_shape.size(), 0);
  for (std::size_t i = 0; i < shape.size(); ++i) out[lead + i] = shape[i] == 1 ? 0 : strides[i];
  return out;
}

std::vector<std::int64_t> broadcast_strides(const Tensor& t, const Shape& out_shape) {
  return broadcast_strides(t.shape(), t.strides(), out_shape);
}

AxisLayout axis_layout(const Shape& shape, std::int64_t axis) {
  AxisLayout layout;
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(shape.size()); ++i) {
    if (i < axis) layout.outer *= shape[i];
    else if (i == axis) layout.length = shape[i];
    else layout.inner *= shape[i];
  }
  return layout;
}

namespace {
// C = beta * C: what a GEMM with an empty inner dimension computes (BLAS rejects lda = 0).
template <class T>
void scale_rows(std::int64_t m, std::int64_t n, T beta, T* c, std::int64_t ldc) {
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
}

// One single-threaded BLAS call on this thread, through xtensor-blas's binding (cxxblas::gemm, one
// overload per type over cblas_sgemm and cblas_dgemm). Not through xt::blas::gemm, which calls it
// for whole arrays only: a block of a wider matrix (the per-thread blocks below, conv's groups) has a
// leading dimension larger than its width, which a row-major xtensor adaptor cannot carry (xtensor
// throws "Cannot resize with custom strides" for a static layout) and a dynamic one is copied first.
template <class T>
void blas_gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
               const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  using Index = xt::blas_index_t;
  const auto op = [](bool transpose) { return transpose ? cxxblas::Transpose::Trans : cxxblas::Transpose::NoTrans; };
  cxxblas::gemm<Index>(cxxblas::StorageOrder::RowMajor, op(transpose_a), op(transpose_b), static_cast<Index>(m),
                       static_cast<Index>(n), static_cast<Index>(k), alpha, a, static_cast<Index>(lda), b,
                       static_cast<Index>(ldb), beta, c, static_cast<Index>(ldc));
}

// OpenBLAS (0.3.x on x86-64) gives each call running at the same time a work buffer of 128 MiB
// and a page of address space, mapped when a call first needs it and kept for the life of the
// process. When the address-space limit (ulimit -v) leaves no room for one, its allocator retries
// forever: the program spins without a word. So the first time GEMMs may run on `threads`
// threads under such a limit, the room for their buffers is checked (a ResourceError says what
// is missing) and, outside a parallel region, every thread maps its buffer at once with a small
// product of its own, all at the same time, while the room is there. Without a limit: nothing.
constexpr std::size_t kBlasBufferBytes = (std::size_t{128} << 20) + 4096;

void reserve_blas_buffers(int threads) {
  static std::atomic<int> reserved{0};
  if (threads <= reserved.load(std::memory_order_acquire)) return;
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  const int have = reserved.load(std::memory_order_relaxed);
  if (threads <= have) return;
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    const std::size_t needed = static_cast<std::size_t>(threads - have) * kBlasBufferBytes;
    void* room = mmap(nullptr, needed, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (room == MAP_FAILED)
      throw ResourceError(fmt::format(
          "gemm: OpenBLAS needs {} MiB more address space for its work buffers (128 MiB for each of {} "
          "thread{}){}; raise the limit by at least that much (the job's tensors need more) or run fewer threads",
          needed >> 20, threads, threads == 1 ? "" : "s", address_space_note()));
    munmap(room, needed);
    if (in_parallel_region()) return;  // checked only: the next GEMM outside a region maps them
    std::atomic<int> arrived{0};
    parallel_run(threads, [&](int) {
      // Wait (briefly) for the others, so that the calls overlap and each maps a buffer.
      arrived.fetch_add(1);
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
      while (arrived.load() < threads && std::chrono::steady_clock::now() < give_up) {}
      constexpr std::int64_t kSide = 256;  // above OpenBLAS's small-matrix paths, which map nothing
      std::vector<float> square(kSide * kSide, 1.0f), product(kSide * kSide);
      blas_gemm(false, false, kSide, kSide, kSide, 1.0f, square.data(), kSide, square.data(), kSide, 0.0f,
                product.data(), kSide);
    });
  }
  reserved.store(threads, std::memory_order_release);
}

}  // namespace

// The product is cut into one block of C per thread, each a single-threaded BLAS call on Loom's
// workers: rows when C is at least as tall as it is wide, else columns (in whole cache lines of
// C, so no two threads write one line). One pool then runs everything; OpenBLAS's own would spin
// beside Loom's between calls (runtime.h). Products under kGemmFlopsPerThread per thread stay on the
// caller.
template <class T>
void gemm(bool transpose_a, bool transpose_b, std::int64_t m, std::int64_t n, std::int64_t k, T alpha, const T* a,
          std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* c, std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) return scale_rows(m, n, beta, c, ldc);
  reserve_blas_buffers(get_num_threads());
  const bool split_rows = m >= n;
  const std::int64_t extent = split_rows ? m : n;
  const int threads = static_cast<int>(std::clamp<double>(
      std::min<double>(2.0 * m * n * k / kGemmFlopsPerThread, static_cast<double>(extent)), 1, get_num_threads()));
  if (threads == 1 || in_parallel_region())
    return blas_gemm(transpose_a, transpose_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  constexpr std::int64_t kColumnAlignment = 64 / sizeof(T);
  parallel_run(threads, [&](int thread) {
    auto boundary = [&](int t) {
      if (t == threads) return extent;
      const std::int64_t at = extent * t / threads;
      return split_rows ? at : at / kColumnAlignment * kColumnAlignment;
    };
    const std::int64_t begin = boundary(thread), end = boundary(thread + 1);
    if (begin >= end) return;
    if (split_rows)
      blas_gemm(transpose_a, transpose_b, end - begin, n, k, alpha, transpose_a ? a + begin : a + begin * lda, lda,
                b, ldb, beta, c + begin * ldc, ldc);
    else
      blas_gemm(transpose_a, transpose_b, m, end - begin, k, alpha, a, lda, transpose_b ? b + begin * ldb : b + begin,
                ldb, beta, c + begin, ldc);
  });
}

template void gemm<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, float, const float*, std::int64_t,
                          const float*, std::int64_t, float, float*, std::int64_t);
template void gemm<double>(bool, bool, std::int64_t, std::int64_t, std::int64_t, double, const double*, std::int64_t,
                           const double*, std::int64_t, double, double*, std::int64_t);

}  // namespace loom::detail
