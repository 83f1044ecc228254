// Int8 dynamic quantization (loom/layers/quantize.h): the kernel against an exact integer
// reference on ragged sizes, the activation zero points, the quantized layers against float and
// against PyTorch's quantize_dynamic (torch_ref/quantized.py), the errors, and 1 vs 2 threads.
//
// The bound on the layers: the largest error of any output is under 2% of the largest float
// output (max |y_int8 - y_float| < 0.02 max |y_float|), for Loom and, on the same weights, for
// PyTorch; the two int8 results are within the sum of the two bounds of each other.
#include <doctest/doctest.h>

#include <loom/loom.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "detail/int8_gemm.h"
#include "detail/simd_level.h"
#include "test_util.h"
#include "torch_reference.h"

namespace {

using loom::detail::Int8Matrix;
using loom::detail::Int8Rows;

constexpr double kRelativeBound = 0.02;

std::vector<float> random_values(std::int64_t count, std::uint64_t seed, double scale = 1.0,
                                 double shift = 0.0) {
  loom::Generator generator(seed);
  const loom::Tensor t = loom::randn({count}, loom::Dtype::Float32, &generator) * scale + shift;
  return t.to_vector<float>();
}

double max_abs(const loom::Tensor& t) {
  double worst = 0;
  for (double v : t.to_vector<double>()) worst = std::max(worst, std::abs(v));
  return worst;
}

// max |a - b| / max |reference|.
double relative_error(const loom::Tensor& a, const loom::Tensor& b, const loom::Tensor& reference) {
  return loom_test::max_abs_diff(a.to(loom::Dtype::Float64), b.to(loom::Dtype::Float64)) / max_abs(reference);
}

using loom::detail::SimdLevel;

// The int8 kernels this CPU runs: the plain loop, AVX2, AVX-512 VNNI.
std::vector<SimdLevel> int8_kernels() {
  std::vector<SimdLevel> kernels{SimdLevel::Portable};
  if (loom::detail::simd_level_available(SimdLevel::Avx2)) kernels.push_back(SimdLevel::Avx2);
  if (loom::detail::avx512_vnni_available()) kernels.push_back(SimdLevel::Avx512);
  return kernels;
}

// Quantizes X (m, k) and W (n, k) in `groups` and checks the exact int32 products, block range by
// block range, against sum_k qx qw computed here from the codes, with the VNNI kernel or not.
void check_exact(std::int64_t m, std::int64_t n, std::int64_t k, std::int64_t groups, std::uint64_t seed,
                 SimdLevel kernel) {
  CAPTURE(static_cast<int>(kernel));
  CAPTURE(m);
  CAPTURE(n);
  CAPTURE(k);
  CAPTURE(groups);
  const auto x = random_values(m * k, seed, 2.0, 0.3), w = random_values(n * k, seed + 1);
  Int8Rows qx;
  qx.resize(m, k);
  REQUIRE(loom::detail::quantize_rows(x.data(), k, 0, m, qx));
  Int8Matrix qw = loom::detail::quantize_weights(w.data(), n, k, groups);
  qw.kernel = kernel;
  std::vector<std::int8_t> codes(static_cast<std::size_t>(n * k));  // (n, k) the reference's
  for (std::int64_t row = 0; row < n; ++row)
    loom::detail::quantize_symmetric(w.data() + row * k, k, codes.data() + row * k);
  const std::int64_t rows_per_group = n / groups, blocks = qw.blocks_per_group;
  for (std::int64_t group = 0; group < groups; ++group)
    for (std::int64_t first = 0; first < blocks; first += 3) {  // splits as threads would
      const std::int64_t last = std::min(blocks, first + 3), ldc = (last - first) * Int8Matrix::kBlock;
      std::vector<std::int32_t> acc(static_cast<std::size_t>(m * ldc));
      loom::detail::int8_gemm_exact(m, qx, qw, group, first, last, acc.data(), ldc);
      for (std::int64_t i = 0; i < m; ++i)
        for (std::int64_t c = 0; c < ldc; ++c) {
          const std::int64_t unit = first * Int8Matrix::kBlock + c, row = group * rows_per_group + unit;
          std::int32_t expected = 0;
          for (std::int64_t e = 0; unit < rows_per_group && e < k; ++e)
            expected += std::int32_t(qx.data[i * qx.depth_padded + e]) * codes[row * k + e];
          REQUIRE(acc[i * ldc + c] == expected);  // padding channels give exactly 0
        }
    }
}

}  // namespace

