#pragma once
/// Threads. The GEMMs run on OpenBLAS's own threads; the time loop of the fused LSTM (a GEMM with
/// its weight packed once per sequence, which OpenBLAS cannot do, and the cell update) runs on
/// Loom's workers. Both use this one thread count and never run at the same time, so the machine
/// sees one pool's worth of busy threads. Other elementwise work runs on the calling thread.
///
/// OpenBLAS's idle workers spin (sched_yield) for ~0.1 s after each call before sleeping, on
/// the core Loom's worker needs next; `export OPENBLAS_THREAD_TIMEOUT=4` makes them sleep at
/// once (bench/README.md, "Threads", has the measurement).
namespace loom {

/// Threads used by BLAS calls and by the fused LSTM's time loop.
void set_num_threads(int threads);
int get_num_threads();

}  // namespace loom
