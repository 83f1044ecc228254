// The fused recurrent layers' per-step product alone (framework/detail/packed_gemm.h): one time
// step of an LSTM with B=32 rows, forward (h W_hh^T, 4 column groups, K=H) and backward
// (dG W_hh, one group of H columns, K=4H), cut into calls of one or two panels per group as the
// time loop's tasks are. One JSON line per case, with the kernel LOOM_SIMD let it choose, so that
//   LOOM_SIMD=avx2 ./build/bench_packed_gemm; ./build/bench_packed_gemm
// compares the AVX2 and AVX-512 kernels on one binary. Single-threaded: what a kernel does.
#include <algorithm>
#include <cstdio>
#include <vector>

#include "detail/packed_gemm.h"
#include "median_ms.h"

int main() {
  using loom::detail::PackedMatrix;
  constexpr std::int64_t batch = 32;
  for (std::int64_t hidden : {128, 512})
    for (bool backward : {false, true})
      for (std::int64_t panels_per_call : {1, 2}) {
        const std::int64_t k = backward ? 4 * hidden : hidden, n = backward ? hidden : 4 * hidden;
        const std::int64_t groups = backward ? 1 : 4;
        std::vector<float> w(static_cast<std::size_t>(n * k)), a(static_cast<std::size_t>(batch * k));  // W (n, k), A (B, k)
        for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 7919) % 201) / 100.0f - 1.0f;
        for (std::size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>((i * 104729) % 199) / 100.0f - 1.0f;
        std::vector<float> c(static_cast<std::size_t>(batch * n));  // C (B, n)
        PackedMatrix<float> packed;
        if (backward) loom::detail::pack(w.data(), k, n, groups, packed);  // W is (k, n) here
        else loom::detail::pack_transposed(w.data(), n, k, groups, packed);
        const std::int64_t panels = packed.panels_per_group;
        const double ms = median_ms([&] {
          for (int step = 0; step < 20; ++step)
            for (std::int64_t p = 0; p < panels; p += panels_per_call)
              loom::detail::gemm_packed(batch, a.data(), k, packed, p, std::min(panels, p + panels_per_call), c.data(), n, true);
        }, 15) / 20;
        std::printf("{\"bench\": \"packed_gemm\", \"kernel\": \"%s\", \"hidden\": %ld, \"pass\": \"%s\", "
                    "\"panels_per_call\": %ld, \"us\": %.2f, \"gflops\": %.1f}\n",
                    loom::detail::simd_level_name(packed.kernel), static_cast<long>(hidden), backward ? "backward" : "forward",
                    static_cast<long>(panels_per_call), ms * 1e3, 2.0 * batch * n * k / ms / 1e6);
      }
}
