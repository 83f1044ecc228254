// RNN, LSTM, GRU: fused against composed, gradcheck, padded batches, PyTorch agreement, errors.
#include <loom/layers/cells.h>
#include <loom/layers/recurrent.h>

#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "detail/packed_gemm.h"
#include "test_util.h"
#include "torch_reference.h"

using loom::CellType;
using loom::Dtype;
using loom::RecurrentOptions;
using loom::Tensor;

namespace {

std::shared_ptr<loom::Recurrent> make_layer(CellType cell, RecurrentOptions options, Dtype dtype = Dtype::Float64) {
  if (cell == CellType::RNNRelu) options.nonlinearity("relu");
  std::shared_ptr<loom::Recurrent> layer;
  switch (cell) {
    case CellType::LSTM: layer = std::make_shared<loom::LSTM>(options); break;
    case CellType::GRU: layer = std::make_shared<loom::GRU>(options); break;
    default: layer = std::make_shared<loom::RNN>(options);
  }
  layer->to(dtype);
  return layer;
}

const char* cell_name(CellType cell) {
  switch (cell) {
    case CellType::RNNTanh: return "rnn_tanh";
    case CellType::RNNRelu: return "rnn_relu";
    case CellType::LSTM: return "lstm";
    default: return "gru";
  }
}

const std::vector<CellType> kCells = {CellType::RNNTanh, CellType::RNNRelu, CellType::LSTM, CellType::GRU};

// The scalar every comparison differentiates: sum(output * r_out) + sum(h_n * r_h) (+ c_n term).
Tensor probe_loss(const loom::RecurrentOutput& out, const Tensor& r_out, const Tensor& r_h,
                  const Tensor& r_c) {
  Tensor loss = loom::sum(out.output * r_out) + loom::sum(out.h_n * r_h);
  if (out.c_n.defined()) loss = loss + loom::sum(out.c_n * r_c);
  return loss;
}

// Largest relative difference between two tensors (relative to max(|a|, |b|, 1e-3)).
double relative_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  const auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i)
    worst = std::max(worst, std::abs(va[i] - vb[i]) / std::max({std::abs(va[i]), std::abs(vb[i]), 1e-3}));
  return worst;
}

// Largest difference relative to the largest magnitude: float32 rounding is relative to a
// tensor's scale, and its elements near zero carry errors of that scale, not of their own.
double scaled_error(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  return loom_test::max_abs_diff(a, b) / std::max(loom::max(loom::abs(b)).item(), 1e-30);
}

// Command-line arguments of torch_ref/recurrent.py.
std::string fmt_args(const char* cell, std::int64_t layers, bool bidirectional, const std::string& lengths,
                     std::int64_t hidden, bool bias) {
  std::string args = std::string("--cell ") + cell + " --layers " + std::to_string(layers) + " --lengths " + lengths +
                     " --hidden-size " + std::to_string(hidden);
  if (!bias) args += " --no-bias";
  return bidirectional ? args + " --bidirectional" : args;
}

}  // namespace

