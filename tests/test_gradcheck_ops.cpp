// Every differentiable op against central differences in float64 (max relative error <= 1e-6),
// for all of its inputs and several shapes, broadcasting cases included.
#include "test_util.h"

using loom::Shape;
using loom::Tensor;
using loom_test::away_from_zero;
using loom_test::check_gradients;
using loom_test::input;
using Inputs = std::vector<Tensor>;

namespace {
// The broadcasting pairs every binary op is checked on.
const std::vector<std::pair<Shape, Shape>> kBinaryShapes = {
    {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{5}, {}}, {{}, {2, 3}}};
}  // namespace

TEST_CASE("add, sub, mul broadcast and check") {
  for (const auto& [sa, sb] : kBinaryShapes) {
    CAPTURE(loom::shape_str(sa));
    CAPTURE(loom::shape_str(sb));
    check_gradients([](const Inputs& in) { return in[0] + in[1]; }, {input(sa, 1), input(sb, 2)});
    check_gradients([](const Inputs& in) { return in[0] - in[1]; }, {input(sa, 3), input(sb, 4)});
    check_gradients([](const Inputs& in) { return in[0] * in[1]; }, {input(sa, 5), input(sb, 6)});
    check_gradients([](const Inputs& in) { return loom::div(in[0], in[1]); },
                    {input(sa, 7), away_from_zero(sb, 8)});
  }
}

TEST_CASE("scalar operators") {
  check_gradients([](const Inputs& in) { return 2.0 * in[0] - 1.5 + in[0] / 3.0 + (4.0 - in[0]); },
                  {input({3, 2}, 9)});
  check_gradients([](const Inputs& in) { return 1.0 / in[0]; }, {away_from_zero({4}, 10)});
}

TEST_CASE("neg, pow, exp, log, sqrt, abs, sin, cos, clamp") {
  check_gradients([](const Inputs& in) { return loom::sin(in[0]) * loom::cos(in[0] * 2.0); },
                  {input({2, 3}, 10)});
  check_gradients([](const Inputs& in) { return loom::neg(in[0]); }, {input({2, 3}, 11)});
  check_gradients([](const Inputs& in) { return loom::pow(in[0], 3.0); }, {input({2, 3}, 12)});
  for (double exponent : {1.0, 2.0, 0.5})  // the exact special cases
    check_gradients([exponent](const Inputs& in) { return loom::pow(in[0], exponent); }, {input({4}, 12, 0.2, 1.5)});
  check_gradients([](const Inputs& in) { return loom::pow(in[0], -1.5); },
                  {input({4}, 13, 0.2, 1.5)});
  check_gradients([](const Inputs& in) { return loom::pow(in[0], in[1]); },
                  {input({2, 3}, 14, 0.2, 1.5), input({3}, 15)});
  check_gradients([](const Inputs& in) { return loom::exp(in[0]); }, {input({3, 3}, 16)});
  check_gradients([](const Inputs& in) { return loom::log(in[0]); }, {input({3, 3}, 17, 0.2, 2.0)});
  check_gradients([](const Inputs& in) { return loom::sqrt(in[0]); }, {input({5}, 18, 0.2, 2.0)});
  check_gradients([](const Inputs& in) { return loom::abs(in[0]); }, {away_from_zero({2, 4}, 19)});
  // clamp bounds at +-0.25 avoid the kinks: the inputs are at least 0.5 from zero.
  check_gradients([](const Inputs& in) { return loom::clamp(in[0] * 0.5, -0.2, 0.6); },
                  {away_from_zero({3, 4}, 20)});
}