TEST_CASE("int8 GEMM: exact int32 products on ragged sizes, group splits and block ranges, every kernel") {
  for (SimdLevel kernel : int8_kernels()) {
    std::uint64_t seed = 1;
    for (std::int64_t m : {1, 2, 3, 4, 7, 8, 13})  // blocks of 1 to 6 rows (VNNI) and 1 to 4
      for (std::int64_t k : {1, 3, 5, 17, 64, 67})
        for (std::int64_t n : {1, 7, 9, 17, 33}) check_exact(m, n, k, 1, seed++, kernel);
    check_exact(5, 4 * 19, 29, 4, 99, kernel);  // an LSTM's four gates of 19 units
    check_exact(6, 3 * 24, 24, 3, 98, kernel);  // a GRU's three gates, whole blocks
  }
}

TEST_CASE("int8 GEMM: the dequantized output is s_x s_w (acc - z_x rowsum) + bias") {
  const std::int64_t m = 6, n = 21, k = 45;
  const auto x = random_values(m * k, 7, 1.5, -0.4), w = random_values(n * k, 8), bias = random_values(n, 9);
  Int8Rows qx;
  qx.resize(m, k);
  REQUIRE(loom::detail::quantize_rows(x.data(), k, 0, m, qx));
  const Int8Matrix qw = loom::detail::quantize_weights(w.data(), n, k, 1);
  const std::int64_t ldc = qw.blocks_per_group * Int8Matrix::kBlock;
  std::vector<std::int32_t> acc(static_cast<std::size_t>(m * ldc));
  loom::detail::int8_gemm_exact(m, qx, qw, 0, 0, qw.blocks_per_group, acc.data(), ldc);
  std::vector<float> y(static_cast<std::size_t>(m * n), 1.0f);
  loom::detail::int8_gemm(m, qx, qw, 0, 0, qw.blocks_per_group, bias.data(), y.data(), n, true);
  double worst_vs_float = 0, largest = 0;
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      const double expected = 1.0 + double(qx.scales[i]) * qw.scales[j] *
                                        (acc[i * ldc + j] - double(qx.zero_points[i]) * qw.row_sums[j]) + bias[j];
      CHECK(y[i * n + j] == doctest::Approx(expected).epsilon(1e-5));
      double exact = 1.0 + bias[j];  // in float64 from the float inputs
      for (std::int64_t e = 0; e < k; ++e) exact += double(x[i * k + e]) * w[j * k + e];
      worst_vs_float = std::max(worst_vs_float, std::abs(y[i * n + j] - exact));
      largest = std::max(largest, std::abs(exact));
    }
  CHECK(worst_vs_float < kRelativeBound * largest);
}