TEST_CASE("fused layers equal the composed cells: forward and every gradient (float64, 1e-12)") {
  const std::vector<std::int64_t> lengths = {5, 2, 4};
  for (CellType cell : kCells)
    for (std::int64_t layers : {1, 2})
      for (bool bidirectional : {false, true})
        for (bool with_lengths : {false, true}) {
          CAPTURE(cell_name(cell));
          CAPTURE(layers);
          CAPTURE(bidirectional);
          CAPTURE(with_lengths);
          auto options = RecurrentOptions(3, 4).num_layers(layers).bidirectional(bidirectional);
          loom::manual_seed(11);
          auto fused = make_layer(cell, options);
          loom::manual_seed(11);
          auto composed = make_layer(cell, RecurrentOptions(options).fused(false));
          const Tensor x_fused = loom_test::input({3, 5, 3}, 1);
          const Tensor x_composed = x_fused.detach().clone().requires_grad_();
          const std::int64_t states = layers * (bidirectional ? 2 : 1);
          const Tensor h0_fused = loom_test::input({states, 3, 4}, 2);
          const Tensor h0_composed = h0_fused.detach().clone().requires_grad_();
          const Tensor c0_fused = cell == CellType::LSTM ? loom_test::input({states, 3, 4}, 3) : Tensor();
          const Tensor c0_composed = c0_fused.defined() ? c0_fused.detach().clone().requires_grad_() : Tensor();
          const Tensor len = with_lengths ? loom::from_vector(lengths) : Tensor();
          auto out_f = fused->forward(x_fused, len, h0_fused, c0_fused);
          auto out_c = composed->forward(x_composed, len, h0_composed, c0_composed);
          const Tensor r_out = loom_test::input(out_f.output.shape(), 4).detach();
          const Tensor r_h = loom_test::input(out_f.h_n.shape(), 5).detach();
          const Tensor r_c = out_f.c_n.defined() ? loom_test::input(out_f.c_n.shape(), 6).detach() : Tensor();
          CHECK(relative_error(out_f.output, out_c.output) <= 1e-12);
          CHECK(relative_error(out_f.h_n, out_c.h_n) <= 1e-12);
          if (cell == CellType::LSTM) CHECK(relative_error(out_f.c_n, out_c.c_n) <= 1e-12);
          probe_loss(out_f, r_out, r_h, r_c).backward();
          probe_loss(out_c, r_out, r_h, r_c).backward();
          CHECK(relative_error(x_fused.grad(), x_composed.grad()) <= 1e-12);
          CHECK(relative_error(h0_fused.grad(), h0_composed.grad()) <= 1e-12);
          if (c0_fused.defined()) CHECK(relative_error(c0_fused.grad(), c0_composed.grad()) <= 1e-12);
          const auto pf = fused->named_parameters(), pc = composed->named_parameters();
          REQUIRE(pf.size() == pc.size());
          for (std::size_t i = 0; i < pf.size(); ++i) {
            CAPTURE(pf[i].first);
            CHECK(relative_error(pf[i].second.grad(), pc[i].second.grad()) <= 1e-12);
          }
        }
}

TEST_CASE("the threaded time loops of every cell: 2 threads equal 1 thread and the composed cells") {
  // H = 130 and B = 8 give steps large enough for two threads, each owning a share of the hidden
  // units that is not a whole number of packed panels; lengths pad some rows.
  const auto options = RecurrentOptions(5, 130);
  const Tensor len = loom::from_vector(std::vector<std::int64_t>{6, 3, 5, 6, 1, 6, 4, 2});
  const int threads_before = loom::get_num_threads();
  for (CellType cell : kCells) {
    CAPTURE(cell_name(cell));
    std::map<std::string, std::vector<Tensor>> results;  // output, h_n, (c_n), then the gradients
    for (const char* run : {"fused 1 thread", "fused 2 threads", "composed"}) {
      loom::set_num_threads(std::string(run) == "fused 2 threads" ? 2 : 1);
      loom::manual_seed(3);
      auto layer = make_layer(cell, RecurrentOptions(options).fused(std::string(run) != "composed"));
      const Tensor x = loom_test::input({8, 6, 5}, 1);
      const Tensor h0 = loom_test::input({1, 8, 130}, 2);
      const Tensor c0 = cell == CellType::LSTM ? loom_test::input({1, 8, 130}, 3) : Tensor();
      auto out = layer->forward(x, len, h0, c0);
      probe_loss(out, loom_test::input(out.output.shape(), 4).detach(), loom_test::input(out.h_n.shape(), 5).detach(),
                 c0.defined() ? loom_test::input(out.c_n.shape(), 6).detach() : Tensor())
          .backward();
      results[run] = {out.output, out.h_n, x.grad(), h0.grad()};
      if (c0.defined()) results[run].insert(results[run].end(), {out.c_n, c0.grad()});
      for (const auto& [name, parameter] : layer->named_parameters()) results[run].push_back(parameter.grad());
    }
    for (std::size_t i = 0; i < results["composed"].size(); ++i) {
      CAPTURE(i);
      // not bit for bit: OpenBLAS's own GEMMs (input projection, weight gradients) may sum in
      // another order on 2 threads
      CHECK(relative_error(results["fused 2 threads"][i], results["fused 1 thread"][i]) <= 1e-12);
      CHECK(relative_error(results["fused 2 threads"][i], results["composed"][i]) <= 1e-11);
    }
  }
  loom::set_num_threads(threads_before);
}

