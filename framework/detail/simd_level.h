#pragma once
// Private: which instruction set Loom's own kernels use (the packed recurrent GEMM, the int8
// GEMM). They are compiled for several with target attributes and chosen at run time, so one
// binary uses AVX-512 where the CPU has it and runs on any AVX2 CPU. OpenBLAS chooses its own.
//
// LOOM_SIMD=portable|avx2|avx512 caps the choice, for benchmarks (what AVX-512 buys on this
// CPU) and for tests of every kernel on one machine; unset, the widest the CPU runs is used.
// Every float kernel sums each entry in the same order, and the int8 sums are exact, so the
// level never changes a result's bits (tests/test_packed_gemm.cpp, tests/test_quantized.cpp).
namespace loom::detail {

enum class SimdLevel { Portable, Avx2, Avx512 };

/// Whether this CPU (and compiler) runs kernels of `level`: AVX2 with FMA; AVX-512 Foundation.
bool simd_level_available(SimdLevel level);

/// LOOM_SIMD if set, else the widest level available. Throws ValueError for another value or
/// a level this CPU lacks.
SimdLevel select_simd_level();

/// Whether the int8 kernels may use AVX-512 VNNI (vpdpbusd on 256-bit vectors): `level` is
/// Avx512 and the CPU has AVX512_VNNI and AVX512VL.
bool int8_vnni_available(SimdLevel level);

}  // namespace loom::detail
