// The core's user-facing pieces: int64 arithmetic and comparisons with type promotion, where and
// masked_fill on any dtype, full max/min and argmax/argmin, functional layer_norm, printing, the
// indexing helper and loading a checkpoint of another float dtype; against PyTorch where it has
// the same op (tests/torch_ref/core_api.py).
#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "test_util.h"
#include "torch_reference.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::max_abs_diff;
using loom_test::message_of;
using loom_test::values;

namespace {
Tensor i64(std::vector<std::int64_t> v, loom::Shape shape = {}) { return loom::from_vector(v, shape); }

// Runs `function` on the reference inputs PREFIX.in0, ... (as float64 leaves) and checks the output
// and each input's gradient of (output * gout).sum() against PyTorch's.
void check_against_torch(const std::map<std::string, Tensor>& ref, const std::string& prefix,
                         const std::function<Tensor(const std::vector<Tensor>&)>& function) {
  CAPTURE(prefix);
  std::vector<Tensor> inputs;
  while (ref.count(prefix + ".in" + std::to_string(inputs.size())))
    inputs.push_back(ref.at(prefix + ".in" + std::to_string(inputs.size())).clone().requires_grad_());
  REQUIRE(!inputs.empty());
  Tensor out = function(inputs);
  CHECK(max_abs_diff(out, ref.at(prefix + ".output")) < 1e-12);
  (out * ref.at(prefix + ".gout")).sum().backward();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    CAPTURE(k);
    CHECK(max_abs_diff(inputs[k].grad(), ref.at(prefix + ".in" + std::to_string(k) + ".grad")) < 1e-12);
  }
}
}  // namespace

TEST_CASE("int64 arithmetic and comparisons promote as PyTorch") {
  const Tensor a = i64({7, -3, 4, 0, 5, -8}, {2, 3});
  const Tensor b = i64({2, 2, -3});
  CHECK((a + b).dtype() == Dtype::Int64);
  CHECK(values(a + b) == std::vector<double>{9, -1, 1, 2, 7, -11});
  CHECK(values(a * b) == std::vector<double>{14, -6, -12, 0, 10, 24});
  CHECK(loom::div(a, b).dtype() == Dtype::Float32);  // true division
  CHECK(values(loom::div(a, b))[0] == 3.5);
  CHECK((a - 1).dtype() == Dtype::Int64);  // an integer scalar keeps int64
  CHECK(values(a - 1) == std::vector<double>{6, -4, 3, -1, 4, -9});
  CHECK((a * 0.5).dtype() == Dtype::Float32);  // a double scalar makes it float
  CHECK(values(a * 0.5) == std::vector<double>{3.5, -1.5, 2, 0, 2.5, -4});
  CHECK(loom::lt(a, b).dtype() == Dtype::Int64);
  CHECK(values(loom::lt(a, b)) == std::vector<double>{0, 1, 0, 1, 0, 1});
  const Tensor x = loom::from_vector(std::vector<double>{0.5, 1.5, 2.5});
  CHECK((x * b).dtype() == Dtype::Float64);  // int64 with a float tensor: the float's dtype
  CHECK(values(x * b) == std::vector<double>{1, 3, -7.5});
  CHECK(values(loom::gt(x, b)) == std::vector<double>{0, 0, 1});
  CHECK((x * 2).dtype() == Dtype::Float64);
  CHECK(message_of<loom::DtypeError>([&] { loom::add(x, x.to(Dtype::Float32)); }) ==
        "add: operands have different dtypes: float64 and float32");
  CHECK_THROWS_AS(loom::pow(a, b), loom::DtypeError);
}