TEST_CASE("fused layers equal the composed cells in float32 (1e-6 of each tensor's scale), across packed panels") {
  // H = 37: two whole panels of 16 and a partial one; lengths pad two of the rows.
  const Tensor len = loom::from_vector(std::vector<std::int64_t>{7, 4, 7, 1});
  for (CellType cell : kCells) {
    CAPTURE(cell_name(cell));
    std::map<std::string, std::vector<Tensor>> results;
    for (bool fused : {true, false}) {
      loom::manual_seed(9);
      auto layer = make_layer(cell, RecurrentOptions(6, 37).fused(fused), Dtype::Float32);
      const Tensor x = loom_test::input({4, 7, 6}, 1).to(Dtype::Float32).detach().requires_grad_();
      const Tensor h0 = loom_test::input({1, 4, 37}, 2).to(Dtype::Float32).detach().requires_grad_();
      auto out = layer->forward(x, len, h0);
      const Tensor r_out = loom_test::input(out.output.shape(), 4).to(Dtype::Float32).detach();
      const Tensor r_h = loom_test::input(out.h_n.shape(), 5).to(Dtype::Float32).detach();
      const Tensor r_c = out.c_n.defined() ? loom_test::input(out.c_n.shape(), 6).to(Dtype::Float32).detach() : Tensor();
      probe_loss(out, r_out, r_h, r_c).backward();
      auto& r = results[fused ? "fused" : "composed"];
      r = {out.output, out.h_n, x.grad(), h0.grad()};
      if (out.c_n.defined()) r.push_back(out.c_n);
      for (const auto& [name, parameter] : layer->named_parameters()) r.push_back(parameter.grad());
    }
    for (std::size_t i = 0; i < results["fused"].size(); ++i) {
      CAPTURE(i);
      CHECK(results["fused"][i].dtype() == Dtype::Float32);
      CHECK(scaled_error(results["fused"][i], results["composed"][i]) <= 1e-6);
    }
  }
}

TEST_CASE("float32 fused layers give the same bits with the AVX2 and the AVX-512 packed kernels") {
  // Both kernels sum each entry in the same order (detail/packed_gemm.h), so a model trained on
  // one CPU reruns bit for bit on the other. B = 13 runs every row block; H = 37 a partial panel.
  using loom::detail::SimdLevel;
  if (!loom::detail::simd_level_available(SimdLevel::Avx512) ||
      !loom::detail::simd_level_available(SimdLevel::Avx2)) {
    MESSAGE("skipped: this CPU lacks AVX2 or AVX-512");
    return;
  }
  const Tensor len = loom::from_vector(std::vector<std::int64_t>{5, 4, 5, 1, 5, 5, 2, 5, 3, 5, 5, 4, 5});
  for (CellType cell : kCells) {
    CAPTURE(cell_name(cell));
    std::map<std::string, std::vector<Tensor>> results;
    for (const char* kernel : {"avx2", "avx512"}) {
      const loom_test::ScopedEnv simd("LOOM_SIMD", kernel);
      loom::manual_seed(9);
      auto layer = make_layer(cell, RecurrentOptions(6, 37), Dtype::Float32);
      const Tensor x = loom_test::input({13, 5, 6}, 1).to(Dtype::Float32).detach().requires_grad_();
      const Tensor h0 = loom_test::input({1, 13, 37}, 2).to(Dtype::Float32).detach().requires_grad_();
      auto out = layer->forward(x, len, h0);
      const Tensor r_out = loom_test::input(out.output.shape(), 4).to(Dtype::Float32).detach();
      const Tensor r_h = loom_test::input(out.h_n.shape(), 5).to(Dtype::Float32).detach();
      const Tensor r_c = out.c_n.defined() ? loom_test::input(out.c_n.shape(), 6).to(Dtype::Float32).detach() : Tensor();
      probe_loss(out, r_out, r_h, r_c).backward();
      auto& r = results[kernel];
      r = {out.output, out.h_n, x.grad(), h0.grad()};
      if (out.c_n.defined()) r.push_back(out.c_n);
      for (const auto& [name, parameter] : layer->named_parameters()) r.push_back(parameter.grad());
    }
    for (std::size_t i = 0; i < results["avx2"].size(); ++i) {
      CAPTURE(i);
      const Tensor a = results["avx2"][i].contiguous(), b = results["avx512"][i].contiguous();
      REQUIRE(a.numel() == b.numel());
      CHECK(std::memcmp(a.data<float>(), b.data<float>(), sizeof(float) * a.numel()) == 0);
    }
  }
}

