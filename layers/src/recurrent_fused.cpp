// The fused recurrent kernels: one direction of one layer of an RNN, LSTM or GRU over
// time-major input, forward and a hand-written backward through time.
//
// Forward: the input projections of all T steps are one GEMM (T*B rows); each step then adds
// h_{t-1} W_hh^T into its slice of the same buffer (GEMM with beta = 1) and applies the gate
// nonlinearities in place, vectorised with xsimd. Every buffer is allocated before the loop.
// Backward: per step only the elementwise gate derivatives and dh_{t-1} = dG_t W_hh; the weight
// gradients are one GEMM each over all steps: dW_hh = dG^T H_prev, dW_ih = dG^T X.
//
// The LSTM's per-step products use detail/packed_gemm.h with W_hh packed once per call (OpenBLAS
// repacks it at every step, ~20% of the step at B = 32), and its time loop runs on Loom's threads:
// a step is cut into panels of hidden units, each task computing the four gates' columns of one
// panel and their cell update; each thread works through its own panels first and then takes
// what is left of the others' (detail::StepQueue), and the threads meet once per step. RNN and GRU call OpenBLAS per step.
#include "recurrent_fused.h"

#include <algorithm>
#include <cstring>

#include "detail/kernels.h"
#include "detail/packed_gemm.h"
#include "detail/parallel.h"
#include "loom/runtime.h"

