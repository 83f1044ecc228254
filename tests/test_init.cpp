// Initialisers: fans and gains as PyTorch computes them, statistics on large tensors,
// orthogonality, reproducibility, applying by name rule, typed errors.
#include <loom/layers.h>

#include <cmath>
#include <string>

#include "test_util.h"

using loom_test::message_of;

using loom::Dtype;
using loom::Tensor;
namespace init = loom::init;

namespace {

struct Stats {
  double mean, std, min, max;
};
Stats stats_of(const Tensor& t) {
  const auto v = t.to_vector<double>();
  double sum = 0, sq = 0, lo = INFINITY, hi = -INFINITY;
  for (double x : v) sum += x, sq += x * x, lo = std::min(lo, x), hi = std::max(hi, x);
  const double mean = sum / v.size();
  return {mean, std::sqrt(sq / v.size() - mean * mean), lo, hi};
}

// Largest |(A A^T)_ij - scale * I_ij| for A (rows, cols), the Gram matrix of its rows.
double gram_error(const Tensor& a, double scale) {
  const Tensor gram = loom::matmul(a, a.t()).to(Dtype::Float64);
  const std::int64_t n = gram.size(0);
  double worst = 0;
  const auto g = gram.to_vector<double>();
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < n; ++j)
      worst = std::max(worst, std::abs(g[i * n + j] - (i == j ? scale : 0.0)));
  return worst;
}


// A small recurrent-looking module tree: rnn.{weight_ih, weight_hh, bias}, head.{weight, bias}.
struct Cell : loom::Module {
  Tensor weight_ih, weight_hh, bias;
  Cell() {
    weight_ih = register_parameter("weight_ih", loom::ones({12, 3}));
    weight_hh = register_parameter("weight_hh", loom::ones({12, 4}));
    bias = register_parameter("bias", loom::ones({12}));
  }
};
struct Model : loom::Module {
  std::shared_ptr<Cell> rnn;
  std::shared_ptr<loom::Linear> head;
  Model() {
    rnn = register_module("rnn", std::make_shared<Cell>());
    head = register_module("head", std::make_shared<loom::Linear>(4, 2));
  }
};

}  // namespace

TEST_CASE("init: gains and fans as torch.nn.init computes them") {
  CHECK(init::calculate_gain(init::Nonlinearity::Linear) == 1.0);
  CHECK(init::calculate_gain(init::Nonlinearity::Conv) == 1.0);
  CHECK(init::calculate_gain(init::Nonlinearity::Sigmoid) == 1.0);
  CHECK(init::calculate_gain(init::Nonlinearity::Tanh) == doctest::Approx(5.0 / 3.0));
  CHECK(init::calculate_gain(init::Nonlinearity::ReLU) == doctest::Approx(std::sqrt(2.0)));
  CHECK(init::calculate_gain(init::Nonlinearity::LeakyReLU) ==
        doctest::Approx(std::sqrt(2.0 / (1.0 + 0.01 * 0.01))));
  CHECK(init::calculate_gain(init::Nonlinearity::LeakyReLU, std::sqrt(5.0)) ==
        doctest::Approx(std::sqrt(1.0 / 3.0)));
  CHECK(init::calculate_gain(init::Nonlinearity::SELU) == 0.75);

  using Fans = std::pair<std::int64_t, std::int64_t>;
  CHECK(init::calculate_fan_in_and_fan_out(loom::zeros({3, 4})) == Fans{4, 3});
  CHECK(init::calculate_fan_in_and_fan_out(loom::zeros({8, 3, 5, 5})) == Fans{75, 200});
  CHECK(message_of<loom::ValueError>([] { init::calculate_fan_in_and_fan_out(loom::zeros({5})); }) ==
        "calculate_fan_in_and_fan_out: fan in and fan out can not be computed for a tensor with "
        "fewer than 2 dimensions, got (5,)");
}