TEST_CASE("one node, three outputs: a loss on any one of output, h_n, c_n gives the composed gradients") {
  // The fused kernel is one autograd node with the outputs {output, h_n, c_n}; those the loss does
  // not reach get no gradient (not a zero tensor), and the backward must count them as zero.
  const Tensor lengths = loom::from_vector(std::vector<std::int64_t>{5, 3});
  for (CellType cell : kCells)
    for (int used = 0; used < 3; ++used) {
      if (used == 2 && cell != CellType::LSTM) continue;
      CAPTURE(cell_name(cell));
      CAPTURE(used);
      loom::manual_seed(5);
      auto fused = make_layer(cell, RecurrentOptions(3, 4));
      loom::manual_seed(5);
      auto composed = make_layer(cell, RecurrentOptions(3, 4).fused(false));
      const Tensor x_fused = loom_test::input({2, 5, 3}, 1);
      const Tensor x_composed = x_fused.detach().clone().requires_grad_();
      auto loss_of = [&](const loom::RecurrentOutput& out) {
        const Tensor& chosen = used == 0 ? out.output : used == 1 ? out.h_n : out.c_n;
        return loom::sum(loom::tanh(chosen));
      };
      loss_of(fused->forward(x_fused, lengths)).backward();
      loss_of(composed->forward(x_composed, lengths)).backward();
      CHECK(relative_error(x_fused.grad(), x_composed.grad()) <= 1e-12);
      const auto pf = fused->named_parameters(), pc = composed->named_parameters();
      for (std::size_t i = 0; i < pf.size(); ++i) {
        CAPTURE(pf[i].first);
        CHECK(relative_error(pf[i].second.grad(), pc[i].second.grad()) <= 1e-12);
      }
    }
}

TEST_CASE("fused layers pass gradcheck over input, initial states and every parameter") {
  for (CellType cell : kCells) {
    CAPTURE(cell_name(cell));
    loom::manual_seed(3);
    auto layer = make_layer(cell, RecurrentOptions(2, 3).num_layers(2).bidirectional(true));
    std::vector<Tensor> inputs = {loom_test::input({2, 4, 2}, 7), loom_test::input({4, 2, 3}, 8),
                                  cell == CellType::LSTM ? loom_test::input({4, 2, 3}, 9) : Tensor()};
    for (const auto& p : layer->parameters()) inputs.push_back(p);
    const Tensor lengths = loom::from_vector(std::vector<std::int64_t>{4, 2});
    loom_test::check_gradients(
        [&](const std::vector<Tensor>& in) {
          auto out = layer->forward(in[0], lengths, in[1], in[2]);
          Tensor loss = loom::sum(out.output * out.output) + loom::sum(loom::tanh(out.h_n));
          return out.c_n.defined() ? loss + loom::sum(out.c_n) : loss;
        },
        inputs);
  }
}

