// Additive (Bahdanau) and multiplicative (Luong) attention: gradients against central
// differences, values against a direct PyTorch implementation, masking, typed errors.
#include <loom/layers.h>

#include <cmath>
#include <memory>
#include <string>

#include "test_util.h"

using loom_test::message_of;
#include "torch_reference.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::check_gradients;
using loom_test::input;
using loom_test::max_abs_diff;

namespace {

constexpr std::int64_t B = 2, Tq = 3, S = 5, Hq = 4, Hk = 6, Hv = 7, H = 8;


std::shared_ptr<loom::AdditiveAttention> additive(bool bias = true) {
  return std::make_shared<loom::AdditiveAttention>(
      loom::AdditiveAttentionOptions(Hq, Hk, H).bias(bias));
}
std::shared_ptr<loom::MultiplicativeAttention> general() {
  return std::make_shared<loom::MultiplicativeAttention>(
      loom::MultiplicativeAttentionOptions(Hq, Hk).score(loom::AttentionScore::General));
}
std::shared_ptr<loom::MultiplicativeAttention> dot() {
  return std::make_shared<loom::MultiplicativeAttention>(
      loom::MultiplicativeAttentionOptions(Hq, Hq).score(loom::AttentionScore::Dot));
}

// Example 1 has 3 real positions out of 5; example 0 has all 5.
Tensor padding_mask() {
  return loom::from_vector(std::vector<std::int64_t>{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}, {B, S});
}

std::vector<std::string> names_of(const loom::Module& module) {
  std::vector<std::string> names;
  for (const auto& entry : module.named_parameters()) names.push_back(entry.first);
  return names;
}

// Context and weights flattened into one tensor, so one gradcheck covers both outputs.
Tensor both(const loom::AttentionOutput& out) {
  return loom::concat({out.context.reshape({-1}), out.weights.reshape({-1})}, 0);
}

}  // namespace

TEST_CASE("attention: parameter names and shapes follow the formulas") {
  auto bahdanau = additive(false);
  CHECK(names_of(*bahdanau) ==
        std::vector<std::string>{"query_proj.weight", "key_proj.weight", "v.weight"});
  CHECK(bahdanau->query_proj->weight.shape() == loom::Shape{H, Hq});
  CHECK(bahdanau->key_proj->weight.shape() == loom::Shape{H, Hk});
  CHECK(bahdanau->v->weight.shape() == loom::Shape{1, H});
  CHECK(names_of(*additive(true)) == std::vector<std::string>{"query_proj.weight", "query_proj.bias",
                                                              "key_proj.weight", "v.weight"});
  auto luong = general();
  CHECK(names_of(*luong) == std::vector<std::string>{"key_proj.weight"});
  CHECK(luong->key_proj->weight.shape() == loom::Shape{Hq, Hk});  // W in q^T W k
  CHECK(names_of(*dot()).empty());
}

TEST_CASE("attention: output shapes for one decoder step and for all steps") {
  for (std::shared_ptr<loom::Attention> attention :
       {std::shared_ptr<loom::Attention>(additive()), std::shared_ptr<loom::Attention>(general())}) {
    const Tensor keys = loom::randn({B, S, Hk}), values = loom::randn({B, S, Hv});
    auto step = (*attention)(loom::randn({B, Hq}), keys, values);
    CHECK(step.context.shape() == loom::Shape{B, Hv});
    CHECK(step.weights.shape() == loom::Shape{B, S});
    auto all = (*attention)(loom::randn({B, Tq, Hq}), keys);  // values = keys
    CHECK(all.context.shape() == loom::Shape{B, Tq, Hk});
    CHECK(all.weights.shape() == loom::Shape{B, Tq, S});
    for (double total : loom::sum(all.weights, {-1}).to_vector<double>())
      CHECK(total == doctest::Approx(1.0));
  }
}

TEST_CASE("attention: one step equals the matching row of all steps; values default to keys") {
  auto attention = additive();
  attention->to(Dtype::Float64);
  const Tensor query = input({B, Tq, Hq}, 1), keys = input({B, S, Hk}, 2);
  auto all = (*attention)(query, keys, Tensor(), padding_mask());
  auto explicit_values = (*attention)(query, keys, keys, padding_mask());
  CHECK(max_abs_diff(all.context, explicit_values.context) == 0.0);
  for (std::int64_t t = 0; t < Tq; ++t) {
    auto step = (*attention)(query.select(1, t), keys, Tensor(), padding_mask());
    CHECK(max_abs_diff(step.context, all.context.select(1, t)) < 1e-15);
    CHECK(max_abs_diff(step.weights, all.weights.select(1, t)) < 1e-15);
  }
}

TEST_CASE("attention: padded positions get exactly zero weight and zero gradient, never NaN") {
  for (std::shared_ptr<loom::Attention> attention :
       {std::shared_ptr<loom::Attention>(additive()), std::shared_ptr<loom::Attention>(general())}) {
    attention->to(Dtype::Float64);
    Tensor query = input({B, Tq, Hq}, 3, 5.0), keys = input({B, S, Hk}, 4, 5.0);
    Tensor values = input({B, S, Hv}, 5);
    for (const Tensor& mask : {padding_mask(), padding_mask().to(Dtype::Float32)}) {
      auto out = (*attention)(query, keys, values, mask);
      const auto w = out.weights.to_vector<double>();  // (B, Tq, S)
      for (std::int64_t t = 0; t < Tq; ++t) {
        CHECK(w[(Tq + t) * S + 3] == 0.0);
        CHECK(w[(Tq + t) * S + 4] == 0.0);
        for (std::int64_t s = 0; s < 3; ++s) CHECK(w[(Tq + t) * S + s] > 0.0);
      }
      for (double v : out.context.to_vector<double>()) CHECK(std::isfinite(v));
      keys.zero_grad();
      values.zero_grad();
      both(out).sum().backward();
      const Tensor keys_grad = keys.grad().select(0, 1), values_grad = values.grad().select(0, 1);
      for (std::int64_t s : {3, 4}) {
        CHECK(loom::abs(keys_grad.select(0, s)).sum().item() == 0.0);
        CHECK(loom::abs(values_grad.select(0, s)).sum().item() == 0.0);
      }
    }
  }
}

