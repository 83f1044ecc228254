// Forward values of the ops against hand-computed results.
#include <cmath>
#include <algorithm>
#include <limits>
#include <map>

#include "test_util.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::values;

namespace {
Tensor f64(std::vector<double> v, loom::Shape shape = {}) { return loom::from_vector(v, shape); }
void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
}
}  // namespace

TEST_CASE("broadcast arithmetic") {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(values(a + f64({10, 20, 30})) == std::vector<double>{11, 22, 33, 14, 25, 36});
  CHECK(values(a * f64({2, 3}, {2, 1})) == std::vector<double>{2, 4, 6, 12, 15, 18});
  CHECK(values(f64({1, 2}, {2, 1}) - f64({1, 2, 3}, {1, 3})) == std::vector<double>{0, -1, -2, 1, 0, -1});
  CHECK(values(a / 2.0) == std::vector<double>{0.5, 1, 1.5, 2, 2.5, 3});
  CHECK(values(loom::pow(f64({2, 3}), 2.0)) == std::vector<double>{4, 9});
  check_close(values(loom::pow(f64({2, 4}), 3.0)), {8, 64});
  CHECK(values(loom::clamp(f64({-2, 0.5, 2}), -1, 1)) == std::vector<double>{-1, 0.5, 1});
  CHECK(values(loom::maximum(f64({1, 5}), f64({3, 2}))) == std::vector<double>{3, 5});
  CHECK(values(loom::where(f64({1, 0}), f64({1, 2}), f64({7, 8}))) == std::vector<double>{1, 8});
  CHECK(values(loom::masked_fill(a, f64({0, 1, 0}), -1)) == std::vector<double>{1, -1, 3, 4, -1, 6});
}

TEST_CASE("reductions") {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(loom::sum(a).item() == 21);
  CHECK(values(loom::sum(a, {0})) == std::vector<double>{5, 7, 9});
  CHECK(values(loom::sum(a, {1}, true)) == std::vector<double>{6, 15});
  CHECK(loom::sum(a, {1}, true).shape() == loom::Shape{2, 1});
  CHECK(values(loom::mean(a, {-1})) == std::vector<double>{2, 5});
  CHECK(values(loom::max(a, 0)) == std::vector<double>{4, 5, 6});
  CHECK(values(loom::min(a, 1)) == std::vector<double>{1, 4});
  CHECK(values(loom::argmax(f64({1, 9, 3, 7, 2, 8}, {2, 3}), 1)) == std::vector<double>{1, 2});
  check_close(values(loom::logsumexp(f64({0, std::log(3.0)}), 0)), {std::log(4.0)});
  // Stable for large values, where exp overflows.
  check_close(values(loom::logsumexp(f64({1000, 1000}), 0)), {1000 + std::log(2.0)});
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(std::isinf(loom::logsumexp(f64({-inf, -inf}), 0).item()));
}

TEST_CASE("activations and softmax") {
  check_close(values(loom::sigmoid(f64({0, 2}))), {0.5, 1 / (1 + std::exp(-2.0))});
  check_close(values(loom::tanh(f64({0.5}))), {std::tanh(0.5)});
  CHECK(values(loom::relu(f64({-1, 2}))) == std::vector<double>{0, 2});
  check_close(values(loom::leaky_relu(f64({-1, 2}), 0.2)), {-0.2, 2});
  check_close(values(loom::gelu(f64({1.0}))), {0.5 * (1 + std::erf(1 / std::sqrt(2.0)))});
  check_close(values(loom::softplus(f64({0, 30}))), {std::log(2.0), 30});
  const auto p = values(loom::softmax(f64({1, 2, 3}), 0));
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  check_close(p, {std::exp(1.0) / z, std::exp(2.0) / z, std::exp(3.0) / z});
  check_close(values(loom::log_softmax(f64({1, 2, 3}), 0)), {1 - std::log(z), 2 - std::log(z), 3 - std::log(z)});
  // float32 softmax over (64, 5000) rows sums to one
  const Tensor rows = loom::softmax(loom::randn({64, 5000}) * 5.0, 1);
  for (double s : values(loom::sum(rows, {1}))) CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
  CHECK(values(loom::softmax(f64({1000, 0}), 0))[0] == doctest::Approx(1.0));
}

