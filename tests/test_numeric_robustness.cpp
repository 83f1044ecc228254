// Extreme inputs: logits of ±1e4 through softmax, log_softmax, logsumexp, cross entropy, sigmoid
// and BCE-with-logits give finite values (the right ones) and finite gradients, in float32 and
// float64; LSTM and GRU layers fed ±1e3, fused and composed, give no NaN forward or backward.
#include <loom/layers/recurrent.h>

#include <cmath>
#include <vector>

#include "test_util.h"

using loom::Dtype;
using loom::Tensor;

namespace {

bool all_finite(const Tensor& t) {
  for (double v : t.to_vector<double>())
    if (!std::isfinite(v)) return false;
  return true;
}

// (3, 3) logits: one huge winner, all equal and hugely negative, two tied huge winners.
Tensor extreme_logits(Dtype dtype) {
  return loom::from_vector(std::vector<double>{1e4, -1e4, 0, -1e4, -1e4, -1e4, 1e4, 1e4, -1e4}, {3, 3})
      .to(dtype)
      .requires_grad_();
}

// Backpropagates a weighted sum of `out` (weights 1..n, so no gradient cancels by symmetry) and
// checks the output and the input's gradient are finite.
void check_finite_with_gradient(const Tensor& x, const Tensor& out) {
  CHECK(all_finite(out));
  const auto weights = loom::arange(1.0, static_cast<double>(out.numel()) + 1.0).to(out.dtype()).reshape(out.shape());
  loom::sum(out * weights).backward();
  REQUIRE(x.grad().defined());
  CHECK(all_finite(x.grad()));
}

}  // namespace

TEST_CASE("softmax, log_softmax and logsumexp of logits ±1e4: finite values and gradients") {
  for (const Dtype dtype : {Dtype::Float32, Dtype::Float64}) {
    CAPTURE(loom::dtype_name(dtype));
    auto x = extreme_logits(dtype);
    auto p = loom::softmax(x, 1);
    check_finite_with_gradient(x, p);
    const auto pv = p.to_vector<double>();
    CHECK(pv[0] == doctest::Approx(1.0));
    CHECK(pv[3] == doctest::Approx(1.0 / 3));
    CHECK(pv[6] == doctest::Approx(0.5));
    CHECK(pv[8] == 0.0);

    x = extreme_logits(dtype);
    auto log_p = loom::log_softmax(x, 1);
    check_finite_with_gradient(x, log_p);
    const auto lv = log_p.to_vector<double>();
    CHECK(lv[1] == doctest::Approx(-2e4));
    CHECK(lv[3] == doctest::Approx(-std::log(3.0)));
    CHECK(lv[8] == doctest::Approx(-2e4 - std::log(2.0)));

    x = extreme_logits(dtype);
    auto lse = loom::logsumexp(x, 1);
    check_finite_with_gradient(x, lse);
    const auto sv = lse.to_vector<double>();
    CHECK(sv[0] == doctest::Approx(1e4));
    CHECK(sv[1] == doctest::Approx(-1e4 + std::log(3.0)));
    CHECK(sv[2] == doctest::Approx(1e4 + std::log(2.0)));
  }
}

TEST_CASE("cross entropy of logits ±1e4: the exact finite loss and a finite gradient") {
  for (const Dtype dtype : {Dtype::Float32, Dtype::Float64}) {
    CAPTURE(loom::dtype_name(dtype));
    auto x = extreme_logits(dtype);
    const auto targets = loom::from_vector(std::vector<std::int64_t>{1, 0, 2});
    auto losses = loom::cross_entropy(x, targets, loom::CrossEntropyOptions().set_reduction(loom::Reduction::None));
    check_finite_with_gradient(x, losses);
    const auto v = losses.to_vector<double>();
    CHECK(v[0] == doctest::Approx(2e4));               // the target is 2e4 below the winner
    CHECK(v[1] == doctest::Approx(std::log(3.0)));
    CHECK(v[2] == doctest::Approx(2e4 + std::log(2.0)));
    x = extreme_logits(dtype);
    auto smoothed = loom::cross_entropy(x, targets, loom::CrossEntropyOptions().set_label_smoothing(0.1));
    check_finite_with_gradient(x, smoothed);
  }
}

TEST_CASE("sigmoid and BCE with logits of ±1e4: saturated, finite values and gradients") {
  for (const Dtype dtype : {Dtype::Float32, Dtype::Float64}) {
    CAPTURE(loom::dtype_name(dtype));
    const std::vector<double> logits = {1e4, -1e4, 1e4, -1e4};
    auto x = loom::from_vector(logits).to(dtype).requires_grad_();
    auto s = loom::sigmoid(x);
    check_finite_with_gradient(x, s);
    CHECK(s.to_vector<double>() == std::vector<double>{1, 0, 1, 0});

    x = loom::from_vector(logits).to(dtype).requires_grad_();
    const auto targets = loom::from_vector(std::vector<double>{1, 0, 0, 1}).to(dtype);
    auto bce = loom::binary_cross_entropy_with_logits(x, targets, loom::Reduction::None);
    check_finite_with_gradient(x, bce);
    const auto v = bce.to_vector<double>();
    CHECK(v[0] == 0.0);  // right and sure
    CHECK(v[1] == 0.0);
    CHECK(v[2] == doctest::Approx(1e4));  // wrong and sure: the loss is the logit
    CHECK(v[3] == doctest::Approx(1e4));
  }
}

TEST_CASE("LSTM and GRU fed ±1e3, fused and composed: no NaN in outputs, states or gradients") {
  for (const bool fused : {true, false})
    for (const bool lstm : {true, false}) {
      CAPTURE(fused);
      CAPTURE(lstm);
      loom::manual_seed(3);
      const auto options = loom::RecurrentOptions(4, 8).num_layers(2).bidirectional(true).fused(fused);
      std::shared_ptr<loom::Recurrent> layer = lstm ? std::shared_ptr<loom::Recurrent>(std::make_shared<loom::LSTM>(options))
                                                    : std::make_shared<loom::GRU>(options);
      loom::Generator generator(11);
      auto sign = loom::rand({3, 5, 4}, -1.0, 1.0, Dtype::Float32, &generator);
      auto x = (loom::where(loom::gt(sign, loom::zeros_like(sign)), loom::ones_like(sign), -loom::ones_like(sign)) * 1e3)
                   .detach()
                   .requires_grad_();  // (3, 5, 4): every input ±1e3
      const auto lengths = loom::from_vector(std::vector<std::int64_t>{5, 3, 1});
      auto out = layer->forward(x, lengths);
      CHECK(all_finite(out.output));
      CHECK(all_finite(out.h_n));
      if (lstm) CHECK(all_finite(out.c_n));
      check_finite_with_gradient(x, out.output);
      for (const auto& [name, parameter] : layer->named_parameters()) {
        CAPTURE(name);
        REQUIRE(parameter.grad().defined());
        CHECK(all_finite(parameter.grad()));
      }
    }
}