TEST_CASE("a padded batch equals each sequence run alone, outputs, states and gradients") {
  const std::vector<std::int64_t> lengths = {6, 3, 1};
  for (CellType cell : kCells)
    for (bool fused : {true, false}) {
      CAPTURE(cell_name(cell));
      CAPTURE(fused);
      loom::manual_seed(5);
      auto layer = make_layer(cell, RecurrentOptions(3, 4).num_layers(2).bidirectional(true).fused(fused));
      // Padding filled with large garbage: it must not leak anywhere.
      Tensor batch = loom_test::input({3, 6, 3}, 10).detach();
      for (std::int64_t b = 0; b < 3; ++b)
        for (std::int64_t t = lengths[b]; t < 6; ++t)
          for (std::int64_t f = 0; f < 3; ++f) batch.data<double>()[(b * 6 + t) * 3 + f] = 1e3 * (t + 1);
      auto out = layer->forward(batch, loom::from_vector(lengths));
      loom::sum(out.output * out.output).backward();
      std::map<std::string, Tensor> batch_grads;
      for (const auto& [name, p] : layer->named_parameters()) batch_grads[name] = p.grad();
      layer->zero_grad();

      for (std::int64_t b = 0; b < 3; ++b) {
        const Tensor alone_input = batch.narrow(0, b, 1).narrow(1, 0, lengths[b]);  // (1, len, 3)
        auto alone = layer->forward(alone_input);
        loom::sum(alone.output * alone.output).backward();
        CHECK(loom_test::max_abs_diff(out.output.narrow(0, b, 1).narrow(1, 0, lengths[b]), alone.output) < 1e-12);
        CHECK(loom_test::max_abs_diff(out.h_n.narrow(1, b, 1), alone.h_n) < 1e-12);
        if (out.c_n.defined()) CHECK(loom_test::max_abs_diff(out.c_n.narrow(1, b, 1), alone.c_n) < 1e-12);
        if (lengths[b] < 6)  // padded steps output exactly zero
          CHECK(loom::sum(loom::abs(out.output.narrow(0, b, 1).narrow(1, lengths[b], 6 - lengths[b]))).item() == 0.0);
      }
      // Gradients of the batch loss equal the sum of the sequences' own gradients.
      for (const auto& [name, p] : layer->named_parameters()) {
        CAPTURE(name);
        CHECK(loom_test::max_abs_diff(batch_grads[name], p.grad()) < 1e-10);
      }
    }
}

TEST_CASE("agreement with torch.nn.RNN/LSTM/GRU: outputs, states and all gradients (float64, 1e-8)") {
  struct Config {
    std::int64_t layers;
    bool bidirectional;
    std::string lengths;
    std::int64_t hidden = 4;  // 20: two whole packed panels of 8 (float64) and a partial one
    bool bias = true;
  };
  const std::vector<Config> configs = {{1, false, "5,5"}, {2, false, "5,3,1"}, {1, true, "4,5"}, {2, true, "5,2,4"},
                                       {1, true, "5,4,2", 20, false}};
  for (CellType cell : kCells)
    for (const auto& config : configs) {
      CAPTURE(cell_name(cell));
      CAPTURE(config.layers);
      CAPTURE(config.bidirectional);
      CAPTURE(config.lengths);
      CAPTURE(config.hidden);
      CAPTURE(config.bias);
      auto ref = loom_test::torch_reference("recurrent.py", fmt_args(cell_name(cell), config.layers, config.bidirectional,
                                                                     config.lengths, config.hidden, config.bias));
      if (ref.empty()) return;
      auto layer = make_layer(cell, RecurrentOptions(3, config.hidden).num_layers(config.layers)
                                        .bidirectional(config.bidirectional).bias(config.bias));
      std::map<std::string, Tensor> state;
      for (const auto& [name, p] : layer->named_parameters()) state[name] = ref.at(name);
      layer->load_state_dict(state);
      const Tensor x = ref.at("x").detach().requires_grad_();
      const Tensor h0 = ref.at("h0").detach().requires_grad_();
      const Tensor c0 = cell == CellType::LSTM ? ref.at("c0").detach().requires_grad_() : Tensor();
      auto out = layer->forward(x, ref.at("lengths").to(Dtype::Int64), h0, c0);
      CHECK(loom_test::max_abs_diff(out.output, ref.at("output")) < 1e-8);
      CHECK(loom_test::max_abs_diff(out.h_n, ref.at("h_n")) < 1e-8);
      if (c0.defined()) CHECK(loom_test::max_abs_diff(out.c_n, ref.at("c_n")) < 1e-8);
      probe_loss(out, ref.at("r_out"), ref.at("r_h"), c0.defined() ? ref.at("r_c") : Tensor()).backward();
      CHECK(loom_test::max_abs_diff(x.grad(), ref.at("x.grad")) < 1e-8);
      CHECK(loom_test::max_abs_diff(h0.grad(), ref.at("h0.grad")) < 1e-8);
      if (c0.defined()) CHECK(loom_test::max_abs_diff(c0.grad(), ref.at("c0.grad")) < 1e-8);
      for (const auto& [name, p] : layer->named_parameters()) {
        CAPTURE(name);
        CHECK(loom_test::max_abs_diff(p.grad(), ref.at(name + ".grad")) < 1e-8);
      }
    }
}