TEST_CASE("minimum, maximum, where, masked_fill") {
  // Inputs offset by a constant so no pair ties.
  check_gradients([](const Inputs& in) { return loom::minimum(in[0], in[1]); },
                  {input({3, 4}, 21), input({4}, 22, 1.0, 0.05)});
  check_gradients([](const Inputs& in) { return loom::maximum(in[0], in[1]); },
                  {input({2, 1, 3}, 23), input({4, 1}, 24, 1.0, 0.05)});
  const Tensor condition = loom::from_vector(std::vector<double>{1, 0, 0, 1, 1, 0}, {2, 3});
  check_gradients([condition](const Inputs& in) { return loom::where(condition, in[0], in[1]); },
                  {input({2, 3}, 25), input({3}, 26)});
  const Tensor mask = loom::from_vector(std::vector<std::int64_t>{0, 1, 0}, {3});
  check_gradients([mask](const Inputs& in) { return loom::masked_fill(in[0], mask, -7.0); },
                  {input({4, 3}, 27)});
  const Tensor int_condition = loom::from_vector(std::vector<std::int64_t>{0, 3, -1}, {3});
  check_gradients([int_condition](const Inputs& in) { return loom::where(int_condition, in[0], in[1]); },
                  {input({2, 3}, 28), input({2, 1}, 29)});
}

TEST_CASE("int64 operands promote to the float operand, whose gradient flows") {
  const Tensor counts = loom::from_vector(std::vector<std::int64_t>{1, -2, 3}, {3});
  check_gradients([counts](const Inputs& in) { return in[0] * counts + counts - in[0] / counts; },
                  {input({2, 3}, 35)});
  check_gradients([counts](const Inputs& in) { return loom::div(counts, in[0]); },
                  {away_from_zero({3}, 36)});
}

TEST_CASE("matmul: 2-D, vectors, batched, broadcast batches, rows times matrix") {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {4, 5}}, {{4}, {4, 2}}, {{3, 4}, {4}}, {{2, 3, 4}, {2, 4, 5}},
      {{2, 3, 4}, {4, 5}}, {{3, 4}, {2, 4, 5}}, {{2, 1, 3, 4}, {3, 4, 2}}};
  std::uint64_t seed = 30;
  for (const auto& [sa, sb] : shapes) {
    CAPTURE(loom::shape_str(sa));
    CAPTURE(loom::shape_str(sb));
    check_gradients([](const Inputs& in) { return loom::matmul(in[0], in[1]); },
                    {input(sa, seed++), input(sb, seed++)});
  }
}

TEST_CASE("sum and mean over axes") {
  const Tensor x = input({2, 3, 4}, 40);
  for (const loom::Axes& axes : std::vector<loom::Axes>{{}, {0}, {1}, {-1}, {0, 2}})
    for (bool keepdim : {false, true}) {
      check_gradients([&](const Inputs& in) { return loom::sum(in[0], axes, keepdim); }, {x});
      check_gradients([&](const Inputs& in) { return loom::mean(in[0], axes, keepdim); }, {x});
    }
}

TEST_CASE("max, min, logsumexp over an axis") {
  const Tensor x = input({3, 5}, 41);  // distinct values: the maximum is unique
  for (std::int64_t axis : {0, 1, -1})
    for (bool keepdim : {false, true}) {
      check_gradients([&](const Inputs& in) { return loom::max(in[0], axis, keepdim); }, {x});
      check_gradients([&](const Inputs& in) { return loom::min(in[0], axis, keepdim); }, {x});
      check_gradients([&](const Inputs& in) { return loom::logsumexp(in[0], axis, keepdim); }, {x});
    }
  check_gradients([](const Inputs& in) { return loom::logsumexp(in[0], 1); },
                  {input({2, 3, 4}, 42, 10.0)});
}

TEST_CASE("max and min of all entries") {
  check_gradients([](const Inputs& in) { return loom::max(in[0]); }, {input({3, 5}, 43)});
  check_gradients([](const Inputs& in) { return loom::min(in[0]); }, {input({2, 3, 2}, 44)});
  check_gradients([](const Inputs& in) { return loom::max(in[0]); }, {input({}, 45)});
}

TEST_CASE("layer_norm: one and two normalised axes, with and without weight and bias") {
  check_gradients([](const Inputs& in) { return loom::layer_norm(in[0], {5}, in[1], in[2]); },
                  {input({3, 5}, 46), input({5}, 47), input({5}, 48)});
  check_gradients([](const Inputs& in) { return loom::layer_norm(in[0], {3, 4}, in[1], in[2], 1e-3); },
                  {input({2, 3, 4}, 49), input({3, 4}, 50), input({3, 4}, 51)});
  check_gradients([](const Inputs& in) { return loom::layer_norm(in[0], {4}); }, {input({2, 3, 4}, 52)});
  // the weight alone and the bias alone: the fused kernel's other two forms
  check_gradients([](const Inputs& in) { return loom::layer_norm(in[0], {5}, in[1]); },
                  {input({3, 5}, 53), input({5}, 54)});
  check_gradients([](const Inputs& in) { return loom::layer_norm(in[0], {3, 4}, Tensor(), in[1]); },
                  {input({2, 3, 4}, 55), input({3, 4}, 56)});
}

