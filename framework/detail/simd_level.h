#pragma once
// Private: which instruction set the micro-kernels of Loom's own GEMMs use (the packed recurrent
// product, the int8 product). On x86-64 with GCC or Clang they are compiled for AVX2 and AVX-512
// with target attributes, whatever the build's flags, and chosen at run time, so one binary uses
// AVX-512 where the CPU has it and runs on any AVX2 CPU. OpenBLAS chooses its own; the rest of
// Loom's vector code (xsimd) is fixed at compile time.
//
// LOOM_SIMD=portable|avx2|avx512 caps the choice, for benchmarks (what AVX-512 buys on this
// CPU) and for tests of every kernel on one machine; unset, the widest the CPU runs is used. It
// is read, and checked, when a matrix is packed or quantized. The AVX2 and AVX-512 float kernels
// sum each entry in the same order, and the int8 sums are exact, so those levels never change a
// result's bits (tests/test_packed_gemm.cpp, tests/test_quantized.cpp); the portable float loop
// rounds as the build's flags let the compiler contract it.

#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define LOOM_X86_KERNELS 1
#define LOOM_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define LOOM_TARGET_AVX512 __attribute__((target("avx512f,avx2,fma")))
#define LOOM_TARGET_AVX512_VNNI __attribute__((target("avx512vnni,avx512vl,avx512f,avx2,fma")))
#endif

namespace loom::detail {

enum class SimdLevel { Portable, Avx2, Avx512 };

/// "portable", "avx2" or "avx512": LOOM_SIMD's spelling of `level`.
const char* simd_level_name(SimdLevel level);

/// Whether this CPU (and compiler) runs kernels of `level`: AVX2 with FMA; AVX-512 Foundation.
bool simd_level_available(SimdLevel level);

/// LOOM_SIMD if set, else the widest level available. Throws ValueError for another value or
/// a level this CPU lacks.
SimdLevel select_simd_level();

/// Whether the CPU has AVX512_VNNI and AVX512VL (vpdpbusd on 256-bit vectors): the int8
/// kernel of level Avx512.
bool avx512_vnni_available();

}  // namespace loom::detail