TEST_CASE("a length mask from int64 comparisons, used by where and masked_fill") {
  const Tensor lengths = i64({3, 1});
  const Tensor mask = loom::lt(loom::arange(0, 4, 1, Dtype::Int64), lengths.unsqueeze(1));  // (2, 4)
  CHECK(mask.dtype() == Dtype::Int64);
  CHECK(values(mask) == std::vector<double>{1, 1, 1, 0, 1, 0, 0, 0});
  const Tensor scores = loom::ones({2, 4}, Dtype::Float32);
  CHECK(values(loom::masked_fill(scores, loom::eq(mask, i64({0})), -1)) ==
        std::vector<double>{1, 1, 1, -1, 1, -1, -1, -1});
  const Tensor ids = i64({5, 6, 7, 8, 9, 10, 11, 12}, {2, 4});
  CHECK(loom::where(mask, ids, i64({0})).dtype() == Dtype::Int64);
  CHECK(values(loom::where(mask, ids, i64({0}))) == std::vector<double>{5, 6, 7, 0, 9, 0, 0, 0});
  CHECK(values(loom::masked_fill(ids, mask, 2.9)) == std::vector<double>{2, 2, 2, 8, 2, 10, 11, 12});
  const Tensor fractional = loom::from_vector(std::vector<float>{0.5f, 0, -0.25f, 0});  // nonzero is true
  CHECK(values(loom::where(fractional, ids.index({0}), i64({0}))) == std::vector<double>{5, 0, 7, 0});
}

TEST_CASE("full max, min, argmax and argmin") {
  const Tensor ties = loom::from_vector(std::vector<double>{1, 3, 3, -2, 3, -2}, {2, 3}).requires_grad_();
  Tensor top = loom::max(ties);
  CHECK(top.shape() == loom::Shape{});
  CHECK(top.item() == 3);
  top.backward();
  CHECK(values(ties.grad()) == std::vector<double>{0, 1.0 / 3, 1.0 / 3, 0, 1.0 / 3, 0});  // shared
  CHECK(loom::min(ties).item() == -2);
  CHECK(loom::argmax(ties).item() == 1);  // the first of the ties, flattened
  CHECK(loom::argmin(ties).item() == 3);
  CHECK(loom::argmax(ties).dtype() == Dtype::Int64);
  CHECK(values(loom::argmin(ties, 0)) == std::vector<double>{1, 0, 1});
  CHECK(loom::argmin(ties, 1, true).shape() == loom::Shape{2, 1});
  const Tensor with_nan = loom::from_vector(std::vector<double>{1, std::nan(""), 3}).requires_grad_();
  Tensor nan_max = loom::max(with_nan);
  CHECK(std::isnan(nan_max.item()));
  nan_max.backward();
  CHECK(values(with_nan.grad()) == std::vector<double>{0, 1, 0});
  CHECK(loom::argmax(with_nan).item() == 1);
  CHECK(message_of<loom::ValueError>([] { loom::max(loom::zeros({2, 0})); }) ==
        "max: cannot reduce an empty tensor of shape (2, 0)");
  CHECK_THROWS_AS(loom::argmin(loom::zeros({0})), loom::ValueError);
}

TEST_CASE("layer_norm: the functional the LayerNorm layer calls") {
  const Tensor x = loom::randn({2, 3, 4}, Dtype::Float64);
  loom::LayerNorm norm(loom::LayerNormOptions({3, 4}).eps(1e-3));
  norm.to(Dtype::Float64);
  loom::init::normal_(norm.weight);
  loom::init::normal_(norm.bias);
  CHECK(max_abs_diff(norm(x), loom::layer_norm(x, {3, 4}, norm.weight, norm.bias, 1e-3)) == 0);
  const Tensor plain = loom::layer_norm(x, {4});
  CHECK(std::abs(loom::mean(plain, {-1}).to_vector<double>()[0]) < 1e-12);
  CHECK(message_of<loom::ShapeError>([&] { loom::layer_norm(x, {3}); }) ==
        "layer_norm: expected input of shape (*, 3), got (2, 3, 4)");
  CHECK(message_of<loom::ShapeError>([&] { loom::layer_norm(x, {4}, loom::ones({3}, Dtype::Float64)); }) ==
        "layer_norm: weight must have the normalized shape (4,), got (3,)");
  CHECK(message_of<loom::ValueError>([&] { loom::layer_norm(x, {4}, Tensor(), Tensor(), 0.0); }) ==
        "layer_norm: eps must be positive, got 0");
  CHECK(message_of<loom::ValueError>([&] { loom::layer_norm(x, {}); }) ==
        "layer_norm: normalized_shape must have at least one axis, got ()");
}

