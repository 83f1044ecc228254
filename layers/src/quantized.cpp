// The int8 forward passes of quantized.h. The recurrent loop follows the fused LSTM's
// (recurrent_fused.cpp) and shares its cell code: the input projections of all steps are one
// int8 GEMM; then every step quantizes h_{t-1} (per row, as a task per sequence) and adds
// h_{t-1} W_hh^T into the step's gates (the LSTM panel by panel of hidden units, each task
// applying the cell to its units; the GRU in blocks of channels, its cell run by the next step's
// row tasks). The threads meet twice per step; all integer sums are exact and each output is
// dequantized by one task in a fixed order, so 1 and 2 threads give the same bits.
#include "quantized.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "detail/parallel.h"
#include "detail/tensor_impl.h"
#include "loom/autograd.h"
#include "loom/runtime.h"
#include "recurrent_cells.h"

namespace loom::detail {
namespace {

constexpr std::int64_t kUnitsPerPanel = 2 * Int8Matrix::kBlock;  // a recurrent task's hidden units

// The outputs get a backward that throws: a quantized module is not differentiable.
void refuse_backward(std::vector<Tensor>& outputs, const char* op, std::vector<Tensor> inputs) {
  record_op(outputs, op, std::move(inputs), [op](const std::vector<Tensor>&) -> std::vector<Tensor> {
    throw AutogradError(fmt::format("{}: a quantized (int8) module runs inference only and has no "
                                    "backward; train the float model, then quantize it", op));
  });
}
void refuse_backward(Tensor& output, const char* op, std::vector<Tensor> inputs) {
  std::vector<Tensor> outputs{output};
  refuse_backward(outputs, op, std::move(inputs));
}

void check_float32(const char* op, const Tensor& t, const char* what) {
  check_defined(op, t);
  if (t.dtype() != Dtype::Float32)
    throw DtypeError(fmt::format("{}: int8 inference takes a float32 {}, got {}", op, what,
                                 dtype_name(t.dtype())));
}

[[noreturn]] void refuse_non_finite(const char* op, const char* what) {
  throw ValueError(fmt::format("{}: the {} holds NaN or infinity, which int8 cannot represent", op, what));
}

// Quantizes the rows of a dense float32 (rows, k) on the threads; ValueError on a non-finite value.
void quantize_all_rows(const char* op, const float* x, std::int64_t rows, std::int64_t k,
                       Int8Rows& out) {
  out.resize(rows, k);
  std::atomic<bool> finite{true};
  parallel_for(rows, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(k, 1)),
               [&](std::int64_t begin, std::int64_t end) {
                 if (!quantize_rows(x, k, begin, end, out)) finite = false;
               });
  if (!finite) refuse_non_finite(op, "input");
}

// y (m, groups * group_rows) (+)= x W^T (+ bias), W's channel blocks split between the threads.
void int8_gemm_all(std::int64_t m, const Int8Rows& x, const Int8Matrix& w, const float* bias,
                   float* y, bool accumulate) {
  const std::int64_t blocks = w.groups * w.blocks_per_group, n = w.groups * w.group_rows;
  const std::int64_t macs_per_block = m * w.depth_padded * Int8Matrix::kBlock;
  parallel_for(blocks, std::max<std::int64_t>(1, (1 << 17) / std::max<std::int64_t>(macs_per_block, 1)),
               [&](std::int64_t begin, std::int64_t end) {
                 for (std::int64_t block = begin; block < end;) {  // within one group at a time
                   const std::int64_t group = block / w.blocks_per_group;
                   const std::int64_t first = block - group * w.blocks_per_group;
                   const std::int64_t last = std::min(end - group * w.blocks_per_group, w.blocks_per_group);
                   int8_gemm(m, x, w, group, first, last, bias ? bias + group * w.group_rows : nullptr,
                             y + group * w.group_rows, n, accumulate);
                   block = group * w.blocks_per_group + last;
                 }
               });
}

// The input projections of all steps: gates (T*B, G*H) = X W_ih^T + b_ih (+ b_hh, except for the
// GRU, whose b_hn sits inside the reset gate).
void project_inputs(const char* op, const Dims& d, const Tensor& x, const Int8Matrix& q_ih,
                    const Tensor& b_ih, const Tensor& b_hh, float* gates) {
  std::vector<float> bias;  // (G*H) or empty
  if (b_ih.defined()) {
    bias = b_ih.to_vector<float>();
    if (b_hh.defined()) {
      const float* extra = b_hh.data<float>();
      for (std::int64_t j = 0; j < d.gates; ++j) bias[j] += extra[j];
    }
  }
  Int8Rows qx;
  quantize_all_rows(op, x.data<float>(), d.steps * d.batch, d.input, qx);
  int8_gemm_all(d.steps * d.batch, qx, q_ih, bias.empty() ? nullptr : bias.data(), gates, false);
}

}  // namespace

Int8Matrix quantize_parameter(const char* module, const Tensor& weight, std::int64_t groups) {
  check_float32(module, weight, "weight");
  const Tensor w = dense(weight.detach());
  return quantize_weights(w.data<float>(), w.size(0), w.size(1), groups);
}

