// Tensor creation, shapes, views, copies, printing and random determinism.
#include "test_util.h"

using loom::Dtype;
using loom::Shape;
using loom::Tensor;
using loom_test::values;

TEST_CASE("creation functions fill the right values") {
  CHECK(values(loom::zeros({2, 2})) == std::vector<double>(4, 0.0));
  CHECK(values(loom::ones({3}, Dtype::Float64)) == std::vector<double>(3, 1.0));
  CHECK(values(loom::full({2}, 2.5)) == std::vector<double>{2.5, 2.5});
  CHECK(values(loom::arange(0, 5)) == std::vector<double>{0, 1, 2, 3, 4});
  CHECK(values(loom::arange(1, 0, -0.25, Dtype::Float64)) == std::vector<double>{1, 0.75, 0.5, 0.25});
  CHECK(loom::arange(3, 3).numel() == 0);
  const Tensor s = loom::scalar_tensor(4.0);
  CHECK(s.dim() == 0);
  CHECK(s.numel() == 1);
  CHECK(s.item() == 4.0);
  const Tensor v = loom::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, {2, 3});
  CHECK(v.shape() == Shape{2, 3});
  CHECK(v.dtype() == Dtype::Float32);
  CHECK(v.size(-1) == 3);
  CHECK(loom::from_vector(std::vector<std::int64_t>{7, 8}).dtype() == Dtype::Int64);
  CHECK(loom::zeros_like(v).shape() == v.shape());
}

TEST_CASE("random tensors repeat bit for bit from one seed") {
  loom::manual_seed(7);
  const auto a = values(loom::randn({100}));
  const auto u = values(loom::rand({50}, -2.0, 3.0, Dtype::Float64));
  loom::manual_seed(7);
  CHECK(values(loom::randn({100})) == a);
  CHECK(values(loom::rand({50}, -2.0, 3.0, Dtype::Float64)) == u);
  for (double x : u) CHECK((x >= -2.0 && x < 3.0));
  // The moments of many normal samples are close to 0 and 1.
  loom::Generator generator(3);
  const Tensor big = loom::randn({200000}, Dtype::Float64, &generator);
  CHECK(loom::mean(big).item() == doctest::Approx(0.0).epsilon(0.01).scale(1.0));
  CHECK(loom::mean(big * big).item() == doctest::Approx(1.0).epsilon(0.01));
  // Generator state round-trips, so a resumed run continues the same stream.
  loom::Generator g1(11);
  g1.normal();  // leave a spare normal in the state
  loom::Generator g2(0);
  g2.set_state(g1.state());
  for (int i = 0; i < 5; ++i) CHECK(g1.normal() == g2.normal());
  const auto ints = loom::randint(2, 5, {1000}, &generator).to_vector<std::int64_t>();
  for (auto i : ints) CHECK((i >= 2 && i < 5));
}

TEST_CASE("reshape is a view; transpose and permute reorder") {
  Tensor x = loom::arange(0, 6).reshape({2, 3});
  Tensor flat = x.reshape({-1});
  flat.data<float>()[0] = 42;
  CHECK(x.data<float>()[0] == 42);  // shared storage
  CHECK(values(loom::arange(0, 6).reshape({2, 3}).t()) == std::vector<double>{0, 3, 1, 4, 2, 5});
  const Tensor y = loom::arange(0, 24).reshape({2, 3, 4});
  const Tensor p = y.permute({2, 0, 1});
  CHECK(p.shape() == Shape{4, 2, 3});
  // p[i][j][k] == y[j][k][i]
  CHECK(p.select(0, 3).select(0, 1).select(0, 2).item() == 1 * 12 + 2 * 4 + 3);
  CHECK(y.flatten(1).shape() == Shape{2, 12});
  CHECK(y.unsqueeze(0).shape() == Shape{1, 2, 3, 4});
  CHECK(y.unsqueeze(-1).shape() == Shape{2, 3, 4, 1});
  CHECK(y.unsqueeze(3).squeeze(3).shape() == y.shape());
}

TEST_CASE("slicing, narrow and select copy the right entries") {
  const Tensor x = loom::arange(0, 10);
  CHECK(values(x.slice(0, 2, 8, 3)) == std::vector<double>{2, 5});
  CHECK(values(x.slice(0, -3, 100)) == std::vector<double>{7, 8, 9});
  CHECK(values(x.narrow(0, 4, 2)) == std::vector<double>{4, 5});
  const Tensor m = loom::arange(0, 12).reshape({3, 4});
  CHECK(values(m.select(1, 2)) == std::vector<double>{2, 6, 10});
  CHECK(values(m.narrow(0, 1, 2).narrow(1, 1, 2)) == std::vector<double>{5, 6, 9, 10});
  CHECK(values(m.expand({2, 3, 4}).select(0, 1)) == values(m));
}

