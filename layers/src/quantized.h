#pragma once
// Private: the int8 forward passes of the quantized Linear, Embedding, LSTM and GRU (see
// loom/layers/quantize.h), over detail/int8_gemm.h. Inference only: each output carries a
// backward that throws.
#include <cstdint>
#include <vector>

#include "detail/int8_gemm.h"
#include "loom/layers/recurrent.h"
#include "loom/tensor.h"

namespace loom::detail {

/// An embedding table in int8: every row symmetric with its own scale.
struct Int8Table {
  std::int64_t rows = 0, dim = 0;
  std::vector<std::int8_t> codes;  // (rows, dim)
  std::vector<float> scales;       // (rows)
};

/// Quantizes a float32 parameter of `module` (the name errors use); DtypeError for another dtype.
Int8Matrix quantize_parameter(const char* module, const Tensor& weight, std::int64_t groups);
Int8Table quantize_table(const char* module, const Tensor& weight);

/// (..., in) -> (..., out): input W^T + bias, W quantized; `weight` and `bias` are the float
/// parameters, passed for the backward that refuses to run.
Tensor int8_linear(const Tensor& input, const Int8Matrix& quantized, const Tensor& weight,
                   const Tensor& bias);

/// int64 indices (...) -> (..., dim): the rows dequantized.
Tensor int8_embedding(const Tensor& indices, const Int8Table& table, const Tensor& weight);

/// One direction of one LSTM or GRU layer, as fused_recurrent (recurrent_fused.h) but with W_ih
/// and W_hh quantized (the float w_ih, w_hh only for the refusing backward): x (T, B, F)
/// time-major float32 -> {y (T, B, H), h_n (B, H), c_n (B, H) or undefined}.
std::vector<Tensor> int8_recurrent(CellType cell, const Tensor& x, const Int8Matrix& q_ih,
                                   const Int8Matrix& q_hh, const Tensor& w_ih, const Tensor& w_hh,
                                   const Tensor& b_ih, const Tensor& b_hh, const Tensor& h0,
                                   const Tensor& c0, const std::vector<std::int64_t>& lengths);

/// The error a quantized module's forward throws in training mode.
[[noreturn]] void refuse_training(const char* module);

}  // namespace loom::detail
