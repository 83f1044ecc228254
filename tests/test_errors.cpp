// Bad input gets a typed error whose message names the op, what it expected and what it got.
#include <string>

#include "test_util.h"

using loom_test::message_of;

using loom::Dtype;
using loom::Tensor;

namespace {
const Tensor ids = loom::from_vector(std::vector<std::int64_t>{0, 5});
}  // namespace

TEST_CASE("every error derives from loom::Error") {
  CHECK_THROWS_AS(loom::matmul(loom::zeros({2, 3}), loom::zeros({4, 5})), loom::Error);
  CHECK_THROWS_AS(loom::zeros({2}).select(0, 7), loom::Error);
}

TEST_CASE("shape errors name the op and both shapes") {
  CHECK(message_of<loom::ShapeError>([] { loom::matmul(loom::zeros({32, 64}), loom::zeros({128, 10})); }) ==
        "matmul: inner dimensions differ: (32, 64) @ (128, 10)");
  CHECK(message_of<loom::ShapeError>([] { loom::add(loom::zeros({2, 3}), loom::zeros({4})); }) ==
        "add: shapes (2, 3) and (4,) cannot be broadcast together");
  CHECK_THROWS_AS(loom::matmul(loom::zeros({2, 3, 4}), loom::zeros({3, 4, 5})), loom::ShapeError);
  CHECK_THROWS_AS(loom::matmul(loom::scalar_tensor(1), loom::zeros({2})), loom::ShapeError);
  CHECK(message_of<loom::ShapeError>([] { loom::zeros({2, 3}).reshape({4, 2}); }) ==
        "reshape: cannot reshape a tensor of shape (2, 3) (6 elements) into (4, 2)");
  CHECK_THROWS_AS(loom::zeros({2, 3}).reshape({-1, -1}), loom::ShapeError);
  CHECK_THROWS_AS(loom::zeros({2, 3}).squeeze(0), loom::ShapeError);
  CHECK_THROWS_AS(loom::zeros({2, 3}).permute({0}), loom::ShapeError);
  CHECK_THROWS_AS(loom::zeros({2, 3}).expand({4, 3}), loom::ShapeError);
  CHECK_THROWS_AS(loom::zeros({2, 3}).t().t().expand({3}), loom::ShapeError);
  CHECK_THROWS_AS(loom::concat({loom::zeros({2, 3}), loom::zeros({3, 3})}, 1), loom::ShapeError);
  CHECK_THROWS_AS(loom::stack({loom::zeros({2}), loom::zeros({3})}, 0), loom::ShapeError);
  CHECK_THROWS_AS(loom::split(loom::zeros({5}), std::vector<std::int64_t>{2, 2}, 0), loom::ShapeError);
  CHECK_THROWS_AS(loom::masked_fill(loom::zeros({3}), loom::ones({2, 3}), 0.0), loom::ShapeError);
  CHECK_THROWS_AS(loom::mse_loss(loom::zeros({3}), loom::zeros({3, 1})), loom::ShapeError);
  CHECK_THROWS_AS(loom::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), loom::ShapeError);
  CHECK_THROWS_AS(loom::embedding(loom::zeros({5}), ids), loom::ShapeError);
  CHECK_THROWS_AS(loom::gather(loom::zeros({2, 2}), 1, ids), loom::ShapeError);
  CHECK(message_of<loom::ShapeError>([] {
          loom::cross_entropy(loom::zeros({3, 4}), loom::from_vector(std::vector<std::int64_t>{0, 1}));
        }) == "cross_entropy: expected targets of shape (3,) for scores (3, 4), got (2,)");
  CHECK_THROWS_AS(loom::cross_entropy(loom::zeros({2, 3, 4}), ids), loom::ShapeError);
  CHECK_THROWS_AS(loom::index_select(loom::zeros({3}), 0, ids.reshape({2, 1})), loom::ShapeError);
  CHECK(loom_test::values(loom::index_select(ids, 0, loom::from_vector(std::vector<std::int64_t>{1}))) ==
        std::vector<double>{5});  // int64 data can be picked from too
}

TEST_CASE("index errors for out-of-range indices and axes") {
  CHECK(message_of<loom::IndexError>([] { loom::embedding(loom::zeros({5, 2}), ids); }) ==
        "embedding: index 5 is out of range for 5 rows");
  CHECK(message_of<loom::IndexError>([] { loom::sum(loom::zeros({2, 3}), {2}); }) ==
        "sum: axis 2 is out of range for a tensor of rank 2");
  CHECK(message_of<loom::IndexError>([] {
          loom::cross_entropy(loom::zeros({2, 4}), loom::from_vector(std::vector<std::int64_t>{1, 4}));
        }) == "cross_entropy: target 4 at position 1 is out of range for 4 classes");
  CHECK_THROWS_AS(loom::index_select(loom::zeros({3, 2}), 0, ids), loom::IndexError);
  CHECK_THROWS_AS(loom::gather(loom::zeros({2, 3}), 1, ids.reshape({1, 2})), loom::IndexError);
  CHECK_THROWS_AS(loom::zeros({4}).narrow(0, 3, 2), loom::IndexError);
  CHECK_THROWS_AS(loom::zeros({4}).select(0, -5), loom::IndexError);
  CHECK_THROWS_AS(loom::softmax(loom::zeros({4}), 1), loom::IndexError);
  CHECK_THROWS_AS(loom::zeros({2}).size(3), loom::IndexError);
}