TEST_CASE("activations") {
  const Tensor x = away_from_zero({3, 4}, 50);
  check_gradients([](const Inputs& in) { return loom::tanh(in[0]); }, {input({3, 4}, 51)});
  check_gradients([](const Inputs& in) { return loom::sigmoid(in[0]); }, {input({3, 4}, 52, 3.0)});
  check_gradients([](const Inputs& in) { return loom::relu(in[0]); }, {x});
  check_gradients([](const Inputs& in) { return loom::leaky_relu(in[0], 0.1); }, {x});
  check_gradients([](const Inputs& in) { return loom::gelu(in[0]); }, {input({3, 4}, 53, 2.0)});
  check_gradients([](const Inputs& in) { return loom::softplus(in[0]); }, {input({3, 4}, 54, 3.0)});
  check_gradients([](const Inputs& in) { return loom::softplus(in[0], 2.0, 5.0); }, {x * 4.0});
}

TEST_CASE("softmax and log_softmax over each axis") {
  for (std::int64_t axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    check_gradients([axis](const Inputs& in) { return loom::softmax(in[0], axis); },
                    {input({2, 3, 4}, 60)});
    check_gradients([axis](const Inputs& in) { return loom::log_softmax(in[0], axis); },
                    {input({2, 3, 4}, 61)});
  }
}

TEST_CASE("losses") {
  const Tensor targets = loom::from_vector(std::vector<std::int64_t>{2, 0, 4, 1}, {4});
  const Tensor with_ignored = loom::from_vector(std::vector<std::int64_t>{2, -100, 4, 1}, {4});
  for (auto reduction : {loom::Reduction::Mean, loom::Reduction::Sum, loom::Reduction::None}) {
    for (const Tensor& weight : {Tensor(), loom::from_vector(std::vector<double>{0.5, 2.0, 1.0, 0.0, 3.0})}) {
      for (double smoothing : {0.0, 0.1}) {
        auto options =
            loom::CrossEntropyOptions().set_reduction(reduction).set_label_smoothing(smoothing).set_weight(weight);
        check_gradients([&](const Inputs& in) { return loom::cross_entropy(in[0], targets, options); },
                        {input({4, 5}, 70)});
        check_gradients(
            [&](const Inputs& in) { return loom::cross_entropy(in[0], with_ignored, options); },
            {input({4, 5}, 71)});
      }
      auto nll_options = loom::CrossEntropyOptions().set_reduction(reduction).set_weight(weight);
      check_gradients(
          [&](const Inputs& in) { return loom::nll_loss(loom::log_softmax(in[0], 1), with_ignored, nll_options); },
          {input({4, 5}, 72)});
    }
    check_gradients([&](const Inputs& in) { return loom::mse_loss(in[0], in[1], reduction); },
                    {input({3, 2}, 73), input({3, 2}, 74)});
    check_gradients([&](const Inputs& in) { return loom::l1_loss(in[0], in[1], reduction); },
                    {input({3, 2}, 75), input({3, 2}, 76, 1.0, 3.0)});
    check_gradients(
        [&](const Inputs& in) { return loom::binary_cross_entropy_with_logits(in[0], in[1], reduction); },
        {input({3, 4}, 77, 3.0), input({3, 4}, 78, 0.3, 0.5)});
  }
}

TEST_CASE("dropout: identity in eval, masked and scaled in training") {
  check_gradients([](const Inputs& in) { return loom::dropout(in[0], 0.5, false); }, {input({3, 4}, 80)});
  // A fresh generator per call gives the same mask for every perturbed evaluation.
  check_gradients(
      [](const Inputs& in) {
        loom::Generator generator(99);
        return loom::dropout(in[0], 0.3, true, &generator);
      },
      {input({3, 4}, 81)});
}