TEST_CASE("int8 activations: 7-bit codes, zero points, an exact zero and an all-zero row") {
  const std::int64_t k = 5;
  // Row 0 all negative (zero point 127), row 1 all positive (zero point 0), row 2 mixed, row 3 zeros.
  const std::vector<float> x = {-3.0f, -1.0f, -2.5f, -0.1f, -2.0f, 0.5f, 4.0f, 1.0f, 3.0f, 0.2f,
                                -1.0f, 0.0f,  3.0f,  2.0f,  -0.5f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
  Int8Rows q;
  q.resize(4, k);
  REQUIRE(loom::detail::quantize_rows(x.data(), k, 0, 4, q));
  CHECK(q.zero_points[0] == 127);
  CHECK(q.zero_points[1] == 0);
  CHECK(q.zero_points[3] == 0);
  CHECK(q.scales[2] == doctest::Approx(4.0 / 127));
  CHECK(q.data[2 * q.depth_padded + 1] == q.zero_points[2]);  // 0 is coded exactly
  for (std::int64_t row = 0; row < 4; ++row)
    for (std::int64_t e = 0; e < k; ++e) {
      const int code = q.data[row * q.depth_padded + e];
      CHECK(code <= 127);
      const double decoded = double(q.scales[row]) * (code - q.zero_points[row]);
      CHECK(std::abs(decoded - x[row * k + e]) <= 0.5 * q.scales[row] + 1e-6);
    }
  const std::vector<float> bad = {1.0f, NAN, 2.0f, 0.0f, 0.0f};
  CHECK_FALSE(loom::detail::quantize_rows(bad.data(), k, 0, 1, q));

  // An all-zero input gives exactly the bias.
  loom::Linear fc(k, 3);
  loom::quantize_dynamic(fc);
  const loom::Tensor y = fc(loom::zeros({2, k}));
  for (std::int64_t i = 0; i < 2; ++i)
    for (std::int64_t j = 0; j < 3; ++j) CHECK(y.data<float>()[i * 3 + j] == fc.bias.data<float>()[j]);
}

TEST_CASE("quantized layers are within 2% of float and of PyTorch's quantize_dynamic") {
  const auto ref = loom_test::torch_reference("quantized.py");
  if (ref.empty()) return;
  auto state = [&](const std::string& prefix) {
    std::map<std::string, loom::Tensor> values;
    for (const auto& [name, tensor] : ref)
      if (name.rfind(prefix, 0) == 0) values[name.substr(prefix.size())] = tensor.to(loom::Dtype::Float32);
    return values;
  };
  const loom::Tensor x_linear = ref.at("x_linear").to(loom::Dtype::Float32);
  const loom::Tensor x_seq = ref.at("x_seq").to(loom::Dtype::Float32);
  auto check = [&](const loom::Tensor& loom_int8, const std::string& name) {
    CAPTURE(name);
    const loom::Tensor& float_out = ref.at(name + "_float");
    const loom::Tensor& torch_int8 = ref.at(name + "_int8");
    const double vs_float = relative_error(loom_int8, float_out, float_out);
    const double torch_vs_float = relative_error(torch_int8, float_out, float_out);
    CAPTURE(vs_float);
    CAPTURE(torch_vs_float);
    CHECK(vs_float > 0);  // it did run in int8
    CHECK(vs_float < kRelativeBound);
    CHECK(torch_vs_float < kRelativeBound);
    CHECK(relative_error(loom_int8, torch_int8, float_out) < 2 * kRelativeBound);
  };

  loom::Linear linear(37, 19);
  linear.load_state_dict(state("linear."));
  CHECK(loom::quantize_dynamic(linear) == 1);
  check(linear(x_linear), "linear");

  loom::LSTM lstm(loom::LSTMOptions(13, 24).num_layers(2));
  lstm.load_state_dict(state("lstm."));
  loom::quantize_dynamic(lstm);
  check(lstm.forward(x_seq).output, "lstm");

  loom::GRU gru(loom::GRUOptions(13, 20).bidirectional(true));
  gru.load_state_dict(state("gru."));
  loom::quantize_dynamic(gru);
  check(gru.forward(x_seq).output, "gru");
}

TEST_CASE("quantized LSTM and GRU: variable lengths, initial states and final states near float") {
  for (auto cell : {loom::CellType::LSTM, loom::CellType::GRU}) {
    CAPTURE(static_cast<int>(cell));
    loom::Recurrent float_layer(cell, loom::RecurrentOptions(11, 37).num_layers(2));
    loom::Recurrent int8_layer(cell, loom::RecurrentOptions(11, 37).num_layers(2));
    int8_layer.load_state_dict(float_layer.state_dict());
    float_layer.eval();
    loom::quantize_dynamic(int8_layer);
    loom::Generator generator(5);
    const loom::Tensor x = loom::randn({4, 9, 11}, loom::Dtype::Float32, &generator);   // (B, T, F)
    const loom::Tensor h0 = loom::randn({2, 4, 37}, loom::Dtype::Float32, &generator) * 0.5;  // (L, B, H)
    const loom::Tensor c0 = cell == loom::CellType::LSTM ? loom::randn({2, 4, 37}, loom::Dtype::Float32, &generator) : loom::Tensor();
    const std::vector<std::int64_t> lengths = {9, 3, 1, 7};
    const auto expected = float_layer.forward(x, lengths, h0, c0);
    const auto got = int8_layer.forward(x, lengths, h0, c0);
    CHECK(relative_error(got.output, expected.output, expected.output) < kRelativeBound);
    CHECK(relative_error(got.h_n, expected.h_n, expected.h_n) < kRelativeBound);
    if (c0.defined()) CHECK(relative_error(got.c_n, expected.c_n, expected.c_n) < kRelativeBound);
    // Padded steps are exactly zero, as in float.
    CHECK(max_abs(got.output.select(0, 2).narrow(0, 1, 8)) == 0.0);
  }
}

TEST_CASE("quantized Embedding: rows within half a step of float; padding rows stay zero") {
  loom::Embedding float_table(loom::EmbeddingOptions(50, 17).padding_idx(0));
  loom::Embedding int8_table(loom::EmbeddingOptions(50, 17).padding_idx(0));
  int8_table.load_state_dict(float_table.state_dict());
  loom::quantize_dynamic(int8_table);
  const loom::Tensor ids = loom::from_vector(std::vector<std::int64_t>{0, 3, 49, 3, 12, 7}, {2, 3});
  const loom::Tensor expected = float_table(ids), got = int8_table(ids);
  REQUIRE(got.shape() == loom::Shape{2, 3, 17});
  CHECK(relative_error(got, expected, expected) > 0);
  CHECK(relative_error(got, expected, expected) < 0.5 / 127 + 1e-6);  // half a step of the largest row
  CHECK(max_abs(got.select(0, 0).select(0, 0)) == 0.0);
  CHECK_THROWS_AS(int8_table(loom::from_vector(std::vector<std::int64_t>{50})), loom::IndexError);
}

TEST_CASE("quantize_dynamic on a model: counts its layers, keeps the predictions, eval mode") {
  loom::models::SequenceClassifier model(loom::models::SequenceClassifierOptions(40, 3).embedding_dim(16).hidden_size(24));
  model.eval();
  loom::Generator generator(3);
  const loom::Tensor ids = loom::randint(1, 40, {5, 12}, &generator);  // (B, T)
  const loom::Tensor expected = model.forward(ids);
  CHECK(loom::quantize_dynamic(model) >= 3);  // the embedding, the LSTM, the output layer
  CHECK_FALSE(model.is_training());
  CHECK(loom::quantize_dynamic(model) == 0);  // already quantized
  const loom::Tensor got = model.forward(ids);
  CHECK(relative_error(got, expected, expected) < kRelativeBound);
}

TEST_CASE("quantized modules refuse training, backward, float64 and RNN layers") {
  loom::Linear fc(6, 4);
  loom::quantize_dynamic(fc);
  const loom::Tensor x = loom::randn({3, 6});
  const loom::Tensor loss = loom::sum(fc(x));
  const auto backward_message = loom_test::message_of<loom::AutogradError>([&] { loss.backward(); });
  CHECK(backward_message.find("Linear (int8)") != std::string::npos);
  CHECK(backward_message.find("inference only") != std::string::npos);

  fc.train();
  const auto training_message = loom_test::message_of<loom::ValueError>([&] { fc(x); });
  CHECK(training_message.find("expected eval mode, got training mode") != std::string::npos);

  loom::LSTM lstm(loom::LSTMOptions(4, 5));
  loom::quantize_dynamic(lstm);
  const loom::Tensor sequence = loom::randn({2, 3, 4}).requires_grad_();
  const loom::Tensor out = loom::sum(lstm.forward(sequence).output);
  CHECK_THROWS_AS(out.backward(), loom::AutogradError);
  lstm.train();
  CHECK_THROWS_AS(lstm.forward(sequence), loom::ValueError);

  loom::LSTM lstm64(loom::LSTMOptions(4, 5));
  lstm64.to(loom::Dtype::Float64);
  CHECK_THROWS_AS(loom::quantize_dynamic(lstm64), loom::DtypeError);
  loom::RNN rnn(loom::RNNOptions(4, 5));
  CHECK_THROWS_AS(rnn.quantize(), loom::ValueError);
  CHECK(loom::quantize_dynamic(rnn) == 0);  // left in float, as torch leaves nn.RNN

  loom::Linear nan_fc(2, 2);
  loom::quantize_dynamic(nan_fc);
  CHECK_THROWS_AS(nan_fc(loom::from_vector(std::vector<float>{1.0f, NAN}, {1, 2})), loom::ValueError);
}

TEST_CASE("quantized layers give the same bits on 1 and 2 threads") {
  const int threads_before = loom::get_num_threads();
  loom::LSTM lstm(loom::LSTMOptions(24, 168));  // 2 threads: enough work per step, a ragged panel
  loom::GRU gru(loom::GRUOptions(24, 168));
  loom::Linear fc(168, 300);
  for (loom::Module* m : std::vector<loom::Module*>{&lstm, &gru, &fc}) loom::quantize_dynamic(*m);
  loom::Generator generator(11);
  const loom::Tensor x = loom::randn({16, 10, 24}, loom::Dtype::Float32, &generator);  // (B, T, F)
  std::vector<std::vector<float>> runs[2];
  for (int threads : {1, 2}) {
    loom::set_num_threads(threads);
    const loom::Tensor h = lstm.forward(x).output;  // (B, T, 168)
    runs[threads - 1] = {h.to_vector<float>(), gru.forward(x).output.to_vector<float>(), fc(h).to_vector<float>()};
  }
  loom::set_num_threads(threads_before);
  for (std::size_t i = 0; i < 3; ++i) CHECK(runs[0][i] == runs[1][i]);
}
