// Strided views: which shape ops share storage, what their strides are, writes through a view,
// contiguous(), and the LayoutError of raw access to a view.
#include "test_util.h"

using loom::Dtype;
using loom::Shape;
using loom::Tensor;
using loom_test::message_of;
using loom_test::values;

namespace {
// 0, 1, 2, ... in float64, of `shape` (n values)
Tensor counting(const Shape& shape, std::int64_t n) {
  return loom::arange(0, static_cast<double>(n), 1, Dtype::Float64).reshape(shape);
}
using Strides = std::vector<std::int64_t>;
}  // namespace

TEST_CASE("shape ops are views: strides, offsets and shared storage") {
  Tensor x = counting({2, 3, 4}, 24);
  CHECK(x.strides() == Strides{12, 4, 1});
  CHECK(x.transpose(0, 2).strides() == Strides{1, 4, 12});
  CHECK(x.permute({1, 2, 0}).strides() == Strides{4, 1, 12});
  CHECK(x.slice(2, 1, 4, 2).strides() == Strides{12, 4, 2});
  CHECK(x.select(1, 2).strides() == Strides{12, 1});
  CHECK(x.select(0, 1).unsqueeze(1).shape() == Shape{3, 1, 4});
  CHECK(x.slice(0, 0, 1).expand({5, 3, 4}).strides() == Strides{0, 4, 1});
  CHECK(values(x.transpose(0, 2).select(0, 3).select(0, 1)) == std::vector<double>{7, 19});
  CHECK(values(x.slice(2, 1, 4, 2).select(0, 1).select(0, 2)) == std::vector<double>{21, 23});
  CHECK(values(x.slice(1, 2, 3).expand({2, 2, 4}).select(2, 0)) == std::vector<double>{8, 8, 20, 20});

  // a write through any of them shows in the base
  x.select(1, 2).select(1, 3).fill_(-1.0);          // x[:, 2, 3]
  x.transpose(0, 1).select(0, 0).select(0, 0).fill_(-2.0);  // x[0, 0, :]
  CHECK(values(x.transpose(0, 2).select(0, 3).select(0, 2)) == std::vector<double>{-1, -1});
  Tensor rows = loom::from_vector(std::vector<double>{100, 101, 102}, {3, 1});
  x.select(0, 1).narrow(1, 0, 1).copy_(rows);  // x[1, :, 0]
  CHECK(values(x.select(0, 1).select(1, 0)) == std::vector<double>{100, 101, 102});
  CHECK(x.select(0, 0).select(0, 0).select(0, 0).item() == -2.0);
}

TEST_CASE("contiguous() copies a view row-major and data<T>() refuses a view") {
  Tensor m = counting({2, 3}, 6);
  Tensor t = m.t();  // (3, 2)
  CHECK_FALSE(t.is_contiguous());
  CHECK(m.is_contiguous());
  CHECK(m.select(0, 1).is_contiguous());  // a whole row
  CHECK_FALSE(m.select(1, 1).is_contiguous());
  CHECK(m.slice(0, 1, 2).is_contiguous());  // (1, 3) with strides (3, 1): size-1 axes have any stride
  CHECK(m.select(0, 1).unsqueeze(1).is_contiguous());

  const std::string message = message_of<loom::LayoutError>([&] { t.data<double>(); });
  CHECK(message.find("data: expected a contiguous tensor, got a view of shape (3, 2) with strides (1, 3)") == 0);
  CHECK_THROWS_AS(t.view({6}), loom::LayoutError);
  CHECK(values(t.reshape({6})) == std::vector<double>{0, 3, 1, 4, 2, 5});  // reshape copies instead

  Tensor dense = t.contiguous();
  CHECK(dense.is_contiguous());
  CHECK(dense.strides() == Strides{2, 1});
  CHECK(values(dense) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(dense.data<double>()[1] == 3.0);
  dense.fill_(0.0);  // a copy: the base is untouched
  CHECK(values(m) == std::vector<double>{0, 1, 2, 3, 4, 5});
  CHECK(values(t.clone()) == std::vector<double>{0, 3, 1, 4, 2, 5});
  CHECK(m.contiguous().data<double>() == m.data<double>());  // no copy of a contiguous tensor
}

TEST_CASE("ops on views give the values of the same ops on copies") {
  loom::Generator generator(3);
  Tensor a = loom::randn({4, 3, 5}, Dtype::Float64, &generator);
  Tensor b = loom::randn({5, 3}, Dtype::Float64, &generator);
  // (a GEMM given a transposed operand may add in another order: not bit for bit)
  const auto same = [](const Tensor& view_result, const Tensor& copy_result) {
    REQUIRE(view_result.shape() == copy_result.shape());
    const auto got = values(view_result), expected = values(copy_result);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(expected[i]).epsilon(1e-13));
  };
  Tensor at = a.transpose(0, 2);  // (5, 3, 4)
  same(loom::exp(at) + b.unsqueeze(-1), loom::exp(at.contiguous()) + b.unsqueeze(-1).contiguous());
  same(loom::sum(at, {0}), loom::sum(at.contiguous(), {0}));
  same(loom::matmul(a.select(1, 0), b), loom::matmul(a.select(1, 0).contiguous(), b));
  same(loom::matmul(b.t(), a.select(0, 2).t()), loom::matmul(b.t().contiguous(), a.select(0, 2).t().contiguous()));
  same(loom::matmul(a, a.transpose(1, 2)), loom::matmul(a, a.transpose(1, 2).contiguous()));
  same(loom::concat({a.select(2, 1), a.select(0, 1).t()}, 0),
       loom::concat({a.select(2, 1).contiguous(), a.select(0, 1).t().contiguous()}, 0));
  same(loom::cross_entropy(a.select(1, 2), loom::from_vector(std::vector<std::int64_t>{0, 4, 2, 1})),
       loom::cross_entropy(a.select(1, 2).contiguous(), loom::from_vector(std::vector<std::int64_t>{0, 4, 2, 1})));
  same(a.slice(2, 0, 5, 2).to(Dtype::Float32), a.slice(2, 0, 5, 2).contiguous().to(Dtype::Float32));
}