namespace loom::detail {
namespace {

template <class T>
void sigmoid_in_place(T* p, std::int64_t n) {
  simd_map(n, p, [](auto v) { return decltype(v)(1) / (decltype(v)(1) + xsimd::exp(-v)); }, static_cast<const T*>(p));
}
template <class T>
void tanh_in_place(T* p, std::int64_t n) {
  simd_map(n, p, [](auto v) { return xsimd::tanh(v); }, static_cast<const T*>(p));
}

}  // namespace

template <class T>
void lstm_cell_units(bool active, T* gates, const T* h_prev, const T* c_prev, T* h_next,
                     T* c_next, T* tanh_c, T* y, std::int64_t hidden, std::int64_t j0,
                     std::int64_t j1) {
  const std::int64_t H = hidden, n = j1 - j0;
  if (!active) {  // past this sequence's end: carry the state, output zero
    std::memcpy(h_next + j0, h_prev + j0, sizeof(T) * n);
    std::memcpy(c_next + j0, c_prev + j0, sizeof(T) * n);
    std::fill(y + j0, y + j1, T(0));
    return;
  }
  T* gb = gates;  // [i, f, g, o]
  sigmoid_in_place(gb + j0, n);
  sigmoid_in_place(gb + H + j0, n);
  tanh_in_place(gb + 2 * H + j0, n);
  sigmoid_in_place(gb + 3 * H + j0, n);
  for (std::int64_t j = j0; j < j1; ++j) c_next[j] = gb[H + j] * c_prev[j] + gb[j] * gb[2 * H + j];
  std::memcpy(tanh_c + j0, c_next + j0, sizeof(T) * n);
  tanh_in_place(tanh_c + j0, n);
  for (std::int64_t j = j0; j < j1; ++j) y[j] = h_next[j] = gb[3 * H + j] * tanh_c[j];
}

template <class T>
void gru_cell(T* gates, const T* hidden_parts, T* hidden_n, const T* h_prev, T* h_next,
              std::int64_t hidden) {
  const std::int64_t H = hidden;
  T* gb = gates;  // input parts [r, z, n]
  for (std::int64_t j = 0; j < 2 * H; ++j) gb[j] += hidden_parts[j];
  sigmoid_in_place(gb, 2 * H);
  for (std::int64_t j = 0; j < H; ++j) {
    hidden_n[j] = hidden_parts[2 * H + j];
    gb[2 * H + j] += gb[j] * hidden_n[j];
  }
  tanh_in_place(gb + 2 * H, H);
  for (std::int64_t j = 0; j < H; ++j) h_next[j] = (T(1) - gb[H + j]) * gb[2 * H + j] + gb[H + j] * h_prev[j];
}

template void lstm_cell_units<float>(bool, float*, const float*, const float*, float*, float*,
                                     float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void lstm_cell_units<double>(bool, double*, const double*, const double*, double*,
                                      double*, double*, double*, std::int64_t, std::int64_t,
                                      std::int64_t);
template void gru_cell<float>(float*, const float*, float*, const float*, float*, std::int64_t);
template void gru_cell<double>(double*, const double*, double*, const double*, double*,
                               std::int64_t);

namespace {

// Sizes of one run.
struct Dims {
  std::int64_t steps, batch, input, hidden, gates;  // gates = G * H
};

// What the forward pass keeps for the backward pass.
struct Saved {
  Tensor gates;   // (T, B, G*H) gate activations (RNN: h_t itself)
  Tensor h_all;   // (T+1, B, H) h_all[0] = h0, h_all[t+1] = h_t (carried over padded steps)
  Tensor c_all;   // LSTM: (T+1, B, H)
  Tensor tanh_c;  // LSTM: (T, B, H) tanh(c_t)
  Tensor hidden_n;  // GRU: (T, B, H) h_{t-1} W_hn^T + b_hn, before the reset gate
};

// Fills `rows` rows of width n with `bias` + `extra` (either may be undefined: zeros): the GEMM
// then accumulates onto it. The sum is formed once and copied into every row.
template <class T>
void fill_rows(T* out, std::int64_t rows, std::int64_t n, const Tensor& bias, const Tensor& extra) {
  std::vector<T> row(static_cast<std::size_t>(n), T(0));  // (n) bias + extra
  if (bias.defined()) {
    const T* b = bias.data<T>();
    const T* e = extra.defined() ? extra.data<T>() : nullptr;
    for (std::int64_t j = 0; j < n; ++j) row[j] = e ? b[j] + e[j] : b[j];
  }
  broadcast_rows(row.data(), rows, n, out);
}

// All input projections at once: gates = X W_ih^T + b_ih (+ b_hh, except for the GRU, whose
// b_hn sits inside the reset gate).
template <class T>
void project_inputs(const Dims& d, const Tensor& x, const Tensor& w_ih, const Tensor& b_ih,
                    const Tensor& b_hh, T* gates) {
  fill_rows<T>(gates, d.steps * d.batch, d.gates, b_ih, b_hh);
  gemm<T>(false, true, d.steps * d.batch, d.gates, d.input, T(1), x.data<T>(), d.input,
          w_ih.data<T>(), d.input, T(1), gates, d.gates);
}

// Threads for a time loop whose units are cut into `panels` panels: none idle, and one when the
// steps are too small to pay for meeting at every step.
int loop_threads(std::int64_t panels, std::int64_t macs_per_step) {
  constexpr std::int64_t kMinMacsPerThread = 1 << 18;  // ~5 us of work per thread and step
  const std::int64_t by_work = std::max<std::int64_t>(1, macs_per_step / kMinMacsPerThread);
  return static_cast<int>(std::min<std::int64_t>({get_num_threads(), panels, by_work}));
}

// The LSTM forward: gates (T, B, 4H) hold the input projections, then each step adds
// h_{t-1} W_hh^T (packed) and applies the cell, panel by panel of hidden units, on the threads.
template <class T>
Tensor lstm_forward(const Dims& d, const Tensor& x, const Tensor& w_ih, const Tensor& w_hh,
                    const Tensor& b_ih, const Tensor& b_hh, const Tensor& h0, const Tensor& c0,
                    const std::vector<std::int64_t>& lengths, Saved& saved) {
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const Dtype dtype = x.dtype();
  saved.gates = empty({d.steps, B, G}, dtype);
  saved.h_all = empty({d.steps + 1, B, H}, dtype);
  saved.c_all = empty({d.steps + 1, B, H}, dtype);
  saved.tanh_c = empty({d.steps, B, H}, dtype);
  // (T+2, B, H): the outputs y_0..y_{T-1}, then h_n, then c_n
  Tensor packed = empty({d.steps + 2, B, H}, dtype);
  T* gates = saved.gates.data<T>();
  T* h_all = saved.h_all.data<T>();
  T* c_all = saved.c_all.data<T>();
  T* tanh_c = saved.tanh_c.data<T>();
  T* out = packed.data<T>();

  project_inputs<T>(d, x, w_ih, b_ih, b_hh, gates);
  std::memcpy(h_all, h0.data<T>(), sizeof(T) * B * H);
  std::memcpy(c_all, c0.data<T>(), sizeof(T) * B * H);
  PackedMatrix<T> w_hh_t;  // W_hh^T (H, 4H), one column group per gate
  pack_transposed(w_hh.data<T>(), G, H, 4, w_hh_t);
  const std::int64_t panels = w_hh_t.panels_per_group, width = PackedMatrix<T>::kPanelWidth;
  // Step t's task p: the four gates' columns of hidden units [j0, j1) (panel p), then their cell.
  auto step_panel = [&](std::int64_t t, std::int64_t p) {
    const std::int64_t j0 = p * width, j1 = std::min(H, j0 + width);
    T* g = gates + t * B * G;  // (B, 4H)
    gemm_packed(B, h_all + t * B * H, H, w_hh_t, p, p + 1, g, G, true);
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t row = t * B + b;  // (t, b) in the (T, B, H) buffers
      lstm_cell_units(t < lengths[b], g + b * G, h_all + row * H, c_all + row * H,
                      h_all + (row + B) * H, c_all + (row + B) * H, tanh_c + row * H,
                      out + row * H, H, j0, j1);
    }
  };
  const int threads = loop_threads(panels, B * G * H);
  StepQueue queue(d.steps, panels, threads);  // h_t is complete before any thread multiplies it
  parallel_run(threads, [&](int thread) {
    for (std::int64_t t = 0; t < d.steps; ++t) queue.run(t, thread, [&](std::int64_t p) { step_panel(t, p); });
  });
  std::memcpy(out + d.steps * B * H, h_all + d.steps * B * H, sizeof(T) * B * H);
  std::memcpy(out + (d.steps + 1) * B * H, c_all + d.steps * B * H, sizeof(T) * B * H);
  return packed;
}

template <class T>
Tensor forward(CellType cell, const Dims& d, const Tensor& x, const Tensor& w_ih,
               const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, const Tensor& h0,
               const std::vector<std::int64_t>& lengths, Saved& saved) {
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const Dtype dtype = x.dtype();
  const bool gru = cell == CellType::GRU;
  saved.gates = empty({d.steps, B, G}, dtype);
  saved.h_all = empty({d.steps + 1, B, H}, dtype);
  Tensor hidden_proj;  // GRU: (B, 3H) h_{t-1} W_hh^T + b_hh of the current step
  if (gru) {
    saved.hidden_n = empty({d.steps, B, H}, dtype);
    hidden_proj = empty({B, G}, dtype);
  }
  // (T+1, B, H): the outputs y_0..y_{T-1}, then h_n
  Tensor packed = empty({d.steps + 1, B, H}, dtype);

  T* gates = saved.gates.data<T>();
  T* h_all = saved.h_all.data<T>();
  T* out = packed.data<T>();

  project_inputs<T>(d, x, w_ih, b_ih, gru ? Tensor() : b_hh, gates);
  std::memcpy(h_all, h0.data<T>(), sizeof(T) * B * H);

  for (std::int64_t t = 0; t < d.steps; ++t) {
    T* g = gates + t * B * G;                 // (B, G*H)
    const T* h_prev = h_all + t * B * H;      // (B, H)
    T* h_next = h_all + (t + 1) * B * H;      // (B, H)
    T* y = out + t * B * H;                   // (B, H)
    T* hp = gru ? hidden_proj.data<T>() : nullptr;
    if (gru) {
      fill_rows<T>(hp, B, G, b_hh, Tensor());
        gemm<T>(false, true, B, G, H, T(1), h_prev, H, w_hh.data<T>(), H, T(1), hp, G);
    } else {
      gemm<T>(false, true, B, G, H, T(1), h_prev, H, w_hh.data<T>(), H, T(1), g, G);
    }
    for (std::int64_t b = 0; b < B; ++b) {
      const T* hp_b = h_prev + b * H;
      T* hn_b = h_next + b * H;
      T* y_b = y + b * H;
      if (t >= lengths[b]) {  // past this sequence's end: carry the state, output zero
        std::memcpy(hn_b, hp_b, sizeof(T) * H);
        std::fill(y_b, y_b + H, T(0));
        continue;
      }
      T* gb = g + b * G;
      if (gru) {
        gru_cell(gb, hp + b * G, saved.hidden_n.data<T>() + (t * B + b) * H, hp_b, hn_b, H);
      } else {
        if (cell == CellType::RNNTanh) {
          tanh_in_place(gb, H);
        } else {
          for (std::int64_t j = 0; j < H; ++j) gb[j] = gb[j] > T(0) ? gb[j] : T(0);
        }
        std::memcpy(hn_b, gb, sizeof(T) * H);
      }
      std::memcpy(y_b, hn_b, sizeof(T) * H);
    }
  }
  std::memcpy(out + d.steps * B * H, h_all + d.steps * B * H, sizeof(T) * B * H);
  return packed;
}

// Column sums of a (rows, n) matrix: the bias gradients.
template <class T>
Tensor column_sums(const T* m, std::int64_t rows, std::int64_t n, Dtype dtype) {
  Tensor out = zeros({n}, dtype);
  T* o = out.data<T>();
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t j = 0; j < n; ++j) o[j] += m[r * n + j];
  return out;
}

// The gradients of the inputs, weights and biases from the gate gradients of all steps, one GEMM
// each: dX = dG W_ih, dW_ih = dG^T X, dW_hh = dG_hidden^T H_prev (H_prev = h_all[0..T-1]).
// Returns {x, w_ih, w_hh, b_ih, b_hh, h0, c0}; the caller fills the states' slots.
template <class T>
std::vector<Tensor> input_and_weight_grads(const Dims& d, const Tensor& x, const Tensor& w_ih,
                                           const Tensor& w_hh, const Tensor& b_ih,
                                           const Tensor& b_hh, const T* d_gates,
                                           const T* d_gates_hidden, const T* h_all) {
  const std::int64_t G = d.gates, H = d.hidden, rows = d.steps * d.batch;
  const Dtype dtype = x.dtype();
  std::vector<Tensor> grads(7);
  if (x.requires_grad()) {  // (T*B, F)
    grads[0] = empty(x.shape(), dtype);
    gemm<T>(false, false, rows, d.input, G, T(1), d_gates, G, w_ih.data<T>(), d.input, T(0),
            grads[0].data<T>(), d.input);
  }
  if (w_ih.requires_grad()) {  // (G*H, F)
    grads[1] = empty(w_ih.shape(), dtype);
    gemm<T>(true, false, G, d.input, rows, T(1), d_gates, G, x.data<T>(), d.input, T(0),
            grads[1].data<T>(), d.input);
  }
  if (w_hh.requires_grad()) {  // (G*H, H)
    grads[2] = empty(w_hh.shape(), dtype);
    gemm<T>(true, false, G, H, rows, T(1), d_gates_hidden, G, h_all, H, T(0), grads[2].data<T>(), H);
  }
  if (b_ih.defined() && b_ih.requires_grad()) grads[3] = column_sums<T>(d_gates, rows, G, dtype);
  if (b_hh.defined() && b_hh.requires_grad()) grads[4] = column_sums<T>(d_gates_hidden, rows, G, dtype);
  return grads;
}

// The LSTM backward through time: per step, the threads compute the gate gradients of all hidden
// units panel by panel, then (when all are done) dh_{t-1} = dG_t W_hh (packed) panel by panel.
template <class T>
std::vector<Tensor> lstm_backward(const Dims& d, const Tensor& grad_packed, const Tensor& x,
                                  const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                                  const Tensor& b_hh, const Tensor& h0, const Tensor& c0,
                                  const std::vector<std::int64_t>& lengths, const Saved& saved) {
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const Dtype dtype = x.dtype();
  const T* grad = grad_packed.data<T>();
  Tensor d_gates = empty({d.steps, B, G}, dtype);  // (T, B, 4H) gate preactivation gradients
  Tensor dh = empty({B, H}, dtype), dh_prev = empty({B, H}, dtype), dc = empty({B, H}, dtype);
  std::memcpy(dh.data<T>(), grad + d.steps * B * H, sizeof(T) * B * H);
  std::memcpy(dc.data<T>(), grad + (d.steps + 1) * B * H, sizeof(T) * B * H);
  const T* gates = saved.gates.data<T>();
  const T* tanh_c = saved.tanh_c.data<T>();
  const T* c_all = saved.c_all.data<T>();
  PackedMatrix<T> w_hh_packed;  // W_hh (4H, H): one group of H columns
  pack(w_hh.data<T>(), G, H, 1, w_hh_packed);
  const std::int64_t panels = w_hh_packed.panels_per_group, width = PackedMatrix<T>::kPanelWidth;
  // dL/dh_t and dL/dh_{t-1} alternate between the two buffers: step t reads dh_buffers[(T-1-t) % 2].
  T* const dh_buffers[2] = {dh.data<T>(), dh_prev.data<T>()};  // (B, H) each
  T* dcp = dc.data<T>();
  // Step t's first task for panel p: the gate gradients of hidden units [j0, j1).
  auto cell_panel = [&](std::int64_t t, std::int64_t p) {
    const std::int64_t j0 = p * width, j1 = std::min(H, j0 + width);
    T* dg = d_gates.data<T>() + t * B * G;
    const T* dh_now = dh_buffers[(d.steps - 1 - t) % 2];
    for (std::int64_t b = 0; b < B; ++b) {
      T* dgb = dg + b * G;
      if (t >= lengths[b]) {  // a padded step: no gate gradient, the state gradient carries
        for (std::int64_t gate = 0; gate < 4; ++gate) std::fill(dgb + gate * H + j0, dgb + gate * H + j1, T(0));
        continue;
      }
      const std::int64_t row = t * B + b;
      const T* dh_b = dh_now + b * H;
      T* dc_b = dcp + b * H;
      const T* dy = grad + row * H;
      const T* gb = gates + row * G;
      const T* tc = tanh_c + row * H;
      const T* c_prev = c_all + row * H;
#pragma omp simd
      for (std::int64_t j = j0; j < j1; ++j) {
        const T i = gb[j], f = gb[H + j], g = gb[2 * H + j], o = gb[3 * H + j];
        const T dh_total = dh_b[j] + dy[j];
        const T dc_total = dc_b[j] + dh_total * o * (T(1) - tc[j] * tc[j]);
        dgb[j] = dc_total * g * i * (T(1) - i);
        dgb[H + j] = dc_total * c_prev[j] * f * (T(1) - f);
        dgb[2 * H + j] = dc_total * i * (T(1) - g * g);
        dgb[3 * H + j] = dh_total * tc[j] * o * (T(1) - o);
        dc_b[j] = dc_total * f;
      }
    }
  };
  // Step t's second task for panel p: columns [j0, j1) of dh_{t-1} = dG_t W_hh.
  auto product_panel = [&](std::int64_t t, std::int64_t p) {
    const std::int64_t j0 = p * width, j1 = std::min(H, j0 + width);
    const T* dh_now = dh_buffers[(d.steps - 1 - t) % 2];
    T* dh_next = dh_buffers[(d.steps - t) % 2];
    gemm_packed(B, d_gates.data<T>() + t * B * G, G, w_hh_packed, p, p + 1, dh_next, H, false);
    for (std::int64_t b = 0; b < B; ++b)  // padded rows carry dh unchanged
      if (t >= lengths[b]) std::memcpy(dh_next + b * H + j0, dh_now + b * H + j0, sizeof(T) * (j1 - j0));
  };
  const int threads = loop_threads(panels, B * G * H);
  StepQueue cells(d.steps, panels, threads);     // dG_t is complete before any thread multiplies it
  StepQueue products(d.steps, panels, threads);  // dh_{t-1} is complete before step t-1's cells
  parallel_run(threads, [&](int thread) {
    for (std::int64_t t = d.steps - 1; t >= 0; --t) {
      cells.run(t, thread, [&](std::int64_t p) { cell_panel(t, p); });
      products.run(t, thread, [&](std::int64_t p) { product_panel(t, p); });
    }
  });
  if (d.steps % 2 == 1) std::swap(dh, dh_prev);  // step 0 wrote dh_buffers[T % 2]: now `dh`
  std::vector<Tensor> grads = input_and_weight_grads<T>(
      d, x, w_ih, w_hh, b_ih, b_hh, d_gates.data<T>(), d_gates.data<T>(), saved.h_all.data<T>());
  if (h0.requires_grad()) grads[5] = dh;
  if (c0.requires_grad()) grads[6] = dc;
  return grads;
}

template <class T>
std::vector<Tensor> backward(CellType cell, const Dims& d, const Tensor& grad_packed,
                             const Tensor& x, const Tensor& w_ih, const Tensor& w_hh,
                             const Tensor& b_ih, const Tensor& b_hh, const Tensor& h0,
                             const std::vector<std::int64_t>& lengths, const Saved& saved) {
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const Dtype dtype = x.dtype();
  const bool gru = cell == CellType::GRU;
  const T* grad = grad_packed.data<T>();
  // dG: gradients of the gate preactivations from the input side (T, B, G*H); the GRU's
  // recurrent side differs (its n gate is scaled by r), so it gets a second buffer.
  Tensor d_gates = empty({d.steps, B, G}, dtype);
  Tensor d_gates_hidden = gru ? empty({d.steps, B, G}, dtype) : d_gates;
  Tensor dh = empty({B, H}, dtype), dh_prev = empty({B, H}, dtype);  // (B, H) each
  Tensor dh_direct = gru ? empty({B, H}, dtype) : Tensor();  // GRU: z * dh, the skip path
  std::memcpy(dh.data<T>(), grad + d.steps * B * H, sizeof(T) * B * H);
  const T* gates = saved.gates.data<T>();
  const T* h_all = saved.h_all.data<T>();
  for (std::int64_t t = d.steps - 1; t >= 0; --t) {
    T* dg = d_gates.data<T>() + t * B * G;
    T* dg_hidden = d_gates_hidden.data<T>() + t * B * G;
    T* dh_p = dh.data<T>();
    for (std::int64_t b = 0; b < B; ++b) {
      T* dgb = dg + b * G;
      T* dghb = dg_hidden + b * G;
      if (t >= lengths[b]) {  // a padded step: no gate gradient, the state gradient carries
        std::fill(dgb, dgb + G, T(0));
        if (gru) std::fill(dghb, dghb + G, T(0));
        continue;
      }
      T* dh_b = dh_p + b * H;
      const T* dy = grad + (t * B + b) * H;
      for (std::int64_t j = 0; j < H; ++j) dh_b[j] += dy[j];
      const T* gb = gates + (t * B + b) * G;
      if (gru) {
        const T* hidden_n = saved.hidden_n.data<T>() + (t * B + b) * H;
        const T* h_prev = h_all + (t * B + b) * H;
        T* direct = dh_direct.data<T>() + b * H;
        for (std::int64_t j = 0; j < H; ++j) {
          const T r = gb[j], z = gb[H + j], n = gb[2 * H + j];
          const T dn = dh_b[j] * (T(1) - z) * (T(1) - n * n);
          const T dz = dh_b[j] * (h_prev[j] - n) * z * (T(1) - z);
          const T dr = dn * hidden_n[j] * r * (T(1) - r);
          dgb[j] = dghb[j] = dr;
          dgb[H + j] = dghb[H + j] = dz;
          dgb[2 * H + j] = dn;
          dghb[2 * H + j] = dn * r;
          direct[j] = dh_b[j] * z;
        }
      } else {
        for (std::int64_t j = 0; j < H; ++j) {
          const T h = gb[j];
          dgb[j] = cell == CellType::RNNTanh ? dh_b[j] * (T(1) - h * h)
                                             : (h > T(0) ? dh_b[j] : T(0));
        }
      }
    }
    // dh_{t-1} = dG_t W_hh, plus the carried gradient of padded rows and the GRU's skip path.
    T* dhp = dh_prev.data<T>();
    gemm<T>(false, false, B, H, G, T(1), dg_hidden, G, w_hh.data<T>(), H, T(0), dhp, H);
    for (std::int64_t b = 0; b < B; ++b) {
      if (t >= lengths[b]) {
        std::memcpy(dhp + b * H, dh_p + b * H, sizeof(T) * H);
      } else if (gru) {
        const T* direct = dh_direct.data<T>() + b * H;
        for (std::int64_t j = 0; j < H; ++j) dhp[b * H + j] += direct[j];
      }
    }
    std::swap(dh, dh_prev);
  }

  std::vector<Tensor> grads = input_and_weight_grads<T>(
      d, x, w_ih, w_hh, b_ih, b_hh, d_gates.data<T>(), d_gates_hidden.data<T>(), h_all);
  if (h0.requires_grad()) grads[5] = dh;
  return grads;
}

}  // namespace