TEST_CASE("losses match hand-computed values") {
  const Tensor logits = f64({1, 2, 3, 1, 1, 1}, {2, 3});
  const Tensor targets = loom::from_vector(std::vector<std::int64_t>{2, 0});
  const double z = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
  const double l0 = std::log(z) - 3, l1 = std::log(3.0);
  check_close(values(loom::cross_entropy(logits, targets)), {(l0 + l1) / 2});
  check_close(values(loom::cross_entropy(logits, targets, loom::CrossEntropyOptions().set_reduction(loom::Reduction::None))), {l0, l1});
  // ignore_index: the mean is over the counted targets only
  const Tensor ignored = loom::from_vector(std::vector<std::int64_t>{2, -100});
  check_close(values(loom::cross_entropy(logits, ignored)), {l0});
  // label smoothing eps: (1 - eps) * nll + eps * mean over classes of -log p
  const double eps = 0.1;
  const double uniform0 = (3 * std::log(z) - 6) / 3;
  check_close(values(loom::cross_entropy(f64({1, 2, 3}, {1, 3}), loom::from_vector(std::vector<std::int64_t>{2}),
                                         loom::CrossEntropyOptions().set_label_smoothing(eps))),
              {(1 - eps) * l0 + eps * uniform0});
  check_close(values(loom::nll_loss(loom::log_softmax(logits, 1), targets)), {(l0 + l1) / 2});
  check_close(values(loom::mse_loss(f64({1, 2}), f64({3, 2}))), {2});
  check_close(values(loom::l1_loss(f64({1, 2}), f64({3, 5}), loom::Reduction::Sum)), {5});
  const double x = 0.3, y = 1.0;
  check_close(values(loom::binary_cross_entropy_with_logits(f64({x}), f64({y}))),
              {-std::log(1 / (1 + std::exp(-x)))});
  CHECK(std::isfinite(loom::binary_cross_entropy_with_logits(f64({-1000}), f64({1})).item()));
}

TEST_CASE("class-weighted cross entropy and nll match PyTorch") {
  const Tensor logits = f64({1, 2, 3, 1, 1, 1, 0.5, -1, 2}, {3, 3});
  const Tensor targets = loom::from_vector(std::vector<std::int64_t>{2, 0, 1});
  const Tensor weight = f64({0.5, 2.0, 1.5});
  auto options = [&](double smoothing, loom::Reduction reduction) {
    return loom::CrossEntropyOptions().set_weight(weight).set_label_smoothing(smoothing).set_reduction(reduction);
  };
  // torch.nn.functional.cross_entropy(logits, targets, weight=weight, label_smoothing=eps, reduction=r), torch 1.13
  check_close(values(loom::cross_entropy(logits, targets, options(0.0, loom::Reduction::Mean))), {1.910834421078735});
  check_close(values(loom::cross_entropy(logits, targets, options(0.0, loom::Reduction::Sum))), {7.64333768431494});
  check_close(values(loom::cross_entropy(logits, targets, options(0.1, loom::Reduction::Mean))), {1.859251963963183});
  check_close(values(loom::cross_entropy(logits, targets, options(0.1, loom::Reduction::Sum))), {7.437007855852732});
  check_close(values(loom::nll_loss(loom::log_softmax(logits, 1), targets, options(0.0, loom::Reduction::Mean))),
              {1.910834421078735});
  // by hand: the mean divides by the targets' weights, 1.5 + 0.5 + 2.0
  const Tensor per_sample = loom::cross_entropy(logits, targets, loom::CrossEntropyOptions().set_reduction(loom::Reduction::None));
  const auto l = values(per_sample);
  check_close(values(loom::cross_entropy(logits, targets, options(0.0, loom::Reduction::Mean))),
              {(1.5 * l[0] + 0.5 * l[1] + 2.0 * l[2]) / 4.0});
}