TEST_CASE("attention: gradcheck over all inputs and parameters, with and without a mask") {
  struct Case {
    const char* name;
    std::shared_ptr<loom::Attention> attention;
    std::int64_t key_size;
  };
  for (const Case& c : {Case{"additive", additive(true), Hk}, Case{"general", general(), Hk},
                        Case{"dot", dot(), Hq}}) {
    for (bool masked : {false, true}) {
      for (bool one_step : {false, true}) {
        INFO(c.name << (masked ? " masked" : "") << (one_step ? " one step" : ""));
        c.attention->to(Dtype::Float64);
        std::vector<Tensor> inputs{one_step ? input({B, Hq}, 10) : input({B, Tq, Hq}, 11),
                                   input({B, S, c.key_size}, 12), input({B, S, Hv}, 13)};
        for (auto& p : c.attention->parameters()) inputs.push_back(p);
        const Tensor mask = masked ? padding_mask() : Tensor();
        check_gradients(
            [&](const std::vector<Tensor>& in) {
              return both((*c.attention)(in[0], in[1], in[2], mask));
            },
            inputs);
      }
    }
  }
}

TEST_CASE("attention: additive and multiplicative agree with PyTorch formulas") {
  const auto ref = loom_test::torch_reference("attention.py");
  if (ref.empty()) return;
  struct Case {
    const char* prefix;
    std::shared_ptr<loom::Attention> attention;
  };
  for (const Case& c : {Case{"additive", additive(true)}, Case{"general", general()},
                        Case{"dot", dot()}}) {
    INFO(c.prefix);
    const std::string prefix = std::string(c.prefix) + ".";
    c.attention->to(Dtype::Float64);
    std::map<std::string, Tensor> state;
    for (const auto& entry : c.attention->state_dict()) state[entry.first] = ref.at(prefix + entry.first);
    c.attention->load_state_dict(state);
    Tensor query = ref.at(prefix + "query").detach().requires_grad_();
    Tensor keys = ref.at(prefix + "keys").detach().requires_grad_();
    Tensor values = ref.at(prefix + "values").detach().requires_grad_();
    auto out = (*c.attention)(query, keys, values, ref.at(prefix + "mask").to(Dtype::Int64));
    CHECK(max_abs_diff(out.context, ref.at(prefix + "context")) < 1e-8);
    CHECK(max_abs_diff(out.weights, ref.at(prefix + "weights")) < 1e-8);
    ((out.context * ref.at(prefix + "gout_context")).sum() +
     (out.weights * ref.at(prefix + "gout_weights")).sum())
        .backward();
    CHECK(max_abs_diff(query.grad(), ref.at(prefix + "query.grad")) < 1e-8);
    CHECK(max_abs_diff(keys.grad(), ref.at(prefix + "keys.grad")) < 1e-8);
    CHECK(max_abs_diff(values.grad(), ref.at(prefix + "values.grad")) < 1e-8);
    for (const auto& [name, parameter] : c.attention->named_parameters()) {
      INFO(name);
      CHECK(max_abs_diff(parameter.grad(), ref.at(prefix + name + ".grad")) < 1e-8);
    }
  }
}

TEST_CASE("attention: typed errors for mismatched batch, sizes, values and mask") {
  auto attention = additive();
  const Tensor query = loom::zeros({B, Hq}), keys = loom::zeros({B, S, Hk});
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(query, loom::zeros({3, S, Hk})); }) ==
        "AdditiveAttention: keys.size(0) must be equal to the query's batch size. Expected 2, got 3");
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(loom::zeros({B, 5}), keys); }) ==
        "AdditiveAttention: query.size(-1) must be equal to query_size. Expected 4, got 5");
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(query, loom::zeros({B, S, 3})); }) ==
        "AdditiveAttention: keys.size(-1) must be equal to key_size. Expected 6, got 3");
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(query, keys, loom::zeros({B, 4, Hv})); }) ==
        "AdditiveAttention: expected values of shape (2, 5, Hv) to match the keys (2, 5, 6), got "
        "(2, 4, 7)");
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(query, keys, Tensor(), loom::ones({B, 4})); }) ==
        "AdditiveAttention: expected a mask of shape (2, 5) for keys (2, 5, 6), got (2, 4)");
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(loom::zeros({Hq}), keys); }) ==
        "AdditiveAttention: expected query of shape (B, Hq) or (B, Tq, Hq), got (4,)");
  CHECK(message_of<loom::ShapeError>([&] { (*attention)(query, loom::zeros({B, Hk})); }) ==
        "AdditiveAttention: expected keys of shape (B, S, Hk), got (2, 6)");
  CHECK(message_of<loom::ShapeError>([&] { (*general())(query, loom::zeros({3, S, Hk})); }) ==
        "MultiplicativeAttention: keys.size(0) must be equal to the query's batch size. Expected 2, "
        "got 3");
  CHECK(message_of<loom::ValueError>([] {
          loom::MultiplicativeAttention(
              loom::MultiplicativeAttentionOptions(4, 6).score(loom::AttentionScore::Dot));
        }) == "MultiplicativeAttention: the dot score needs query_size == key_size, got 4 and 6");
  CHECK_THROWS_AS(loom::AdditiveAttention(loom::AdditiveAttentionOptions(4, 6, 0)), loom::ValueError);
}