std::vector<Tensor> fused_recurrent(CellType cell, const Tensor& x_view, const Tensor& w_ih_view,
                                    const Tensor& w_hh_view, const Tensor& b_ih_view, const Tensor& b_hh_view,
                                    const Tensor& h0_view, const Tensor& c0_view,
                                    const std::vector<std::int64_t>& lengths) {
  const Tensor x = detail::dense(x_view), w_ih = detail::dense(w_ih_view), w_hh = detail::dense(w_hh_view), b_ih = detail::dense(b_ih_view), b_hh = detail::dense(b_hh_view), h0 = detail::dense(h0_view), c0 = detail::dense(c0_view);  // the kernels walk the storage row-major
  const Dims dims{x.size(0), x.size(1), x.size(2), w_hh.size(1), w_hh.size(0)};
  const bool lstm = cell == CellType::LSTM;
  auto saved = std::make_shared<Saved>();
  Tensor packed = dispatch_floating("recurrent", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if (lstm) return lstm_forward<T>(dims, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, *saved);
    return forward<T>(cell, dims, x, w_ih, w_hh, b_ih, b_hh, h0, lengths, *saved);
  });
  record_op(packed, lstm ? "lstm" : cell == CellType::GRU ? "gru" : "rnn",
            {x, w_ih, w_hh, b_ih, b_hh, h0, c0},
            [=](const Tensor& grad) {
              return dispatch_floating("recurrent backward", grad.dtype(), [&](auto tag) {
                using T = decltype(tag);
                if (lstm)
                  return lstm_backward<T>(dims, grad, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, *saved);
                return backward<T>(cell, dims, grad, x, w_ih, w_hh, b_ih, b_hh, h0, lengths, *saved);
              });
            }, /*saved=*/{x, w_ih, w_hh, h0, c0});
  // The three results are views of one packed tensor, so one node carries all their gradients.
  return {packed.narrow(0, 0, dims.steps), packed.select(0, dims.steps),
          lstm ? packed.select(0, dims.steps + 1) : Tensor()};
}

}  // namespace loom::detail
