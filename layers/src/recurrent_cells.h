#pragma once
// Private to layers/: the recurrent cells' elementwise parts, shared by the fused float loop
// (recurrent_fused.cpp) and the int8 one (quantized.cpp), so that both compute a step the same way.
// Each cell works on hidden units [j0, j1) of one batch row; the drivers do the products.
#include <algorithm>
#include <cstdint>
#include <cstring>

#include "detail/kernels.h"
#include "loom/runtime.h"

namespace loom::detail {
template <class T>
void sigmoid_in_place(T* p, std::int64_t n) {
  simd_map(n, p, [](auto v) { return decltype(v)(1) / (decltype(v)(1) + xsimd::exp(-v)); }, static_cast<const T*>(p));
}
template <class T>
void tanh_in_place(T* p, std::int64_t n) {
  simd_map(n, p, [](auto v) { return xsimd::tanh(v); }, static_cast<const T*>(p));
}

// Sizes of one run.
struct Dims {
  std::int64_t steps, batch, input, hidden, gates;  // gates = G * H
};

// One batch row of one step in the forward pass, for a cell's elementwise part.
template <class T>
struct ForwardRow {
  T* gates;             // (G*H) preactivations in (with h_{t-1} W_hh^T unless separate), activations out
  const T* recurrent;   // separate cells (GRU): (G*H) h_{t-1} W_hh^T
  const T* h_prev;      // (H)
  T* h_next;            // (H)
  const T* c_prev;      // LSTM: (H)
  T* c_next;            // LSTM: (H)
  T* tanh_c;            // LSTM: (H)
  T* hidden_n;          // GRU: (H)
  const T* bias_hn;     // GRU: (H) b_hn or null
};

// One batch row of one step in the backward pass.
template <class T>
struct BackwardRow {
  const T* gates;      // (G*H) activations
  const T* dh;         // (H) dL/dh_t from later steps
  const T* dy;         // (H) dL/dy_t
  T* d_gates;          // (G*H) dL/d(input preactivations)
  T* d_gates_hidden;   // (G*H) dL/d(h_{t-1} W_hh^T + b_hh): d_gates except for separate cells
  T* dh_skip;          // (H) the part of dL/dh_{t-1} that does not go through W_hh
  const T* h_prev;     // (H)
  const T* c_prev;     // LSTM: (H)
  const T* tanh_c;     // LSTM: (H)
  T* dc;               // LSTM: (H) dL/dc_t in, dL/dc_{t-1} out
  const T* hidden_n;   // GRU: (H)
};

// The cells. kGates: gate groups in W (PyTorch's order); kCellState: an LSTM's c;
// kSeparateRecurrent: h W_hh^T is needed apart from the input projection (the GRU's n gate scales
// it by r), so it is computed into its own buffer and b_hh's last group stays out of the
// projection. Each works on hidden units [j0, j1) of one row.
struct RnnCell {
  static constexpr std::int64_t kGates = 1;
  static constexpr bool kCellState = false, kSeparateRecurrent = false;
  bool relu;

  template <class T>
  void forward(const ForwardRow<T>& r, std::int64_t j0, std::int64_t j1) const {
    if (relu) {
      for (std::int64_t j = j0; j < j1; ++j) r.gates[j] = r.gates[j] > T(0) ? r.gates[j] : T(0);
    } else {
      tanh_in_place(r.gates + j0, j1 - j0);
    }
    std::memcpy(r.h_next + j0, r.gates + j0, sizeof(T) * (j1 - j0));
  }
  template <class T>
  void backward(const BackwardRow<T>& r, std::int64_t j0, std::int64_t j1) const {
#pragma omp simd
    for (std::int64_t j = j0; j < j1; ++j) {
      const T h = r.gates[j], dh_total = r.dh[j] + r.dy[j];
      r.d_gates[j] = relu ? (h > T(0) ? dh_total : T(0)) : dh_total * (T(1) - h * h);
      r.dh_skip[j] = T(0);
    }
  }
};

struct LstmCell {  // gates [i, f, g, o]: c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
  static constexpr std::int64_t kGates = 4;
  static constexpr bool kCellState = true, kSeparateRecurrent = false;
  std::int64_t hidden;

  template <class T>
  void forward(const ForwardRow<T>& r, std::int64_t j0, std::int64_t j1) const {
    const std::int64_t H = hidden, n = j1 - j0;
    T* g = r.gates;
    sigmoid_in_place(g + j0, n);
    sigmoid_in_place(g + H + j0, n);
    tanh_in_place(g + 2 * H + j0, n);
    sigmoid_in_place(g + 3 * H + j0, n);
    for (std::int64_t j = j0; j < j1; ++j) r.c_next[j] = g[H + j] * r.c_prev[j] + g[j] * g[2 * H + j];
    std::memcpy(r.tanh_c + j0, r.c_next + j0, sizeof(T) * n);
    tanh_in_place(r.tanh_c + j0, n);
    for (std::int64_t j = j0; j < j1; ++j) r.h_next[j] = g[3 * H + j] * r.tanh_c[j];
  }
  template <class T>
  void backward(const BackwardRow<T>& r, std::int64_t j0, std::int64_t j1) const {
    const std::int64_t H = hidden;
    const T* g = r.gates;
    T* dg = r.d_gates;
#pragma omp simd
    for (std::int64_t j = j0; j < j1; ++j) {
      const T i = g[j], f = g[H + j], c = g[2 * H + j], o = g[3 * H + j], tc = r.tanh_c[j];
      const T dh_total = r.dh[j] + r.dy[j];
      const T dc_total = r.dc[j] + dh_total * o * (T(1) - tc * tc);
      dg[j] = dc_total * c * i * (T(1) - i);
      dg[H + j] = dc_total * r.c_prev[j] * f * (T(1) - f);
      dg[2 * H + j] = dc_total * i * (T(1) - c * c);
      dg[3 * H + j] = dh_total * tc * o * (T(1) - o);
      r.dc[j] = dc_total * f;
      r.dh_skip[j] = T(0);
    }
  }
};

struct GruCell {  // gates [r, z, n]: n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h_t = (1-z) n + z h_{t-1}
  static constexpr std::int64_t kGates = 3;
  static constexpr bool kCellState = false, kSeparateRecurrent = true;
  std::int64_t hidden;

