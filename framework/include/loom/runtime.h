#pragma once
/// Threads. The GEMMs run on OpenBLAS's own threads; the time loop of the fused LSTM (a GEMM with
/// its weight packed once per sequence, which OpenBLAS cannot do, and the cell update) runs on
/// Loom's workers. Both use this one thread count and never run at the same time, so the machine
/// sees one pool's worth of busy threads. Other elementwise work runs on the calling thread.
namespace loom {

/// Threads used by BLAS calls and by the fused LSTM's time loop.
void set_num_threads(int threads);
int get_num_threads();

}  // namespace loom