TEST_CASE("dtype errors for integer operands, mixed floats and float indices") {
  CHECK(message_of<loom::DtypeError>([] { loom::add(loom::zeros({2}), loom::zeros({2}, Dtype::Float64)); }) ==
        "add: operands have different dtypes: float32 and float64");
  CHECK(message_of<loom::DtypeError>([] { loom::embedding(loom::zeros({5, 2}), loom::zeros({2})); }) ==
        "embedding: expected int64 indices, got float32");
  CHECK_THROWS_AS(loom::tanh(ids), loom::DtypeError);
  CHECK_THROWS_AS(loom::pow(ids, ids), loom::DtypeError);  // int64 + - * / promote (test_core_api.cpp)
  CHECK_THROWS_AS(loom::zeros({2}).data<double>(), loom::DtypeError);
  CHECK_THROWS_AS(loom::randn({2}, Dtype::Int64), loom::DtypeError);
  CHECK_THROWS_AS(loom::cross_entropy(loom::zeros({2, 3}), loom::zeros({2})), loom::DtypeError);
  CHECK_THROWS_AS(loom::gradcheck([](const std::vector<Tensor>& in) { return in[0]; },
                                  {loom::zeros({2}).requires_grad_()}),
                  loom::DtypeError);
}

TEST_CASE("value errors for bad arguments") {
  CHECK_THROWS_AS(loom::dropout(loom::zeros({2}), 1.5, true), loom::ValueError);
  CHECK_THROWS_AS(loom::clamp(loom::zeros({2}), 1.0, -1.0), loom::ValueError);
  CHECK_THROWS_AS(loom::arange(0, 1, 0), loom::ValueError);
  CHECK_THROWS_AS(loom::rand({2}, 1.0, 1.0), loom::ValueError);
  CHECK_THROWS_AS(loom::zeros({-1}), loom::ValueError);
  CHECK_THROWS_AS(loom::zeros({2}).item(), loom::ValueError);
  CHECK_THROWS_AS(loom::concat({}, 0), loom::ValueError);
  CHECK_THROWS_AS(loom::split(loom::zeros({4}), 0, 0), loom::ValueError);
  CHECK_THROWS_AS(loom::sum(loom::zeros({2, 2}), {0, 0}), loom::ValueError);
  CHECK_THROWS_AS(loom::max(loom::zeros({0, 2}), 0), loom::ValueError);
  CHECK_THROWS_AS(loom::softplus(loom::zeros({2}), 0.0), loom::ValueError);
  CHECK_THROWS_AS(loom::cross_entropy(loom::zeros({2, 6}), ids,
                                      loom::CrossEntropyOptions().set_label_smoothing(1.5)),
                  loom::ValueError);
  CHECK(message_of<loom::ShapeError>([&] {
          loom::cross_entropy(loom::zeros({2, 6}), ids, loom::CrossEntropyOptions().set_weight(loom::ones({5})));
        }) == "cross_entropy: expected class weights of shape (6,) for scores (2, 6), got (5,)");
  CHECK_THROWS_AS(loom::nll_loss(loom::zeros({2, 6}), ids,
                                 loom::CrossEntropyOptions().set_weight(loom::full({6}, -1.0))),
                  loom::ValueError);
  CHECK_THROWS_AS(loom::tanh(Tensor()), loom::ValueError);
  CHECK_THROWS_AS(Tensor().shape(), loom::ValueError);
}

TEST_CASE("misuse of copy_ and set_grad") {
  Tensor x = loom::zeros({2});
  CHECK_THROWS_AS(x.copy_(loom::zeros({3})), loom::ShapeError);
  CHECK_THROWS_AS(x.copy_(loom::zeros({2}, Dtype::Float64)), loom::DtypeError);
  CHECK_THROWS_AS(x.set_grad(loom::zeros({3})), loom::ShapeError);
}

TEST_CASE("linear names the expected and actual input size") {
  CHECK(message_of<loom::ShapeError>([] { loom::linear(loom::zeros({8, 32}), loom::zeros({10, 64})); }) ==
        "linear: input.size(-1) must be equal to in_features. Expected 64, got 32 (input (8, 32), "
        "weight (10, 64))");
  CHECK_THROWS_AS(loom::linear(loom::zeros({8, 64}), loom::zeros({10, 64}), loom::zeros({9})), loom::ShapeError);
}
