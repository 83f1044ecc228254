// Strided views: which shape ops share storage, what their strides are, writes through a view,
// contiguous(), the LayoutError of raw access to a view, and split/chunk/unbind against PyTorch
// (tests/torch_ref/cutting.py).
#include <array>
#include <functional>

#include "test_util.h"
#include "torch_reference.h"

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

TEST_CASE("a transposed copy, done in tiles, puts every value in its place") {
  // 70 x 45 planes: whole tiles of 32 and partial ones, on every pair of axes, both directions
  const Shape shape{3, 70, 45};
  const Tensor x = counting(shape, 3 * 70 * 45);
  const std::vector<std::vector<std::int64_t>> orders = {{0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
  for (const auto& order : orders) {
    const Tensor dense = x.permute(order).contiguous();
    const Shape& out_shape = dense.shape();
    std::vector<double> expected;
    for (std::int64_t i = 0; i < out_shape[0]; ++i)
      for (std::int64_t j = 0; j < out_shape[1]; ++j)
        for (std::int64_t k = 0; k < out_shape[2]; ++k) {
          std::array<std::int64_t, 3> at{};  // the index into x
          at[order[0]] = i, at[order[1]] = j, at[order[2]] = k;
          expected.push_back(static_cast<double>((at[0] * shape[1] + at[1]) * shape[2] + at[2]));
        }
    CHECK(values(dense) == expected);
  }
  // the target a transposed view: copy_ writes through it
  Tensor base = loom::zeros({45, 70}, Dtype::Float64);
  base.t().copy_(counting({70, 45}, 70 * 45));
  CHECK(values(base) == values(counting({70, 45}, 70 * 45).t().contiguous()));
  CHECK(base.select(0, 44).select(0, 69).item() == 69 * 45 + 44);
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

TEST_CASE("split, chunk and unbind cut views as PyTorch's do, with PyTorch's gradients") {
  static const auto ref = loom_test::torch_reference("cutting.py");
  if (ref.empty()) return;
  using Cut = std::function<std::vector<Tensor>(const Tensor&)>;
  const std::vector<std::pair<std::string, Cut>> cases = {
      {"split_size", [](const Tensor& x) { return loom::split(x, 2, 1); }},
      {"split_sizes", [](const Tensor& x) { return loom::split(x, std::vector<std::int64_t>{1, 0, 3}, -1); }},
      {"chunk_uneven", [](const Tensor& x) { return loom::chunk(x, 3, 0); }},
      {"chunk_fewer", [](const Tensor& x) { return loom::chunk(x, 4, 1); }},
      {"unbind", [](const Tensor& x) { return loom::unbind(x, 1); }},
      {"unbind_some", [](const Tensor& x) { return loom::unbind(x, 0); }},
      {"split_some", [](const Tensor& x) { return loom::split(x.t(), std::vector<std::int64_t>{2, 1, 2}, 0); }},
  };
  for (const auto& [prefix, cut] : cases) {
    CAPTURE(prefix);
    Tensor x = ref.at(prefix + ".in0").clone().requires_grad_();
    const std::vector<Tensor> pieces = cut(x);
    std::size_t expected_pieces = 0;
    while (ref.count(prefix + ".out" + std::to_string(expected_pieces))) ++expected_pieces;
    REQUIRE(pieces.size() == expected_pieces);
    Tensor loss = loom::zeros({}, Dtype::Float64);
    for (std::size_t k = 0; k < pieces.size(); ++k) {
      const std::string name = prefix + ".out" + std::to_string(k);
      CHECK(loom_test::max_abs_diff(pieces[k], ref.at(name)) == 0);
      const std::string gout = prefix + ".gout" + std::to_string(k);
      if (ref.count(gout)) loss = loss + (pieces[k] * ref.at(gout)).sum();
    }
    loss.backward();
    CHECK(loom_test::max_abs_diff(x.grad(), ref.at(prefix + ".in0.grad")) == 0);
  }
}

TEST_CASE("split, chunk and unbind: edge cases and errors naming the op") {
  Tensor x = counting({2, 6}, 12);
  const auto shapes = [](const std::vector<Tensor>& pieces) {
    std::vector<Shape> out;
    for (const auto& p : pieces) out.push_back(p.shape());
    return out;
  };
  CHECK(shapes(loom::chunk(x, 5, 1)) == std::vector<Shape>{{2, 2}, {2, 2}, {2, 2}});  // fewer than asked
  CHECK(shapes(loom::chunk(x, 12, 1)) == std::vector<Shape>(6, Shape{2, 1}));
  CHECK(shapes(loom::split(x, 4, -1)) == std::vector<Shape>{{2, 4}, {2, 2}});
  CHECK(shapes(loom::unbind(x, -1)) == std::vector<Shape>(6, Shape{2}));
  // an empty axis: one empty piece from split, `chunks` from chunk, none from unbind (as PyTorch)
  Tensor empty_axis = loom::zeros({2, 0});
  CHECK(shapes(loom::split(empty_axis, 3, 1)) == std::vector<Shape>{{2, 0}});
  CHECK(shapes(loom::split(empty_axis, 0, 1)) == std::vector<Shape>{{2, 0}});
  CHECK(shapes(loom::chunk(empty_axis, 3, 1)) == std::vector<Shape>(3, Shape{2, 0}));
  CHECK(loom::unbind(empty_axis, 1).empty());
  // the pieces are views: writes through them show in the base
  loom::unbind(x, 0)[1].narrow(0, 2, 1).fill_(-1.0);
  loom::split(x, std::vector<std::int64_t>{1, 5}, 1)[1].select(0, 0).select(0, 0).fill_(-2.0);
  loom::chunk(x.t(), 2, 0)[1].select(0, 0).fill_(-3.0);
  CHECK(values(x) == std::vector<double>{0, -2, 2, -3, 4, 5, 6, 7, -1, -3, 10, 11});

  CHECK(message_of<loom::IndexError>([&] { loom::split(x, 2, 2); }).find("split: axis 2") == 0);
  CHECK(message_of<loom::IndexError>([&] { loom::chunk(x, 2, -3); }).find("chunk: axis -3") == 0);
  CHECK(message_of<loom::IndexError>([&] { loom::unbind(x, 5); }).find("unbind: axis 5") == 0);
  CHECK(message_of<loom::ShapeError>([&] { loom::split(x, std::vector<std::int64_t>{2, 3}, 1); }) ==
        "split: sizes add up to 5 but axis 1 of (2, 6) has 6");
  CHECK(message_of<loom::ValueError>([&] { loom::split(x, std::vector<std::int64_t>{7, -1}, 1); }) ==
        "split: negative size -1");
  CHECK(message_of<loom::ValueError>([&] { loom::split(x, 0, 1); }) ==
        "split: size must be positive, got 0 for axis 1 of (2, 6)");
  CHECK(message_of<loom::ValueError>([&] { loom::chunk(x, 0, 1); }) ==
        "chunk: expected a positive number of chunks, got 0");
  CHECK(message_of<loom::ValueError>([&] { loom::chunk(x, -2, 1); }) ==
        "chunk: expected a positive number of chunks, got -2");
  CHECK(message_of<loom::ShapeError>([&] { loom::unbind(loom::scalar_tensor(1.0), 0); }) ==
        "unbind: cannot cut a 0-dimensional tensor");
  CHECK_THROWS_AS(loom::chunk(Tensor(), 2, 0), loom::ValueError);
}
