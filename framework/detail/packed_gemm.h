#pragma once
// Private: a GEMM whose right-hand operand is packed once and reused many times — the recurrent
// weight of a fused RNN layer, multiplied by a small (B, H) state at every time step. OpenBLAS
// repacks its operand on every call, which at M = B = 32 costs ~20% of the step; here the packing
// is paid once per sequence.
//
// The packed operand B (K, N) is N columns in `groups` equal groups of `group_cols` columns
// (the gates of an LSTM or GRU), each group cut into panels of kPanelWidth columns (the last one
// zero-padded), each panel stored k-major: panel[k][j]. A thread computes whole panels, so the
// recurrent loop can split the hidden units of every gate between threads.
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

#include "detail/simd_level.h"

namespace loom::detail {

/// std::allocator with 64-byte alignment: a panel row is one cache line (and one AVX-512 load).
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64})); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t{64}); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};

template <class T>
struct PackedMatrix {
  /// Columns per panel: one cache line, two 256-bit vectors or one 512-bit vector.
  static constexpr std::int64_t kPanelWidth = 64 / sizeof(T);
  std::int64_t depth = 0;             // K
  std::int64_t groups = 1;            // column groups (gates)
  std::int64_t group_cols = 0;        // columns per group; N = groups * group_cols
  std::int64_t panels_per_group = 0;  // ceil(group_cols / kPanelWidth)
  // The float micro-kernel, set by packing (select_simd_level()); float64 always runs the plain
  // loop. Each kernel accumulates every entry of C in the same order (one fused multiply-add per
  // k, then C added once), so AVX2 and AVX-512 give the same bits.
  SimdLevel kernel = SimdLevel::Portable;
  std::vector<T, CacheLineAllocator<T>> data;    // (groups, panels_per_group, K, kPanelWidth)
};

/// Packs B = W^T for a row-major W (N, K) — the forward recurrent product h W_hh^T.
template <class T>
void pack_transposed(const T* w, std::int64_t n, std::int64_t k, std::int64_t groups,
                     PackedMatrix<T>& packed);
/// Packs B = W for a row-major W (K, N) — the backward product dG W_hh.
template <class T>
void pack(const T* w, std::int64_t k, std::int64_t n, std::int64_t groups, PackedMatrix<T>& packed);

/// C[:, columns of panels [panel_begin, panel_end) of every group] (+)= A B, for a row-major
/// A (M, K) with leading dimension lda and C (M, N) with leading dimension ldc. `accumulate`
/// adds to C (beta = 1), otherwise C is overwritten (beta = 0).
template <class T>
void gemm_packed(std::int64_t m, const T* a, std::int64_t lda, const PackedMatrix<T>& b,
                 std::int64_t panel_begin, std::int64_t panel_end, T* c, std::int64_t ldc,
                 bool accumulate);

}  // namespace loom::detail
