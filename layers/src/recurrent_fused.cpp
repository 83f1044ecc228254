// The fused recurrent kernels: one direction of one layer of an RNN, LSTM or GRU over
// time-major input, forward and a hand-written backward through time.
//
// One driver serves the three cells; a cell contributes only its elementwise forward and
// backward over a range of hidden units of one batch row (RnnCell, LstmCell, GruCell below).
// Forward: the input projections of all T steps are one GEMM (T*B rows); each step then adds
// h_{t-1} W_hh^T (detail/packed_gemm.h, W_hh packed once per call: OpenBLAS would repack it at
// every step, ~20% of the step at B = 32) and applies the cell. Backward: per step the cell's gate
// derivatives and dh_{t-1} = dG_t W_hh (packed too); the weight gradients are one GEMM each over
// all steps: dW_hh = dG^T H_prev, dW_ih = dG^T X. Every buffer is allocated before the loops.
//
// The time loops run on Loom's threads: a step is cut into tasks of one or two panels of hidden
// units (task_range), each task computing every gate's columns of its panels and their cell
// update (backward: the gate gradients of its units, then its columns of dh_{t-1}); each thread
// works through its own tasks first and then takes what is left of the others'
// (detail::StepQueue), and the threads meet once per step. A task's result does not depend on
// which thread computed it, so the loops give the same bits at any thread count (the OpenBLAS
// products outside them may not: runtime.h).
#include "recurrent_fused.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "detail/kernels.h"
#include "detail/packed_gemm.h"
#include "detail/parallel.h"
#include "loom/runtime.h"
#include "recurrent_cells.h"