TEST_CASE("indexing: embedding, index_select, gather, scatter_add") {
  const Tensor ids = loom::from_vector(std::vector<std::int64_t>{1, 3, 1, 0, 4, 3}, {2, 3});
  check_gradients([ids](const Inputs& in) { return loom::embedding(in[0], ids); }, {input({5, 3}, 90)});
  const Tensor picks = loom::from_vector(std::vector<std::int64_t>{2, 0, 2});
  for (std::int64_t axis : {0, 1, 2})
    check_gradients([&](const Inputs& in) { return loom::index_select(in[0], axis, picks); },
                    {input({3, 3, 4}, 91)});
  const Tensor index = loom::from_vector(std::vector<std::int64_t>{0, 2, 1, 1, 0, 0}, {2, 3});
  check_gradients([index](const Inputs& in) { return loom::gather(in[0], 1, index); },
                  {input({2, 4}, 92)});
  check_gradients([index](const Inputs& in) { return loom::gather(in[0], 0, index); },
                  {input({3, 3}, 93)});
  check_gradients([index](const Inputs& in) { return loom::scatter_add(in[0], 1, index, in[1]); },
                  {input({2, 4}, 94), input({2, 3}, 95)});
}

TEST_CASE("joining and shape ops") {
  check_gradients([](const Inputs& in) { return loom::concat({in[0], in[1], in[0]}, 1); },
                  {input({2, 3}, 100), input({2, 1}, 101)});
  check_gradients([](const Inputs& in) { return loom::stack({in[0], in[1]}, 1); },
                  {input({2, 3}, 102), input({2, 3}, 103)});
  check_gradients(
      [](const Inputs& in) {
        auto parts = loom::split(in[0], 2, 1);  // sizes 2, 2, 1
        return parts[0] * 2.0 + parts[1] * parts[1] + loom::sum(parts[2]);
      },
      {input({3, 5}, 104)});
  const Tensor x = input({2, 3, 4}, 105);
  check_gradients([](const Inputs& in) { return in[0].reshape({4, -1}) * 1.5; }, {x});
  check_gradients([](const Inputs& in) { return in[0].transpose(0, 2); }, {x});
  check_gradients([](const Inputs& in) { return in[0].permute({1, 2, 0}); }, {x});
  check_gradients([](const Inputs& in) { return in[0].narrow(2, 1, 2); }, {x});
  check_gradients([](const Inputs& in) { return in[0].slice(2, -1, 0 + 100, 1) + in[0].slice(1, 0, 3, 2).sum(); }, {x});
  check_gradients([](const Inputs& in) { return in[0].select(1, -1); }, {x});
  check_gradients([](const Inputs& in) { return in[0].unsqueeze(1).squeeze(1).flatten(1); }, {x});
  check_gradients([](const Inputs& in) { return in[0].expand({3, 2, 4}); }, {input({2, 1}, 106)});
  check_gradients([](const Inputs& in) { return in[0].clone() * in[0].to(loom::Dtype::Float64); }, {x});
}

TEST_CASE("index: slices, integers and Ellipsis") {
  using namespace loom::indexing;
  const Tensor x = input({4, 3, 5}, 95);
  check_gradients([](const Inputs& in) { return in[0].index({Slice(1, 3), 0}); }, {x});
  check_gradients([](const Inputs& in) { return in[0].index({Ellipsis, Slice(None, None, 2)}); }, {x});
  check_gradients([](const Inputs& in) { return in[0].index({-1, Ellipsis, Slice(-3, None)}); }, {x});
}

TEST_CASE("linear: with and without bias, 2-D and 3-D input") {
  check_gradients([](const Inputs& in) { return loom::linear(in[0], in[1], in[2]); },
                  {input({4, 3}, 110), input({5, 3}, 111), input({5}, 112)});
  check_gradients([](const Inputs& in) { return loom::linear(in[0], in[1]); },
                  {input({2, 4, 3}, 113), input({2, 3}, 114)});
  const Tensor x = input({3, 3}, 115);
  const Tensor w = input({2, 3}, 116);
  const Tensor b = input({2}, 117);
  CHECK(loom_test::values(loom::linear(x, w, b)) ==
        loom_test::values(loom::matmul(x, w.t()) + b));
}