  template <class T>
  void forward(const ForwardRow<T>& r, std::int64_t j0, std::int64_t j1) const {
    const std::int64_t H = hidden, n = j1 - j0;
    T* g = r.gates;
    const T* rec = r.recurrent;
    for (std::int64_t j = j0; j < j1; ++j) {
      g[j] += rec[j];
      g[H + j] += rec[H + j];
    }
    sigmoid_in_place(g + j0, n);
    sigmoid_in_place(g + H + j0, n);
    for (std::int64_t j = j0; j < j1; ++j) {
      r.hidden_n[j] = r.bias_hn ? rec[2 * H + j] + r.bias_hn[j] : rec[2 * H + j];
      g[2 * H + j] += g[j] * r.hidden_n[j];
    }
    tanh_in_place(g + 2 * H + j0, n);
    for (std::int64_t j = j0; j < j1; ++j) r.h_next[j] = (T(1) - g[H + j]) * g[2 * H + j] + g[H + j] * r.h_prev[j];
  }
  template <class T>
  void backward(const BackwardRow<T>& r, std::int64_t j0, std::int64_t j1) const {
    const std::int64_t H = hidden;
    const T* g = r.gates;
#pragma omp simd
    for (std::int64_t j = j0; j < j1; ++j) {
      const T reset = g[j], z = g[H + j], n = g[2 * H + j], dh_total = r.dh[j] + r.dy[j];
      const T dn = dh_total * (T(1) - z) * (T(1) - n * n);
      const T dz = dh_total * (r.h_prev[j] - n) * z * (T(1) - z);
      const T dr = dn * r.hidden_n[j] * reset * (T(1) - reset);
      r.d_gates[j] = r.d_gates_hidden[j] = dr;
      r.d_gates[H + j] = r.d_gates_hidden[H + j] = dz;
      r.d_gates[2 * H + j] = dn;
      r.d_gates_hidden[2 * H + j] = dn * reset;
      r.dh_skip[j] = dh_total * z;
    }
  }
};


// Past a sequence's end: the state carries over hidden units [j0, j1) and the output y (if given) is
// zero.
template <class T>
void carry_state(const ForwardRow<T>& r, T* y, std::int64_t j0, std::int64_t j1) {
  std::memcpy(r.h_next + j0, r.h_prev + j0, sizeof(T) * (j1 - j0));
  if (r.c_next) std::memcpy(r.c_next + j0, r.c_prev + j0, sizeof(T) * (j1 - j0));
  if (y) std::fill(y + j0, y + j1, T(0));
}

// Asks for columns [j0, j1) of each of `groups` groups (group_cols apart) in `rows` rows (ld
// apart) of a row-major buffer to be brought into cache: the next step's gate preactivations of
// a task's hidden units. The input projection wrote the (T, B, G*H) buffer long before (it is
// larger than L2), and rows G*H apart defeat the hardware prefetcher. The int8 loop gains ~10%
// (H=512 LSTM forward on the Xeon, 1 thread: 37.9 -> 33.8 ms, medians of 3 alternating runs);
// the float loop, whose kernel overlaps the misses with its longer products, measured no change
// and does not use it.
template <class T>
void prefetch_columns(const T* base, std::int64_t rows, std::int64_t ld, std::int64_t groups,
                      std::int64_t group_cols, std::int64_t j0, std::int64_t j1) {
  constexpr std::int64_t kLine = 64 / sizeof(T);
  for (std::int64_t row = 0; row < rows; ++row)
    for (std::int64_t group = 0; group < groups; ++group) {
      const T* first = base + row * ld + group * group_cols;
      for (std::int64_t j = j0; j < j1; j += kLine) __builtin_prefetch(first + j, /*write=*/1);
    }
}

// Threads for a time loop whose step is cut into `tasks` tasks: none idle, and one when a step's
// work (`macs_per_step`) is too small to pay for the threads meeting at every step, i.e. below
// `min_macs_per_thread` (~5 us of work) per thread.
inline int loop_threads(std::int64_t tasks, std::int64_t macs_per_step, std::int64_t min_macs_per_thread) {
  const std::int64_t by_work = std::max<std::int64_t>(1, macs_per_step / min_macs_per_thread);
  return static_cast<int>(std::min<std::int64_t>({get_num_threads(), tasks, by_work}));
}

}  // namespace loom::detail
