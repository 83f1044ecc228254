#pragma once
/// Threads. The GEMMs run on OpenBLAS's own threads; the time loop of the fused LSTM (a GEMM with
/// its weight packed once per sequence, which OpenBLAS cannot do, and the cell update) runs on
/// Loom's workers. Both use this one thread count and never run at the same time, so the machine
/// sees one pool's worth of busy threads. Other elementwise work runs on the calling thread.
///
/// OpenBLAS's idle workers spin (sched_yield) for ~0.1 s after each call before sleeping, on
/// the core Loom's worker needs next; `export OPENBLAS_THREAD_TIMEOUT=4` makes them sleep at
/// once (bench/README.md, "Threads", has the measurement).
///
/// Memory: with glibc, Loom raises malloc's mmap threshold to 32 MiB and its trim threshold to
/// 256 MiB before its first tensor, so a training step reuses the large buffers the previous step
/// freed instead of mapping and zeroing them afresh. Blocks above 32 MiB, which glibc always maps
/// afresh, are kept when freed (up to 1 GiB, oldest dropped first) for the next request of their
/// size; `release_cached_memory()` frees them, e.g. after training when the shapes change.
/// `LOOM_MALLOC_TUNING=0` keeps the program's own malloc settings and caches nothing.
namespace loom {

/// Threads used by BLAS calls and by the fused LSTM's time loop.
void set_num_threads(int threads);
int get_num_threads();

/// Frees the large blocks kept for reuse (see "Memory" above).
void release_cached_memory();

}  // namespace loom