TEST_CASE("joining and splitting") {
  const Tensor a = loom::arange(0, 4).reshape({2, 2});
  const Tensor b = loom::arange(4, 6).reshape({2, 1});
  CHECK(values(loom::concat({a, b}, 1)) == std::vector<double>{0, 1, 4, 2, 3, 5});
  CHECK(values(loom::concat({a, a}, 0)) == std::vector<double>{0, 1, 2, 3, 0, 1, 2, 3});
  const Tensor s = loom::stack({a, a * 2.0}, 0);
  CHECK(s.shape() == Shape{2, 2, 2});
  CHECK(values(s.select(0, 1)) == std::vector<double>{0, 2, 4, 6});
  const auto parts = loom::split(loom::arange(0, 5), 2, 0);
  REQUIRE(parts.size() == 3);
  CHECK(values(parts[2]) == std::vector<double>{4});
  const auto uneven = loom::split(loom::arange(0, 5), std::vector<std::int64_t>{1, 4}, 0);
  CHECK(values(uneven[1]) == std::vector<double>{1, 2, 3, 4});
}

TEST_CASE("copies and conversions") {
  Tensor x = loom::arange(0, 3);
  Tensor c = x.clone();
  c.data<float>()[0] = 9;
  CHECK(x.data<float>()[0] == 0);  // clone does not share
  Tensor d = x.to(Dtype::Float64);
  CHECK(d.dtype() == Dtype::Float64);
  CHECK(values(d) == values(x));
  CHECK(values(loom::from_vector(std::vector<double>{1.7, -2.2}).to(Dtype::Int64)) ==
        std::vector<double>{1, -2});
  x.copy_(loom::full({3}, 5.0));
  CHECK(values(x) == std::vector<double>{5, 5, 5});
  x.fill_(1.0);
  CHECK(values(x) == std::vector<double>{1, 1, 1});
}

TEST_CASE("printing shows values, shape and dtype") {
  const Tensor x = loom::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
  CHECK(x.to_string() ==
        "tensor([[1.0000, 2.0000],\n"
        "        [3.0000, 4.0000]], shape=(2, 2), dtype=float32)");
  CHECK(loom::scalar_tensor(2.0, Dtype::Float64).to_string() == "tensor(2.0000, shape=(), dtype=float64)");
  const std::string big = loom::zeros({100, 100}).to_string();
  CHECK(big.find("...") != std::string::npos);
  CHECK(big.size() < 1000);  // large tensors are summarised
  CHECK(Tensor().to_string() == "tensor(undefined)");
}

TEST_CASE("threads can be set for BLAS") {
  const int before = loom::get_num_threads();
  loom::set_num_threads(1);
  CHECK(loom::get_num_threads() == 1);
  loom::set_num_threads(before);
  CHECK_THROWS_AS(loom::set_num_threads(0), loom::ValueError);
}

TEST_CASE("large freed blocks are reused without being mapped and zeroed again") {
  constexpr std::int64_t big = 12 << 20;  // 48 MiB of float32: above glibc's largest mmap threshold
  loom::release_cached_memory();          // blocks other tests left behind would compete for reuse
  const void* first = nullptr;
  {
    Tensor a = loom::full({big}, 3.0);
    first = a.data<float>();
  }
  {
    // The same block with its old contents: a fresh mapping would read as zeros.
    const Tensor reused = loom::empty({big});
    CHECK(static_cast<const void*>(reused.data<float>()) == first);
    CHECK(reused.data<float>()[big - 1] == 3.0f);
  }
  {
    const Tensor zeroed = loom::zeros({big});  // reused, yet zeros() still clears it
    CHECK(static_cast<const void*>(zeroed.data<float>()) == first);
    CHECK(zeroed.sum().item() == 0.0);
  }
  {
    const Tensor smaller = loom::empty({big - big / 16});  // within an eighth: reused too
    CHECK(static_cast<const void*>(smaller.data<float>()) == first);
  }
  {
    const Tensor half = loom::empty({big / 2});  // would waste half the block: not reused
    CHECK(static_cast<const void*>(half.data<float>()) != first);
  }
  loom::release_cached_memory();  // the block goes back to the system; a new one reads as zeros
  const Tensor fresh = loom::empty({big});
  CHECK(fresh.data<float>()[big - 1] == 0.0f);
}