TEST_CASE("layer_norm: float32 rows equal a float64 reference and keep their bits wherever they lie") {
  // 37 values a row: 4 or 2 whole xsimd batches and a partial one; the rows of a batch start at
  // every alignment, the row alone at another address
  const Tensor x = loom::randn({5, 37}) * 3.0 + 1.0;  // (5, 37) float32
  const Tensor y = loom::layer_norm(x, {37});
  const Tensor reference = loom::layer_norm(x.to(Dtype::Float64), {37}).to(Dtype::Float32);
  CHECK(max_abs_diff(y, reference) < 1e-5);
  for (std::int64_t row = 0; row < 5; ++row) {
    const Tensor alone = loom::layer_norm(x.select(0, row).contiguous(), {37});
    CHECK(max_abs_diff(alone, y.select(0, row)) == 0);
  }
  const Tensor many = loom::randn({256, 300});  // enough rows to split between threads
  const int threads_before = loom::get_num_threads();
  loom::set_num_threads(1);
  const Tensor one = loom::layer_norm(many, {300});
  loom::set_num_threads(2);
  const Tensor two = loom::layer_norm(many, {300});
  loom::set_num_threads(threads_before);
  CHECK(max_abs_diff(one, two) == 0);
}

TEST_CASE("layer_norm: the weight's and bias's gradients have the same bits at 1 and 2 threads") {
  // 600 rows of 300: the column sums of the weight's and bias's gradients split their columns
  // between two threads; each column still adds its rows in order.
  const Tensor x = loom::randn({600, 300}), g = loom::randn({600, 300});
  const int threads_before = loom::get_num_threads();
  std::vector<std::vector<Tensor>> grads;  // per thread count: input, weight, bias
  for (int threads : {1, 2}) {
    loom::set_num_threads(threads);
    loom::manual_seed(3);  // the same weight both times
    Tensor input = x.detach().requires_grad_();
    Tensor weight = (loom::rand({300}) + 0.5).detach().requires_grad_(), bias = loom::zeros({300}).requires_grad_();
    (loom::layer_norm(input, {300}, weight, bias) * g).sum().backward();
    grads.push_back({input.grad(), weight.grad(), bias.grad()});
  }
  loom::set_num_threads(threads_before);
  for (std::size_t k = 0; k < 3; ++k) CHECK(max_abs_diff(grads[0][k], grads[1][k]) == 0);
  CHECK(max_abs_diff(grads[0][2], loom::sum(g, {0})) < 1e-3);  // the bias's gradient: g's column sums
  CHECK(message_of<loom::DtypeError>([&] { loom::layer_norm(x, {300}, loom::ones({300}, Dtype::Float64)); }) ==
        "layer_norm: operands have different dtypes: float32 and float64");
}

TEST_CASE("operator<< prints to_string") {
  const Tensor x = loom::from_vector(std::vector<float>{1.5f, -2.0f});
  std::ostringstream out;
  out << x;
  CHECK(out.str() == x.to_string());
  CHECK(out.str().find("1.5000") != std::string::npos);
  std::ostringstream undefined;
  undefined << Tensor();
  CHECK(undefined.str() == "tensor(undefined)");
}

TEST_CASE("index: Python-style indexing from slice and select") {
  using namespace loom::indexing;
  const Tensor x = loom::arange(0, 24).reshape({2, 3, 4});
  CHECK(x.index({1}).shape() == loom::Shape{3, 4});
  CHECK(values(x.index({1, Slice(1, 3), 0})) == std::vector<double>{16, 20});
  CHECK(values(x.index({Ellipsis, -1})) == std::vector<double>{3, 7, 11, 15, 19, 23});
  CHECK(values(x.index({0, 0, Slice(None, None, 2)})) == std::vector<double>{0, 2});
  CHECK(values(x.index({0, Ellipsis, Slice(-2, None)})) == std::vector<double>{2, 3, 6, 7, 10, 11});
  CHECK(x.index({Slice(5, 9)}).shape() == loom::Shape{0, 3, 4});  // clipped, as Python
  CHECK(x.index({Ellipsis, 1, 2, 3}).item() == 23);
  CHECK(message_of<loom::IndexError>([&] { x.index({0, 3}); }) ==
        "index: index 3 is out of range for an axis of size 3 (shape (2, 3, 4))");
  CHECK(message_of<loom::IndexError>([&] { x.index({0, 0, 0, 0}); }) ==
        "index: 4 indices for a tensor of 3 axes (2, 3, 4)");
  CHECK(message_of<loom::IndexError>([&] { x.index({Ellipsis, 0, Ellipsis}); }) ==
        "index: at most one Ellipsis, got 2");
  CHECK(message_of<loom::ValueError>([&] { x.index({Slice(0, 2, 0)}); }) ==
        "index: a Slice step must be positive, got 0");
}

