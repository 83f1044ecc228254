#pragma once
// Private: Loom's buffers read and written by xtensor as expressions, without a copy (issue 19,
// item 3). Only the sources that compute with them include this header: xtensor's headers are
// heavy, and every translation unit that includes them must see XTENSOR_USE_XSIMD alike (CMake's
// xtensor::use_xsimd, on loom_internal, defines it for all).
//
// Safe only for ops that round once per element (+, -, *, /, comparisons, selection, copies) or
// that have no xsimd form: xtensor computes a run's unaligned head and its tail in scalar code and
// the rest in xsimd lanes, the same bits for those alone. Transcendental maps go through simd_map
// (kernels.h), whose every element takes the batch path.
#include <array>
#include <cstddef>
#include <cstdint>

#include <xtensor/xadapt.hpp>
#include <xtensor/xnoalias.hpp>

namespace loom::detail {

/// p[0, n) as a 1-D row-major xtensor expression (n >= 0), assignable when T is not const. The
/// static layout is what lets xtensor's assignment take its xsimd path.
template <class T>
auto span(T* p, std::int64_t n) {
  const auto size = static_cast<std::size_t>(n);
  return xt::adapt<xt::layout_type::row_major>(p, size, xt::no_ownership(), std::array<std::size_t, 1>{size});
}

/// out[0, n) = expression, evaluated straight into out. (xtensor's plain `=` first evaluates into
/// a temporary array, in case the expression reads what it writes; none of Loom's does.)
template <class T, class E>
void assign(T* out, std::int64_t n, const E& expression) {
  auto result = span(out, n);
  xt::noalias(result) = expression;
}

}  // namespace loom::detail