TEST_CASE("init: distributions have the right range, mean and standard deviation") {
  const loom::Shape big{400, 500};  // 200k samples: the standard error of the mean is ~0.002 std
  for (Dtype dtype : {Dtype::Float32, Dtype::Float64}) {
    Tensor t = loom::empty(big, dtype);
    Stats s = stats_of(init::uniform_(t, -2.0, 3.0));
    CHECK(s.min >= -2.0);
    CHECK(s.max < 3.0);
    CHECK(s.mean == doctest::Approx(0.5).epsilon(0.02));
    CHECK(s.std == doctest::Approx(5.0 / std::sqrt(12.0)).epsilon(0.01));

    s = stats_of(init::normal_(t, 1.5, 0.5));
    CHECK(s.mean == doctest::Approx(1.5).epsilon(0.01));
    CHECK(s.std == doctest::Approx(0.5).epsilon(0.01));

    CHECK(stats_of(init::constant_(t, 0.25)).min == 0.25);
    CHECK(stats_of(t).max == 0.25);
    CHECK(stats_of(init::zeros_(t)).max == 0.0);
    CHECK(stats_of(init::ones_(t)).min == 1.0);
  }
  Tensor w = loom::empty({300, 200}, Dtype::Float64);  // fan_in 200, fan_out 300
  Stats s = stats_of(init::xavier_uniform_(w, 2.0));
  const double xavier_bound = 2.0 * std::sqrt(6.0 / 500.0);
  CHECK(s.max <= xavier_bound);
  CHECK(s.min >= -xavier_bound);
  CHECK(s.std == doctest::Approx(xavier_bound / std::sqrt(3.0)).epsilon(0.01));
  CHECK(stats_of(init::xavier_normal_(w)).std == doctest::Approx(std::sqrt(2.0 / 500.0)).epsilon(0.01));

  s = stats_of(init::kaiming_uniform_(w, std::sqrt(5.0)));  // Linear's: bound 1 / sqrt(fan_in)
  CHECK(s.max <= 1.0 / std::sqrt(200.0));
  CHECK(s.max > 0.99 / std::sqrt(200.0));
  CHECK(s.std == doctest::Approx(1.0 / std::sqrt(600.0)).epsilon(0.01));
  s = stats_of(init::kaiming_normal_(w, 0.0, init::FanMode::FanOut, init::Nonlinearity::ReLU));
  CHECK(s.mean == doctest::Approx(0.0).epsilon(0.01));
  CHECK(s.std == doctest::Approx(std::sqrt(2.0 / 300.0)).epsilon(0.01));
  s = stats_of(init::kaiming_uniform_(w, 0.0, init::FanMode::FanIn, init::Nonlinearity::Tanh));
  CHECK(s.std == doctest::Approx(5.0 / 3.0 / std::sqrt(200.0)).epsilon(0.01));
}

TEST_CASE("init: orthogonal_ gives orthonormal rows or columns, either way round, with gain") {
  for (const loom::Shape& shape : {loom::Shape{6, 6}, loom::Shape{4, 9}, loom::Shape{9, 4},
                                   loom::Shape{6, 2, 3, 3}}) {
    Tensor q = loom::empty(shape, Dtype::Float64);
    init::orthogonal_(q, 2.0);
    const Tensor matrix = q.reshape({shape[0], -1});  // (rows, cols)
    INFO(loom::shape_str(shape));
    if (matrix.size(0) <= matrix.size(1))
      CHECK(gram_error(matrix, 4.0) < 1e-12);  // Q Q^T = gain^2 I
    else
      CHECK(gram_error(matrix.t(), 4.0) < 1e-12);  // Q^T Q = gain^2 I
  }
  Tensor single = loom::empty({64, 64});  // float32
  init::orthogonal_(single);
  CHECK(gram_error(single, 1.0) < 1e-5);
}

TEST_CASE("init: a generator makes initialisation repeatable") {
  loom::Generator a(7), b(7);
  Tensor x = loom::empty({5, 6}), y = loom::empty({5, 6});
  init::orthogonal_(x, 1.0, &a);
  init::orthogonal_(y, 1.0, &b);
  CHECK(x.to_vector<float>() == y.to_vector<float>());
  init::xavier_normal_(x, 1.0, &a);
  CHECK(x.to_vector<float>() != y.to_vector<float>());
  init::xavier_normal_(y, 1.0, &b);
  CHECK(x.to_vector<float>() == y.to_vector<float>());
}