Int8Table quantize_table(const char* module, const Tensor& weight) {
  check_float32(module, weight, "weight");
  const Tensor w = dense(weight.detach());
  Int8Table table;
  table.rows = w.size(0);
  table.dim = w.size(1);
  table.codes.resize(static_cast<std::size_t>(table.rows * table.dim));
  table.scales.resize(static_cast<std::size_t>(table.rows));
  for (std::int64_t row = 0; row < table.rows; ++row)
    table.scales[row] = quantize_symmetric(w.data<float>() + row * table.dim, table.dim,
                                           table.codes.data() + row * table.dim);
  return table;
}

void refuse_training(const char* module) {
  throw ValueError(fmt::format("{}: a quantized (int8) module runs inference only; expected eval "
                               "mode, got training mode (call eval())", module));
}

Tensor int8_linear(const Tensor& input, const Int8Matrix& quantized, const Tensor& weight,
                   const Tensor& bias) {
  check_float32("Linear (int8)", input, "input");
  const Tensor x = dense(input);
  const std::int64_t in = quantized.depth, out = quantized.group_rows, rows = x.numel() / in;
  Int8Rows qx;
  quantize_all_rows("Linear (int8)", x.data<float>(), rows, in, qx);
  Shape shape = x.shape();
  shape.back() = out;
  Tensor y = empty({rows, out});  // (M, out)
  int8_gemm_all(rows, qx, quantized, bias.defined() ? dense(bias).data<float>() : nullptr,
                y.data<float>(), false);
  y = y.reshape(shape);  // (..., out)
  refuse_backward(y, "Linear (int8)", {input, weight, bias});
  return y;
}

Tensor int8_embedding(const Tensor& indices, const Int8Table& table, const Tensor& weight) {
  const std::int64_t count = indices.numel(), dim = table.dim;
  const std::int64_t* ids = indices.data<std::int64_t>();
  Tensor out = empty({count, dim});  // (N, E)
  float* o = out.data<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    if (ids[i] < 0 || ids[i] >= table.rows)
      throw IndexError(fmt::format("Embedding (int8): index {} is out of range for {} rows", ids[i], table.rows));
    const std::int8_t* codes = table.codes.data() + ids[i] * dim;
    const float scale = table.scales[ids[i]];
    for (std::int64_t e = 0; e < dim; ++e) o[i * dim + e] = scale * codes[e];
  }
  Shape shape = indices.shape();
  shape.push_back(dim);
  out = out.reshape(shape);  // (..., E)
  refuse_backward(out, "Embedding (int8)", {weight});
  return out;
}