TEST_CASE("load converts a float64 checkpoint into a float32 model when asked") {
  loom_test::TempDir dir;
  const std::string path = dir.path + "/f64.safetensors";
  loom::Linear wide(3, 2);
  wide.to(Dtype::Float64);
  loom::save(wide, path);
  loom::Linear narrow(3, 2);
  CHECK(message_of<loom::DtypeError>([&] { loom::load(narrow, path); }) ==
        "load: '" + path + "' holds bias as float64, the module's is float32; "
        "LoadOptions().convert_dtype(true) converts it");
  loom::load(narrow, path, loom::LoadOptions().convert_dtype(true));
  CHECK(narrow.weight.dtype() == Dtype::Float32);
  CHECK(max_abs_diff(narrow.weight, wide.weight) < 1e-7);
  CHECK(max_abs_diff(narrow.bias, wide.bias) < 1e-7);
  loom::save(narrow, path);  // and back: float32 into float64
  loom::load(wide, path, loom::LoadOptions().convert_dtype(true));
  CHECK(wide.weight.dtype() == Dtype::Float64);
  CHECK(max_abs_diff(narrow.weight, wide.weight) == 0);
}

TEST_CASE("core_api: agrees with PyTorch") {
  static const auto ref = loom_test::torch_reference("core_api.py");
  if (ref.empty()) return;
  const Tensor a = i64({7, -3, 4, 0, 5, -8}, {2, 3});
  const Tensor b = i64({2, 2, -3});
  const std::map<std::string, Tensor> int_results = {
      {"add", a + b}, {"sub", a - b}, {"mul", a * b}, {"div", loom::div(a, b)}, {"lt", loom::lt(a, b)},
      {"gt", loom::gt(a, b)}, {"eq", loom::eq(a, b)}, {"minus_one", a - 1}, {"half", a * 0.5},
      {"masked_fill", loom::masked_fill(a, loom::gt(a, i64({0})), 9)},
      {"where", loom::where(loom::gt(a, b), a, b)}};
  for (const auto& [name, result] : int_results) {
    CAPTURE(name);
    CHECK(max_abs_diff(result, ref.at("int." + name)) < 1e-6);  // div is float32
  }
  const Tensor scale = i64({1, -2, 3});
  check_against_torch(ref, "mixed", [&](const auto& in) { return in[0] * scale + scale - in[0] / scale; });
  check_against_torch(ref, "where", [&](const auto& in) {
    return loom::where(loom::gt(scale, i64({0})), in[0], in[1]);
  });
  check_against_torch(ref, "masked_fill", [&](const auto& in) {
    return loom::masked_fill(in[0], loom::lt(scale, i64({0})), -7.0);
  });
  check_against_torch(ref, "max_all", [](const auto& in) { return loom::max(in[0]); });
  check_against_torch(ref, "min_all", [](const auto& in) { return loom::min(in[0]); });
  const Tensor ties = ref.at("max_all.in0");
  CHECK(loom::argmax(ties).item() == ref.at("argmax_all").item());
  CHECK(loom::argmin(ties).item() == ref.at("argmin_all").item());
  CHECK(max_abs_diff(loom::argmax(ties, 1), ref.at("argmax_axis1")) == 0);
  CHECK(max_abs_diff(loom::argmin(ties, 0), ref.at("argmin_axis0")) == 0);
  check_against_torch(ref, "layer_norm", [](const auto& in) {
    return loom::layer_norm(in[0], {3, 4}, in[1], in[2], 1e-5);
  });
  check_against_torch(ref, "layer_norm_plain", [](const auto& in) { return loom::layer_norm(in[0], {4}); });
  using namespace loom::indexing;
  check_against_torch(ref, "index1", [](const auto& in) { return in[0].index({Slice(1, 3), 0}); });
  check_against_torch(ref, "index2", [](const auto& in) { return in[0].index({Ellipsis, Slice(None, None, 2)}); });
  check_against_torch(ref, "index3", [](const auto& in) { return in[0].index({-1, Ellipsis, Slice(-3, None)}); });
}