TEST_CASE("parameter names, shapes and initialisation follow PyTorch") {
  loom::LSTM lstm(loom::LSTMOptions(10, 20).num_layers(2).bidirectional(true));
  const auto params = lstm.named_parameters();
  REQUIRE(params.size() == 16);
  CHECK(params[0].first == "weight_ih_l0");
  CHECK(params[0].second.shape() == loom::Shape{80, 10});
  CHECK(params[4].first == "weight_ih_l0_reverse");
  CHECK(params[8].first == "weight_ih_l1");
  CHECK(params[8].second.shape() == loom::Shape{80, 40});
  CHECK(params[15].first == "bias_hh_l1_reverse");
  const double bound = 1.0 / std::sqrt(20.0);
  for (const auto& [name, p] : params)
    for (double v : p.to_vector<double>()) CHECK(std::abs(v) <= bound);
  loom::GRU gru(loom::GRUOptions(5, 7).bias(false));
  CHECK(gru.named_parameters().size() == 2);
  CHECK(gru.named_parameters()[1].second.shape() == loom::Shape{21, 7});
}

TEST_CASE("batch_first(false) takes and returns (T, B, F)") {
  loom::manual_seed(2);
  auto a = make_layer(CellType::GRU, RecurrentOptions(3, 4));
  loom::manual_seed(2);
  auto b = make_layer(CellType::GRU, RecurrentOptions(3, 4).batch_first(false));
  const Tensor x = loom_test::input({2, 5, 3}, 1);
  CHECK(loom_test::max_abs_diff(a->forward(x).output.transpose(0, 1), b->forward(x.transpose(0, 1)).output) == 0.0);
}

TEST_CASE("dropout between layers acts in training only") {
  loom::manual_seed(4);
  auto layer = make_layer(CellType::LSTM, RecurrentOptions(3, 8).num_layers(2).dropout(0.5));
  const Tensor x = loom_test::input({2, 4, 3}, 1).detach();
  layer->eval();
  const auto eval_a = layer->forward(x).output.to_vector<double>();
  CHECK(layer->forward(x).output.to_vector<double>() == eval_a);
  layer->train();
  CHECK(layer->forward(x).output.to_vector<double>() != eval_a);
}

TEST_CASE("cells: gradcheck and the lecture's recurrence") {
  loom::manual_seed(8);
  loom::LSTMCell lstm(loom::CellOptions(3, 4));
  loom::GRUCell gru(loom::CellOptions(3, 4));
  loom::RNNCell rnn(loom::CellOptions(3, 4).nonlinearity("relu"));
  lstm.to(Dtype::Float64);
  gru.to(Dtype::Float64);
  rnn.to(Dtype::Float64);
  const Tensor x = loom_test::input({2, 3}, 1), h = loom_test::input({2, 4}, 2), c = loom_test::input({2, 4}, 3);
  loom_test::check_gradients([&](const std::vector<Tensor>& in) {
    auto [h1, c1] = lstm.forward(in[0], {in[1], in[2]});
    return h1 * 2.0 + c1;
  }, {x, h, c, lstm.weight_ih, lstm.weight_hh, lstm.bias_ih, lstm.bias_hh});
  loom_test::check_gradients([&](const std::vector<Tensor>& in) { return gru.forward(in[0], in[1]); },
                             {x, h, gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh});
  loom_test::check_gradients([&](const std::vector<Tensor>& in) { return rnn.forward(in[0], in[1]); },
                             {x, h, rnn.weight_ih, rnn.weight_hh, rnn.bias_hh});
  // Unrolling the cell by hand equals the sequence layer with the same weights.
  loom::RNN layer(loom::RNNOptions(3, 4).fused(true));
  layer.to(Dtype::Float64);
  loom::RNNCell cell(loom::CellOptions(3, 4));
  cell.to(Dtype::Float64);
  cell.load_state_dict({{"weight_ih", layer.state_dict().at("weight_ih_l0")}, {"weight_hh", layer.state_dict().at("weight_hh_l0")},
                        {"bias_ih", layer.state_dict().at("bias_ih_l0")}, {"bias_hh", layer.state_dict().at("bias_hh_l0")}});
  const Tensor seq = loom_test::input({2, 3, 3}, 4).detach();
  Tensor state;
  for (std::int64_t t = 0; t < 3; ++t) state = cell.forward(seq.select(1, t), state);
  CHECK(loom_test::max_abs_diff(state, layer.forward(seq).h_n.select(0, 0)) < 1e-12);
}

