#pragma once
/// Threads. Loom uses exactly one thread pool: OpenBLAS's own, for the GEMMs; elementwise work
/// runs on the calling thread. Two pools on two cores fight each other (see bench/README.md).
namespace loom {

/// Threads used by BLAS calls.
void set_num_threads(int threads);
int get_num_threads();

}  // namespace loom
