#pragma once
/// Threads. Loom runs one pool of worker threads, get_num_threads() strong (at start OpenBLAS's
/// default: OPENBLAS_NUM_THREADS, else the core count). A GEMM is cut into one block of its
/// output per thread, each a single-threaded OpenBLAS call; the fused LSTM's time loop, the
/// optimizers and the row and plane loops of the larger ops (softmax, cross entropy, sums,
/// convolution lowering, pooling) split the same way, and smaller work runs on the caller.
/// OpenBLAS is kept at one thread: its own pool would spin (sched_yield, ~0.1 s after every call)
/// on the cores Loom's workers need, which OPENBLAS_THREAD_TIMEOUT=4 had to stop before.
/// Results can differ in the last bits between thread counts (each thread's BLAS call sums in
/// its own blocking); the row and plane loops add in the same order at any count.
///
/// Memory: with glibc, Loom raises malloc's mmap threshold to 32 MiB and its trim threshold to
/// 256 MiB before its first tensor, so a training step reuses the large buffers the previous step
/// freed instead of mapping and zeroing them afresh. Blocks above 32 MiB, which glibc always maps
/// afresh, are kept when freed (up to 1 GiB, oldest dropped first) for the next request of their
/// size; `release_cached_memory()` frees them, e.g. after training when the shapes change.
/// `LOOM_MALLOC_TUNING=0` keeps the program's own malloc settings and caches nothing.
#include <string>

namespace loom {

/// Threads of Loom's pool: GEMMs, the fused LSTM's time loop and the larger loops.
void set_num_threads(int threads);
int get_num_threads();

/// Frees the large blocks kept for reuse (see "Memory" above).
void release_cached_memory();

/// Bytes of tensor storage: alive now, the most alive at once and the total allocated since the
/// last reset_tensor_memory_stats(). What a computation needs, whatever malloc keeps around.
///
///     loom::reset_tensor_memory_stats();
///     loss.backward();
///     auto used = loom::tensor_memory_stats().allocated_bytes;
struct TensorMemoryStats {
  std::size_t live_bytes = 0;
  std::size_t peak_bytes = 0;
  std::size_t allocated_bytes = 0;
};
TensorMemoryStats tensor_memory_stats();
/// Starts the peak again from the live bytes, and the allocated total from zero.
void reset_tensor_memory_stats();

/// For messages about a failed allocation: "; the address-space limit (ulimit -v) is 293 MiB,
/// 262 MiB of it in use", or "" when the process has no such limit.
std::string address_space_note();

}  // namespace loom
