// Determinism: an op's result for an element depends on the element's value alone, not on its
// address or its place in the buffer. tests/tools/test_determinism.sh trains a model of each task
// family through `loom train` under other heap layouts, with output redirected, and killed and
// resumed, and compares the bits.
#include <string>

#include "test_util.h"

using loom::Dtype;
using loom::Shape;
using loom::Tensor;

namespace {

// Widening float32 to float64 is exact, so equal doubles are equal bits (no NaN here).
bool same_bits(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && a.to_vector<double>() == b.to_vector<double>();
}

// values (n) of float32 in [-4, 4), with a fixed seed
Tensor spread_values(std::int64_t n, std::uint64_t seed) {
  loom::Generator generator(seed);
  return loom::rand({n}, -4.0, 4.0, Dtype::Float32, &generator);
}

}  // namespace

TEST_CASE("elementwise ops give each element the same bits at every offset in the buffer") {
  // The same 203 values at offsets 0..16 of a larger tensor: with a scalar head or tail (as
  // xtensor's assignment had) some elements took another code path at some offsets.
  const Tensor x = spread_values(203, 1);
  const std::vector<std::pair<const char*, Tensor (*)(const Tensor&)>> ops = {
      {"exp", [](const Tensor& t) { return loom::exp(t); }},
      {"log", [](const Tensor& t) { return loom::log(loom::abs(t) + 0.5); }},
      {"tanh", [](const Tensor& t) { return loom::tanh(t); }},
      {"sigmoid", [](const Tensor& t) { return loom::sigmoid(t); }},
      {"gelu", [](const Tensor& t) { return loom::gelu(t); }},
      {"softplus", [](const Tensor& t) { return loom::softplus(t); }},
      {"sin", [](const Tensor& t) { return loom::sin(t); }},
      {"pow", [](const Tensor& t) { return loom::pow(loom::abs(t), 1.7); }}};
  for (const auto& [name, op] : ops) {
    const Tensor alone = op(x);
    for (std::int64_t offset = 1; offset <= 16; ++offset) {
      const Tensor shifted = op(loom::concat({spread_values(offset, 2), x}, 0)).narrow(0, offset, 203);
      INFO(std::string(name) << " at offset " << offset);
      CHECK(same_bits(alone, shifted));
    }
  }
}

TEST_CASE("binary ops give each element the same bits at every offset in the buffer") {
  // xtensor assigns the unaligned head and the tail of a run in scalar code, the rest in xsimd
  // lanes (detail/array_expr.h): the same bits only for ops that round once, so pow, whose xsimd
  // form differs from std::pow, must go element by element. Offsets 0..16 move both operands and
  // the result across every alignment.
  const Tensor x = spread_values(203, 1), y = spread_values(203, 5);
  const std::vector<std::pair<const char*, Tensor (*)(const Tensor&, const Tensor&)>> ops = {
      {"add", [](const Tensor& a, const Tensor& b) { return a + b; }},
      {"sub", [](const Tensor& a, const Tensor& b) { return a - b; }},
      {"mul", [](const Tensor& a, const Tensor& b) { return a * b; }},
      {"div", [](const Tensor& a, const Tensor& b) { return a / b; }},
      {"pow", [](const Tensor& a, const Tensor& b) { return loom::pow(loom::abs(a) + 0.5, b); }},
      {"minimum", [](const Tensor& a, const Tensor& b) { return loom::minimum(a, b); }},
      {"gt", [](const Tensor& a, const Tensor& b) { return loom::gt(a, b); }}};
  for (const auto& [name, op] : ops) {
    const Tensor alone = op(x, y);
    for (std::int64_t offset = 1; offset <= 16; ++offset) {
      const Tensor shifted = op(loom::concat({spread_values(offset, 2), x}, 0),
                                loom::concat({spread_values(offset, 3), y}, 0)).narrow(0, offset, 203);
      INFO(std::string(name) << " at offset " << offset);
      CHECK(same_bits(alone, shifted));
    }
  }
}

TEST_CASE("softmax, log-softmax and cross entropy give a row the same bits wherever it sits") {
  // 37 classes: each row of a (24, 37) batch starts at another alignment.
  loom::Generator generator(3);
  const Tensor logits = (loom::randn({24, 37}, Dtype::Float32, &generator) * 3.0).detach();
  const Tensor targets = loom::randint(0, 37, {24}, &generator);
  const Tensor softmax_all = loom::softmax(logits, 1), log_softmax_all = loom::log_softmax(logits, 1);
  Tensor batch_logits = logits.clone().requires_grad_();
  loom::cross_entropy(batch_logits, targets, loom::CrossEntropyOptions().set_reduction(loom::Reduction::Sum)).backward();
  for (std::int64_t i = 0; i < 24; ++i) {
    INFO("row " << i);
    const Tensor row = logits.narrow(0, i, 1);
    CHECK(same_bits(loom::softmax(row, 1), softmax_all.narrow(0, i, 1)));
    CHECK(same_bits(loom::log_softmax(row, 1), log_softmax_all.narrow(0, i, 1)));
    Tensor row_logits = row.clone().requires_grad_();
    loom::cross_entropy(row_logits, targets.narrow(0, i, 1), loom::CrossEntropyOptions().set_reduction(loom::Reduction::Sum))
        .backward();
    CHECK(same_bits(row_logits.grad(), batch_logits.grad().narrow(0, i, 1)));
  }
}