namespace loom::detail {
namespace {

// What the forward pass keeps for the backward pass.
struct Saved {
  Tensor gates;     // (T, B, G*H) gate activations (RNN: h_t itself)
  Tensor h_all;     // (T+1, B, H) h_all[0] = h0, h_all[t+1] = h_t (carried over padded steps)
  Tensor c_all;     // LSTM: (T+1, B, H)
  Tensor tanh_c;    // LSTM: (T, B, H) tanh(c_t)
  Tensor hidden_n;  // GRU: (T, B, H) h_{t-1} W_hn^T + b_hn, before the reset gate
};

// All input projections at once: gates (T*B, G*H) = X W_ih^T + b_ih + the groups of b_hh that
// add to the preactivation directly (all but the GRU's b_hn, which sits inside the reset gate).
// The bias row is formed once and copied into every row; the GEMM accumulates onto it.
template <class T, class Cell>
void project_inputs(const Dims& d, const Tensor& x, const Tensor& w_ih, const Tensor& b_ih,
                    const Tensor& b_hh, T* gates) {
  const std::int64_t folded = Cell::kSeparateRecurrent ? (Cell::kGates - 1) * d.hidden : d.gates;
  std::vector<T> bias(static_cast<std::size_t>(d.gates), T(0));  // (G*H)
  if (b_ih.defined()) {
    const T* bi = b_ih.data<T>();
    const T* bh = b_hh.data<T>();
    for (std::int64_t j = 0; j < d.gates; ++j) bias[j] = j < folded ? bi[j] + bh[j] : bi[j];
  }
  broadcast_rows(bias.data(), d.steps * d.batch, d.gates, gates);
  gemm<T>(false, true, d.steps * d.batch, d.gates, d.input, T(1), x.data<T>(), d.input,
          w_ih.data<T>(), d.input, T(1), gates, d.gates);
}


// Panels per task of a step: the AVX-512 kernel multiplies two panels at a time, 1.2-1.3x faster
// than one at a time (detail/packed_gemm.h); the others gain nothing from pairs, and one panel
// per task splits the units between the threads more evenly.
template <class T>
std::int64_t panels_per_task(const PackedMatrix<T>& packed) {
  return packed.kernel == SimdLevel::Avx512 ? 2 : 1;
}

// The hidden units [first, end) and the panels [first_panel, end_panel) of task p.
struct TaskRange {
  std::int64_t first, end, first_panel, end_panel;
};
template <class T>
TaskRange task_range(const PackedMatrix<T>& packed, std::int64_t hidden, std::int64_t p) {
  const std::int64_t first_panel = p * panels_per_task(packed);
  const std::int64_t end_panel = std::min(packed.panels_per_group, first_panel + panels_per_task(packed));
  const std::int64_t width = PackedMatrix<T>::kPanelWidth;
  return {first_panel * width, std::min(hidden, end_panel * width), first_panel, end_panel};
}
template <class T>
std::int64_t task_count(const PackedMatrix<T>& packed) {
  return (packed.panels_per_group + panels_per_task(packed) - 1) / panels_per_task(packed);
}

// Runs task(t, p) for the tasks p of every step t (ascending or descending) on the threads,
// each step after the previous one is complete; `phases` tasks per step run one after the other.
template <class... Phase>
void time_loop(std::int64_t steps, std::int64_t tasks, std::int64_t macs_per_step, bool backwards,
               Phase&&... phase) {
  const int threads = loop_threads(tasks, macs_per_step, /*min_macs_per_thread=*/1 << 18);
  // one queue per phase: a phase's results are complete before any thread starts the next one
  std::vector<std::unique_ptr<StepQueue>> queues;
  for (std::size_t k = 0; k < sizeof...(Phase); ++k) queues.push_back(std::make_unique<StepQueue>(steps, tasks, threads));
  parallel_run(threads, [&](int thread) {
    for (std::int64_t k = 0; k < steps; ++k) {
      const std::int64_t t = backwards ? steps - 1 - k : k;
      std::size_t q = 0;
      (queues[q++]->run(t, thread, [&](std::int64_t p) { phase(t, p); }), ...);
    }
  });
}

// The forward pass: gates (T, B, G*H) hold the input projections, then each step adds
// h_{t-1} W_hh^T and applies the cell, panel by panel of hidden units. Returns {y (T, B, H),
// zero at padded steps; h_n (B, H); c_n (B, H), undefined but for the LSTM}.
template <class T, class Cell>
std::vector<Tensor> forward(const Cell& cell, const Dims& d, const Tensor& x, const Tensor& w_ih,
               const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh, const Tensor& h0,
               const Tensor& c0, const std::vector<std::int64_t>& lengths, Saved& saved) {
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const Dtype dtype = x.dtype();
  saved.gates = empty({d.steps, B, G}, dtype);
  saved.h_all = empty({d.steps + 1, B, H}, dtype);
  Tensor recurrent;  // separate cells: (B, G*H) h_{t-1} W_hh^T of the current step
  if constexpr (Cell::kCellState) {
    saved.c_all = empty({d.steps + 1, B, H}, dtype);
    saved.tanh_c = empty({d.steps, B, H}, dtype);
  }
  if constexpr (Cell::kSeparateRecurrent) {
    saved.hidden_n = empty({d.steps, B, H}, dtype);
    recurrent = empty({B, G}, dtype);
  }
  Tensor y_all = empty({d.steps, B, H}, dtype), h_n = empty({B, H}, dtype);  // (T, B, H), (B, H)
  Tensor c_n = Cell::kCellState ? empty({B, H}, dtype) : Tensor();         // LSTM: (B, H)
  T* gates = saved.gates.data<T>();
  T* h_all = saved.h_all.data<T>();
  T* c_all = data_or_null<T>(saved.c_all);
  T* tanh_c_all = data_or_null<T>(saved.tanh_c);      // LSTM
  T* hidden_n_all = data_or_null<T>(saved.hidden_n);  // GRU
  T* recurrent_product = data_or_null<T>(recurrent);  // GRU
  // GRU: b_hn, the last third of b_hh (the other cells' b_hh is shorter)
  const T* bias_hn = Cell::kSeparateRecurrent && b_hh.defined() ? b_hh.data<T>() + 2 * H : nullptr;
  T* out = y_all.data<T>();

  project_inputs<T, Cell>(d, x, w_ih, b_ih, b_hh, gates);
  std::memcpy(h_all, h0.data<T>(), sizeof(T) * B * H);
  if (c_all) std::memcpy(c_all, c0.data<T>(), sizeof(T) * B * H);
  PackedMatrix<T> w_hh_t;  // W_hh^T (H, G*H), one column group per gate
  pack_transposed(w_hh.data<T>(), G, H, Cell::kGates, w_hh_t);
  // Step t's task p: every gate's columns of the task's hidden units [j0, j1), then their cell.
  auto step_panel = [&](std::int64_t t, std::int64_t p) {
    const TaskRange task = task_range(w_hh_t, H, p);
    const std::int64_t j0 = task.first, j1 = task.end;
    T* g = gates + t * B * G;  // (B, G*H)
    T* product = g;  // separate cells: the product goes to its own buffer
    if constexpr (Cell::kSeparateRecurrent) product = recurrent_product;
    gemm_packed(B, h_all + t * B * H, H, w_hh_t, task.first_panel, task.end_panel, product, G, !Cell::kSeparateRecurrent);
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t row = t * B + b;  // (t, b) in the (T, B, H) buffers
      ForwardRow<T> r{};
      r.h_prev = h_all + row * H;
      r.h_next = h_all + (row + B) * H;
      if (c_all) {
        r.c_prev = c_all + row * H;
        r.c_next = c_all + (row + B) * H;
      }
      if (t >= lengths[b]) {
        carry_state(r, static_cast<T*>(nullptr), j0, j1);  // y: after the loop
        continue;
      }
      r.gates = g + b * G;
      if constexpr (Cell::kCellState) r.tanh_c = tanh_c_all + row * H;
      if constexpr (Cell::kSeparateRecurrent) {
        r.recurrent = product + b * G;
        r.hidden_n = hidden_n_all + row * H;
        r.bias_hn = bias_hn;
      }
      cell.forward(r, j0, j1);
    }
  };
  time_loop(d.steps, task_count(w_hh_t), B * G * H, /*backwards=*/false, step_panel);
  // y_t = h_t at a sequence's real steps, zero past its end: whole rows in order after the loop
  // (each task storing its columns of y inside it cost 9% of an H=512 LSTM inference: scattered
  // stores to a cold buffer).
  parallel_rows(d.steps * B, H, [&](std::int64_t begin, std::int64_t end) {
    for (std::int64_t row = begin; row < end; ++row) {
      T* y = out + row * H;
      if (row / B < lengths[row % B]) std::memcpy(y, h_all + (row + B) * H, sizeof(T) * H);
      else std::fill(y, y + H, T(0));
    }
  });
  std::memcpy(h_n.data<T>(), h_all + d.steps * B * H, sizeof(T) * B * H);
  if (c_all) std::memcpy(c_n.data<T>(), c_all + d.steps * B * H, sizeof(T) * B * H);
  return {y_all, h_n, c_n};
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

// The backward pass through time: per step, the threads compute the gate gradients of all hidden
// units panel by panel (and the part of dh_{t-1} that skips W_hh), then, when all are done,
// dh_{t-1} += dG_t W_hh panel by panel. `grads` are those of {y, h_n, c_n}, any undefined (that
// output got no gradient: it counts as zero, without a zero tensor of its size).
template <class T, class Cell>
std::vector<Tensor> backward(const Cell& cell, const Dims& d, const std::vector<Tensor>& grads,
                             const Tensor& x, const Tensor& w_ih, const Tensor& w_hh,
                             const Tensor& b_ih, const Tensor& b_hh, const Tensor& h0,
                             const Tensor& c0, const std::vector<std::int64_t>& lengths,
                             const Saved& saved) {
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const Dtype dtype = x.dtype();
  const T* dy_all = grads[0].defined() ? grads[0].data<T>() : nullptr;  // (T, B, H) or none
  const std::vector<T> zero_row(static_cast<std::size_t>(H), T(0));     // dy of a row without one
  Tensor d_gates = empty({d.steps, B, G}, dtype);  // (T, B, G*H) input-side preactivation gradients
  // (T, B, G*H) recurrent side: the GRU's differs (its n gate is scaled by r)
  Tensor d_gates_hidden = Cell::kSeparateRecurrent ? empty({d.steps, B, G}, dtype) : d_gates;
  Tensor dh = empty({B, H}, dtype), dh_prev = empty({B, H}, dtype);  // (B, H) each
  Tensor dc = Cell::kCellState ? empty({B, H}, dtype) : Tensor();   // LSTM: (B, H)
  // dL/dh_T and dL/dc_T start the sweep: the gradients of h_n and c_n, or zero
  if (grads[1].defined()) dh.copy_(grads[1]); else dh.fill_(0.0);
  if (dc.defined()) {
    if (grads[2].defined()) dc.copy_(grads[2]); else dc.fill_(0.0);
  }
  const T* gates = saved.gates.data<T>();
  const T* h_all = saved.h_all.data<T>();
  const T* c_all = data_or_null<T>(saved.c_all);         // LSTM
  const T* tanh_c_all = data_or_null<T>(saved.tanh_c);   // LSTM
  const T* hidden_n_all = data_or_null<T>(saved.hidden_n);  // GRU
  T* dc_all = data_or_null<T>(dc);
  T* d_gates_all = d_gates.data<T>();
  T* d_gates_hidden_all = d_gates_hidden.data<T>();
  PackedMatrix<T> w_hh_packed;  // W_hh (G*H, H): one group of H columns
  pack(w_hh.data<T>(), G, H, 1, w_hh_packed);
  // dL/dh_t and dL/dh_{t-1} alternate between the two buffers: step t reads dh_buffers[(T-1-t) % 2].
  T* const dh_buffers[2] = {dh.data<T>(), dh_prev.data<T>()};  // (B, H) each
  // Step t's first task p: the gate gradients of the task's hidden units [j0, j1).
  auto cell_panel = [&](std::int64_t t, std::int64_t p) {
    const TaskRange task = task_range(w_hh_packed, H, p);
    const std::int64_t j0 = task.first, j1 = task.end;
    const T* dh_now = dh_buffers[(d.steps - 1 - t) % 2];
    T* dh_next = dh_buffers[(d.steps - t) % 2];
    for (std::int64_t b = 0; b < B; ++b) {
      const std::int64_t row = t * B + b;
      T* dg = d_gates_all + row * G;
      T* dg_hidden = d_gates_hidden_all + row * G;
      if (t >= lengths[b]) {  // a padded step: no gate gradient, the state gradient carries
        for (std::int64_t gate = 0; gate < Cell::kGates; ++gate) {
          std::fill(dg + gate * H + j0, dg + gate * H + j1, T(0));
          std::fill(dg_hidden + gate * H + j0, dg_hidden + gate * H + j1, T(0));
        }
        std::memcpy(dh_next + b * H + j0, dh_now + b * H + j0, sizeof(T) * (j1 - j0));
        continue;
      }
      BackwardRow<T> r{};
      r.gates = gates + row * G;
      r.dh = dh_now + b * H;
      r.dy = dy_all ? dy_all + row * H : zero_row.data();
      r.d_gates = dg;
      r.d_gates_hidden = dg_hidden;
      r.dh_skip = dh_next + b * H;
      r.h_prev = h_all + row * H;
      if constexpr (Cell::kCellState) {
        r.c_prev = c_all + row * H;
        r.tanh_c = tanh_c_all + row * H;
        r.dc = dc_all + b * H;
      }
      if constexpr (Cell::kSeparateRecurrent) r.hidden_n = hidden_n_all + row * H;
      cell.backward(r, j0, j1);
    }
  };
  // Step t's second task p: columns [j0, j1) of dh_{t-1} += dG_t W_hh (padded rows add exact
  // zeros).
  auto product_panel = [&](std::int64_t t, std::int64_t p) {
    const TaskRange task = task_range(w_hh_packed, H, p);
    gemm_packed(B, d_gates_hidden_all + t * B * G, G, w_hh_packed, task.first_panel, task.end_panel,
                dh_buffers[(d.steps - t) % 2], H, /*accumulate=*/true);
  };
  time_loop(d.steps, task_count(w_hh_packed), B * G * H, /*backwards=*/true, cell_panel, product_panel);
  if (d.steps % 2 == 1) std::swap(dh, dh_prev);  // step 0 wrote dh_buffers[T % 2]: now `dh`
  std::vector<Tensor> input_grads = input_and_weight_grads<T>(
      d, x, w_ih, w_hh, b_ih, b_hh, d_gates_all, d_gates_hidden_all, h_all);
  if (h0.requires_grad()) input_grads[5] = dh;
  if (c0.defined() && c0.requires_grad()) input_grads[6] = dc;
  return input_grads;
}

// Calls f(cell) with the cell object of `type`.
template <class F>
auto with_cell(CellType type, std::int64_t hidden, F&& f) {
  switch (type) {
    case CellType::LSTM: return f(LstmCell{hidden});
    case CellType::GRU: return f(GruCell{hidden});
    default: return f(RnnCell{type == CellType::RNNRelu});
  }
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
  // {y, h_n, c_n}: one node with three outputs (c_n undefined but for the LSTM)
  std::vector<Tensor> outputs = dispatch_floating("recurrent", x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    return with_cell(cell, dims.hidden, [&](const auto& c) {
      return forward<T>(c, dims, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, *saved);
    });
  });
  record_op(outputs, lstm ? "lstm" : cell == CellType::GRU ? "gru" : "rnn",
            {x, w_ih, w_hh, b_ih, b_hh, h0, c0},
            [=](const std::vector<Tensor>& grads) {
              return dispatch_floating("recurrent backward", x.dtype(), [&](auto tag) {
                using T = decltype(tag);
                return with_cell(cell, dims.hidden, [&](const auto& c) {
                  return backward<T>(c, dims, grads, x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths, *saved);
                });
              });
            }, /*saved=*/{x, w_ih, w_hh, h0, c0});
  return outputs;
}

}  // namespace loom::detail