TEST_CASE("recurrent layers reject bad input with typed errors") {
  loom::LSTM lstm(loom::LSTMOptions(64, 16).num_layers(2));
  auto message = [](auto f) {
    try {
      f();
    } catch (const loom::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message([&] { lstm.forward(loom::zeros({2, 5, 32})); }) ==
        "LSTM: input.size(-1) must be equal to input_size. Expected 64, got 32");
  CHECK(message([&] { lstm.forward(loom::zeros({2, 5, 64}), Tensor(), loom::zeros({1, 2, 16})); }) ==
        "LSTM: expected h0 of shape (2, 2, 16), got (1, 2, 16)");
  CHECK_THROWS_AS(lstm.forward(loom::zeros({5, 64})), loom::ShapeError);
  CHECK_THROWS_AS(lstm.forward(loom::zeros({2, 5, 64}), loom::from_vector(std::vector<std::int64_t>{5, 6})), loom::ValueError);
  CHECK_THROWS_AS(lstm.forward(loom::zeros({2, 5, 64}), loom::from_vector(std::vector<std::int64_t>{0, 5})), loom::ValueError);
  CHECK_THROWS_AS(lstm.forward(loom::zeros({2, 5, 64}), loom::from_vector(std::vector<std::int64_t>{5, 5, 5})), loom::ShapeError);
  CHECK_THROWS_AS(lstm.forward(loom::zeros({2, 5, 64}), loom::zeros({2})), loom::DtypeError);
  CHECK_THROWS_AS(lstm.forward(loom::zeros({2, 5, 64}), Tensor(), Tensor(), loom::zeros({2, 2, 15})), loom::ShapeError);
  CHECK_THROWS_AS(lstm.forward(loom::zeros({2, 5, 64}, Dtype::Float64)), loom::DtypeError);
  CHECK_THROWS_AS(loom::GRU(loom::GRUOptions(4, 4)).forward(loom::zeros({1, 2, 4}), Tensor(), Tensor(), loom::zeros({1, 1, 4})), loom::ValueError);
  CHECK_THROWS_AS(loom::RNN(loom::RNNOptions(4, 4).nonlinearity("sigmoid")), loom::ValueError);
  CHECK_THROWS_AS(loom::LSTM(loom::LSTMOptions(0, 4)), loom::ValueError);
  CHECK_THROWS_AS(loom::LSTMCell(loom::CellOptions(3, 4)).forward(loom::zeros({2, 5})), loom::ShapeError);
}

TEST_CASE("the composed LSTM's cost grows linearly with the sequence length") {
  // The steps are read with one unbind over time (the gates cut with one chunk per step), whose
  // backward writes the steps' gradients into one buffer of x's shape instead of allocating one
  // per step: 4x the steps allocate about 4x the bytes (a zero tensor of x's shape per step made
  // it 16x). Measured at T = 32 and 128: allocated 375,488 -> 1,502,144 bytes (4.0005x), peak
  // 44,224 -> 135,440 (3.06x; 60,096 -> 189,888, 3.16x, with a select node per step).
  auto lstm = make_layer(CellType::LSTM, RecurrentOptions(64, 4).fused(false));
  const auto measure = [&](std::int64_t steps) {
    const Tensor x = loom_test::input({1, steps, 64}, 7);  // (B, T, F): wide F, small H
    loom::reset_tensor_memory_stats();
    const std::size_t before = loom::tensor_memory_stats().live_bytes;
    loom::sum(lstm->forward(x).output).backward();
    const auto stats = loom::tensor_memory_stats();
    return std::pair<double, double>(static_cast<double>(stats.allocated_bytes),
                                     static_cast<double>(stats.peak_bytes - before));
  };
  const auto [allocated_short, peak_short] = measure(32);
  const auto [allocated_long, peak_long] = measure(128);
  CHECK(allocated_long / allocated_short < 4.1);
  CHECK(peak_long / peak_short < 3.5);
}