std::vector<Tensor> int8_recurrent(CellType cell, const Tensor& x_view, const Int8Matrix& q_ih,
                                   const Int8Matrix& q_hh, const Tensor& w_ih, const Tensor& w_hh,
                                   const Tensor& b_ih_view, const Tensor& b_hh_view,
                                   const Tensor& h0_view, const Tensor& c0_view,
                                   const std::vector<std::int64_t>& lengths) {
  const bool lstm = cell == CellType::LSTM;
  const char* op = lstm ? "LSTM (int8)" : "GRU (int8)";
  check_float32(op, x_view, "input");
  // The kernels walk the storage row-major.
  const Tensor x = dense(x_view), b_ih = dense(b_ih_view), b_hh = dense(b_hh_view), h0 = dense(h0_view),
               c0 = dense(c0_view);
  const Dims d{x.size(0), x.size(1), x.size(2), q_hh.group_rows, q_hh.groups * q_hh.group_rows};
  const std::int64_t B = d.batch, H = d.hidden, G = d.gates;
  const float* h0_values = h0.data<float>();
  for (std::int64_t i = 0; i < B * H; ++i)  // h0 is quantized inside the loop, which cannot throw
    if (!std::isfinite(h0_values[i])) refuse_non_finite(op, "initial state h0");

  Tensor gates = empty({d.steps, B, G});  // (T, B, G*H) input projections, then activations
  project_inputs(op, d, x, q_ih, b_ih, lstm ? b_hh : Tensor(), gates.data<float>());
  // {y (T, B, H), h_n (B, H), c_n (B, H) or undefined}, as fused_recurrent's
  std::vector<Tensor> outputs{empty({d.steps, B, H}), empty({B, H}), lstm ? empty({B, H}) : Tensor()};
  float* out = outputs[0].data<float>();
  // h_{t-1} and h_t alternate between two (B, H) buffers, as c does; step t reads state[t % 2].
  std::vector<float> h_state(static_cast<std::size_t>(2 * B * H)), c_state;  // (2, B, H) each
  std::memcpy(h_state.data(), h0_values, sizeof(float) * B * H);
  if (lstm) {
    c_state.resize(h_state.size());
    std::memcpy(c_state.data(), c0.data<float>(), sizeof(float) * B * H);
  }
  std::vector<float> scratch(static_cast<std::size_t>(B * H));  // LSTM tanh(c_t), GRU hidden n
  std::vector<float> hidden_parts;  // GRU: (B, 3H) h_{t-1} W_hh^T + b_hh of the current step
  if (!lstm) hidden_parts.resize(static_cast<std::size_t>(B * G));
  const float* b_hh_values = !lstm && b_hh.defined() ? b_hh.data<float>() : nullptr;
  Int8Rows qh;
  qh.resize(B, H);

  // The GRU cell of sequence b at step t (its hidden parts complete), writing h_t and y_t.
  auto gru_row = [&](std::int64_t t, std::int64_t b) {
    float* y = out + (t * B + b) * H;
    ForwardRow<float> r{};
    r.h_prev = h_state.data() + (t % 2) * B * H + b * H;
    r.h_next = h_state.data() + ((t + 1) % 2) * B * H + b * H;
    if (t >= lengths[b]) {
      carry_state(r, y, 0, H);
      return;
    }
    r.gates = gates.data<float>() + (t * B + b) * G;
    r.recurrent = hidden_parts.data() + b * G;  // b_hh already in, b_hn with it: no bias_hn
    r.hidden_n = scratch.data() + b * H;
    GruCell{H}.forward(r, 0, H);
    std::memcpy(y, r.h_next, sizeof(float) * H);
  };
  // Step t's row task b: the GRU finishes step t-1 of the row, then h_{t-1} row b is quantized.
  auto row_task = [&](std::int64_t t, std::int64_t b) {
    if (!lstm && t > 0) gru_row(t - 1, b);
    quantize_rows(h_state.data() + (t % 2) * B * H, H, b, b + 1, qh);
  };
  const std::int64_t panels = (H + kUnitsPerPanel - 1) / kUnitsPerPanel;
  const std::int64_t blocks_per_panel = kUnitsPerPanel / Int8Matrix::kBlock;
  // Step t's panel task p: hidden units [j0, j1) of every gate; the LSTM cell on them.
  auto panel_task = [&](std::int64_t t, std::int64_t p) {
    const std::int64_t j0 = p * kUnitsPerPanel, j1 = std::min(H, j0 + kUnitsPerPanel);
    const std::int64_t block0 = p * blocks_per_panel;
    const std::int64_t block1 = std::min(block0 + blocks_per_panel, q_hh.blocks_per_group);
    float* g = gates.data<float>() + t * B * G;  // (B, G*H)
    if (t + 1 < d.steps) prefetch_columns(g + B * G, B, G, q_hh.groups, H, j0, j1);
    for (std::int64_t gate = 0; gate < q_hh.groups; ++gate) {
      if (lstm) {
        int8_gemm(B, qh, q_hh, gate, block0, block1, nullptr, g + gate * H, G, true);
      } else {
        int8_gemm(B, qh, q_hh, gate, block0, block1, b_hh_values ? b_hh_values + gate * H : nullptr,
                  hidden_parts.data() + gate * H, G, false);
      }
    }
    if (!lstm) return;
    const std::int64_t now = (t % 2) * B * H, next = ((t + 1) % 2) * B * H;
    for (std::int64_t b = 0; b < B; ++b) {
      ForwardRow<float> r{};
      r.h_prev = h_state.data() + now + b * H;
      r.h_next = h_state.data() + next + b * H;
      r.c_prev = c_state.data() + now + b * H;
      r.c_next = c_state.data() + next + b * H;
      float* y = out + (t * B + b) * H;
      if (t >= lengths[b]) {
        carry_state(r, y, j0, j1);
        continue;
      }
      r.gates = g + b * G;
      r.tanh_c = scratch.data() + b * H;
      LstmCell{H}.forward(r, j0, j1);
      std::memcpy(y + j0, r.h_next + j0, sizeof(float) * (j1 - j0));
    }
  };
  const int threads = loop_threads(panels, B * G * H, /*min_macs_per_thread=*/1 << 19);  // int8 MACs are cheaper
  StepQueue rows(d.steps, B, threads);        // h_{t-1} is quantized before any panel uses it
  StepQueue products(d.steps, panels, threads);  // h_t is complete before step t+1 quantizes it
  parallel_run(threads, [&](int thread) {
    for (std::int64_t t = 0; t < d.steps; ++t) {
      rows.run(t, thread, [&](std::int64_t b) { row_task(t, b); });
      products.run(t, thread, [&](std::int64_t p) { panel_task(t, p); });
    }
  });
  if (!lstm)
    for (std::int64_t b = 0; b < B; ++b) gru_row(d.steps - 1, b);  // the last step's cells
  const std::int64_t last = (d.steps % 2) * B * H;
  std::memcpy(outputs[1].data<float>(), h_state.data() + last, sizeof(float) * B * H);
  if (lstm) std::memcpy(outputs[2].data<float>(), c_state.data() + last, sizeof(float) * B * H);
  refuse_backward(outputs, op, {x_view, w_ih, w_hh, b_ih_view, b_hh_view, h0_view, c0_view});
  return outputs;
}

}  // namespace loom::detail