TEST_CASE("init: rules match dotted names by glob or by dotted suffix") {
  CHECK(init::matches("*weight_hh*", "encoder.lstm.weight_hh_l0"));
  CHECK(init::matches("*.bias", "fc.bias"));
  CHECK_FALSE(init::matches("*.bias", "bias"));
  CHECK(init::matches("bias", "bias"));
  CHECK(init::matches("bias", "encoder.fc.bias"));
  CHECK_FALSE(init::matches("bias", "fc.in_bias"));
  CHECK(init::matches("fc.bias", "head.fc.bias"));
  CHECK(init::matches("encoder.*.weight", "encoder.0.weight"));
  CHECK_FALSE(init::matches("encoder.*.weight", "decoder.0.weight"));
  CHECK(init::matches("layer?.w", "layer1.w"));
  CHECK_FALSE(init::matches("layer?.w", "layer12.w"));
  CHECK(init::matches("*", "anything.at.all"));
}

TEST_CASE("init: apply initialises parameters by the first matching rule") {
  Model model;
  const Tensor head_weight = model.head->weight.clone();
  const auto names = init::apply(model, {{"*weight_hh*", init::orthogonal()},
                                         {"*bias*", init::zeros()},
                                         {"rnn.*", init::constant(0.5)}});
  CHECK(names == std::vector<std::string>{"rnn.weight_ih", "rnn.weight_hh", "rnn.bias", "head.bias"});
  CHECK(gram_error(model.rnn->weight_hh.t(), 1.0) < 1e-5);  // (12, 4): orthonormal columns
  CHECK(stats_of(model.rnn->bias).max == 0.0);
  CHECK(stats_of(model.head->bias).max == 0.0);
  CHECK(stats_of(model.rnn->weight_ih).min == 0.5);  // the third rule
  CHECK(stats_of(model.rnn->weight_ih).max == 0.5);
  CHECK(model.head->weight.to_vector<double>() == head_weight.to_vector<double>());  // no rule

  loom::Generator a(3), b(3);  // generators bound into rules
  Model other;
  init::apply(model, {{"weight_ih", init::xavier_uniform(1.0, &a)}});
  init::apply(other, {{"weight_ih", init::xavier_uniform(1.0, &b)}});
  CHECK(model.rnn->weight_ih.to_vector<double>() == other.rnn->weight_ih.to_vector<double>());
}

TEST_CASE("init: typed errors") {
  Model model;
  const auto before = model.rnn->bias.to_vector<double>();
  CHECK(message_of<loom::ValueError>([&] {
          init::apply(model, {{"*bias*", init::zeros()}, {"*weight_xx*", init::zeros()}});
        }) == "init::apply: rule '*weight_xx*' applies to no parameter of the module (none "
              "matches, or earlier rules took them all)");
  CHECK(model.rnn->bias.to_vector<double>() == before);  // nothing changed
  CHECK_THROWS_AS(init::apply(model, {{"*", init::Initializer()}}), loom::ValueError);
  CHECK_THROWS_AS(init::apply(model, {{"*", init::zeros()}, {"bias", init::ones()}}),
                  loom::ValueError);  // shadowed by the first rule

  CHECK(message_of<loom::ValueError>([] { init::uniform_(loom::zeros({2}), 1.0, 0.0); }) ==
        "uniform_: expected a <= b, got a = 1 and b = 0");
  CHECK(message_of<loom::ValueError>([] { init::normal_(loom::zeros({2}), 0.0, -1.0); }) ==
        "normal_: expected std >= 0, got -1");
  CHECK(message_of<loom::ValueError>([] { init::orthogonal_(loom::zeros({4})); }) ==
        "orthogonal_: only tensors with 2 or more dimensions are supported, got (4,)");
  CHECK_THROWS_AS(init::xavier_uniform_(loom::zeros({4})), loom::ValueError);
  CHECK_THROWS_AS(init::kaiming_normal_(loom::zeros({4})), loom::ValueError);
  CHECK(message_of<loom::DtypeError>([] {
          init::normal_(loom::from_vector(std::vector<std::int64_t>{1, 2}));
        }) == "normal_: expected a float32 or float64 tensor, got int64");
  CHECK_THROWS_AS(init::zeros_(Tensor()), loom::Error);
}