TEST_CASE("cross entropy, softmax, sums, transposes and batched products split between 2 threads equal 1 thread") {
  // 300 rows of 1000 classes: enough values per row block for both threads to take a share.
  loom::manual_seed(11);
  const Tensor logits = loom::randn({300, 1000}) * 4.0;
  std::vector<std::int64_t> target_values(300);
  for (std::size_t i = 0; i < target_values.size(); ++i) target_values[i] = i % 7 == 0 ? -100 : static_cast<std::int64_t>(i * 37 % 1000);
  const Tensor targets = loom::from_vector(target_values);
  const auto options = loom::CrossEntropyOptions().set_label_smoothing(0.1).set_weight(loom::rand({1000}) + 0.5);
  // 64 products of (20, 256) @ (256, 20), the attention scores' shape: whole products per thread
  const Tensor queries = loom::randn({64, 20, 256}), keys = loom::randn({64, 256, 20});
  const int threads_before = loom::get_num_threads();
  // threads -> loss, gradient, softmax, log_softmax, sums (over a middle axis too), transpose
  std::map<int, std::vector<std::vector<double>>> results;
  for (int threads : {1, 2}) {
    loom::set_num_threads(threads);
    const Tensor x = logits.detach().requires_grad_();
    const Tensor loss = loom::cross_entropy(x, targets, options);
    loss.backward();
    loom::NoGradGuard no_grad;
    results[threads] = {values(loss), values(x.grad()), values(loom::softmax(logits, 1)), values(loom::log_softmax(logits, 1)),
                        values(loom::sum(logits, {0})), values(loom::sum(logits.reshape({3, 100, 1000}), {1})),
                        values(loom::sum(logits, {1})), values(logits.t()),
                        values(loom::matmul(queries, keys))};
  }
  loom::set_num_threads(threads_before);
  for (std::size_t i = 0; i < results[1].size(); ++i) CHECK(results[1][i] == results[2][i]);
  const auto original = values(logits);
  const auto& transposed = results[2][results[2].size() - 2];
  CHECK(transposed[999 * 300 + 299] == original[299 * 1000 + 999]);
  CHECK(transposed[500 * 300 + 7] == original[7 * 1000 + 500]);
  const auto one_product = values(loom::matmul(queries.narrow(0, 63, 1), keys.narrow(0, 63, 1)));  // the last, alone
  CHECK(std::equal(one_product.begin(), one_product.end(), results[2].back().end() - 400));
  // the float32 kernels agree with the float64 ones (which the gradient checks cover)
  const Tensor x64 = logits.to(Dtype::Float64).detach().requires_grad_();
  auto options64 = options;
  options64.set_weight(options.weight.to(Dtype::Float64));
  const Tensor loss64 = loom::cross_entropy(x64, targets, options64);
  loss64.backward();
  CHECK(results[1][0][0] == doctest::Approx(loss64.item()).epsilon(1e-5));
  const auto grad64 = values(x64.grad());
  double largest_difference = 0, largest_gradient = 0;
  for (std::size_t i = 0; i < grad64.size(); ++i) {
    largest_difference = std::max(largest_difference, std::abs(results[1][1][i] - grad64[i]));
    largest_gradient = std::max(largest_gradient, std::abs(grad64[i]));
  }
  CHECK(largest_difference < 1e-5 * largest_gradient);
}

TEST_CASE("matmul values, float32 and float64, through BLAS") {
  const Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = f64({1, 0, 0, 1, 1, 1}, {3, 2});
  CHECK(values(loom::matmul(a, b)) == std::vector<double>{4, 5, 10, 11});
  CHECK(values(loom::matmul(a.to(Dtype::Float32), b.to(Dtype::Float32))) == std::vector<double>{4, 5, 10, 11});
  const Tensor batched = loom::matmul(loom::stack({a, a * 2.0}, 0), b);
  CHECK(values(batched) == std::vector<double>{4, 5, 10, 11, 8, 10, 20, 22});
  CHECK(loom::matmul(loom::zeros({2, 0}), loom::zeros({0, 3})).shape() == loom::Shape{2, 3});
  CHECK(values(loom::matmul(loom::ones({2, 0}), loom::ones({0, 3}))) == std::vector<double>(6, 0.0));
}

TEST_CASE("dropout keeps the expectation and is deterministic per generator") {
  loom::Generator g1(4), g2(4);
  const Tensor x = loom::ones({10000}, Dtype::Float64);
  const Tensor a = loom::dropout(x, 0.25, true, &g1);
  CHECK(values(a) == values(loom::dropout(x, 0.25, true, &g2)));
  for (double v : values(a)) CHECK((v == 0.0 || v == doctest::Approx(1 / 0.75)));
  CHECK(loom::mean(a).item() == doctest::Approx(1.0).epsilon(0.03));
  CHECK(values(loom::dropout(x, 0.25, false)) == values(x));
  CHECK(loom::sum(loom::dropout(x, 1.0, true)).item() == 0.0);
}

TEST_CASE("indexing values") {
  const Tensor w = f64({0, 1, 10, 11, 20, 21}, {3, 2});
  const Tensor ids = loom::from_vector(std::vector<std::int64_t>{2, 0, 2, 1}, {2, 2});
  const Tensor e = loom::embedding(w, ids);
  CHECK(e.shape() == loom::Shape{2, 2, 2});
  CHECK(values(e) == std::vector<double>{20, 21, 0, 1, 20, 21, 10, 11});
  const Tensor idx = loom::from_vector(std::vector<std::int64_t>{1, 0, 1}, {1, 3});
  CHECK(values(loom::gather(f64({1, 2, 3, 4, 5, 6}, {2, 3}), 0, idx)) == std::vector<double>{4, 2, 6});
  CHECK(values(loom::scatter_add(loom::zeros({2, 3}, Dtype::Float64), 0, idx, f64({1, 1, 1}, {1, 3}))) ==
        std::vector<double>{0, 1, 0, 1, 0, 1});
  CHECK(values(loom::index_select(w, 1, loom::from_vector(std::vector<std::int64_t>{1}))) == std::vector<double>{1, 11, 21});
}

TEST_CASE("embedding backward adds only into the rows used") {
  Tensor w = loom::ones({4, 2}, Dtype::Float64).requires_grad_();
  loom::embedding(w, loom::from_vector(std::vector<std::int64_t>{3, 3, 1})).sum().backward();
  CHECK(values(w.grad()) == std::vector<double>{0, 0, 1, 1, 0, 0, 2, 2});
}
