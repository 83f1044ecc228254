// CNN ops and layers: conv2d and the pooling ops against central differences; Conv2d, the
// pooling layers, BatchNorm1d/2d and CNNEncoder against PyTorch (tests/torch_ref/cnn.py) for
// outputs, every gradient and the running statistics; typed errors for bad shapes and values.
#include <loom/conv_ops.h>
#include <loom/layers/adaptive_avg_pool2d.h>
#include <loom/layers/avg_pool2d.h>
#include <loom/layers/batch_norm.h>
#include <loom/layers/cnn_encoder.h>
#include <loom/layers/conv2d.h>
#include <loom/layers/flatten.h>
#include <loom/layers/max_pool2d.h>

#include <cmath>
#include <limits>
#include <string>

#include "test_util.h"

using loom_test::message_of;
#include "torch_reference.h"

using loom::Dtype;
using loom::Shape;
using loom::Tensor;
using loom_test::check_gradients;
using loom_test::input;
using loom_test::max_abs_diff;
using Inputs = std::vector<Tensor>;
using References = std::map<std::string, Tensor>;

namespace {

// Distinct values at least 0.05 apart in a scrambled order: no max-pool window holds a near tie
// that a finite-difference step could flip.
Tensor without_ties(const Shape& shape) {
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> values(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) values[i] = double((i * 7919) % n) * 0.05 - 0.025 * n;
  return loom::from_vector(values, shape).requires_grad_();
}

// The reference script runs once (about a second) and every test case reads its own tensors.
const References& reference() {
  static const References tensors = loom_test::torch_reference("cnn.py");
  return tensors;
}

// Loads the PyTorch state `tag.state.*` into `module`, runs one forward and backward with the
// reference input and output gradient, and compares the output, the input gradient, every
// parameter gradient and every buffer afterwards at 1e-8.
void check_against_torch(loom::UnaryModule& module, const std::string& tag, bool training) {
  const References& ref = reference();
  if (ref.empty()) return;
  CAPTURE(tag);
  module.to(Dtype::Float64);
  module.train(training);
  std::map<std::string, Tensor> state;
  for (const auto& [name, tensor] : module.state_dict())
    state[name] = ref.at(tag + ".state." + name).to(tensor.dtype());
  module.load_state_dict(state);
  module.zero_grad();

  Tensor x = ref.at(tag + ".input").detach().requires_grad_();
  Tensor y = module.forward(x);
  CHECK(max_abs_diff(y, ref.at(tag + ".output")) < 1e-8);
  y.backward(ref.at(tag + ".grad_output"));
  CHECK(max_abs_diff(x.grad(), ref.at(tag + ".input.grad")) < 1e-8);
  for (const auto& [name, parameter] : module.named_parameters()) {
    CAPTURE(name);
    REQUIRE(parameter.grad().defined());
    CHECK(max_abs_diff(parameter.grad(), ref.at(tag + ".grad." + name)) < 1e-8);
  }
  for (const auto& [name, buffer] : module.named_buffers()) {
    CAPTURE(name);
    CHECK(max_abs_diff(buffer.to(Dtype::Float64), ref.at(tag + ".after." + name)) < 1e-8);
  }
}


}  // namespace

// ---- gradients against central differences ------------------------------------------------

TEST_CASE("conv2d gradients: bias, stride, padding, dilation, groups, non-square kernels") {
  struct Config {
    Shape x, w;
    loom::Conv2dArgs args;
    bool bias;
  };
  const std::vector<Config> configs = {
      {{2, 3, 5, 4}, {4, 3, 3, 3}, {}, true},
      {{2, 3, 5, 4}, {4, 3, 3, 3}, {}, false},
      {{1, 2, 7, 6}, {3, 2, 3, 2}, {2, 1}, true},               // stride 2, padding 1
      {{1, 2, 7, 7}, {2, 2, 3, 3}, {1, {2, 1}, 2}, true},       // dilation 2
      {{2, 4, 5, 6}, {6, 2, 2, 3}, {{2, 1}, 1, 1, 2}, true},   // groups 2
      {{1, 4, 4, 4}, {4, 1, 3, 1}, {1, {1, 0}, 1, 4}, false},  // depthwise, (3, 1) kernel
  };
  std::uint64_t seed = 100;
  for (const auto& c : configs) {
    CAPTURE(loom::shape_str(c.x));
    CAPTURE(loom::shape_str(c.w));
    const auto args = c.args;
    if (c.bias)
      check_gradients([args](const Inputs& in) { return loom::conv2d(in[0], in[1], in[2], args); },
                      {input(c.x, seed++), input(c.w, seed++), input({c.w[0]}, seed++)});
    else
      check_gradients([args](const Inputs& in) { return loom::conv2d(in[0], in[1], Tensor(), args); },
                      {input(c.x, seed++), input(c.w, seed++)});
  }
}

TEST_CASE("pooling gradients") {
  const Tensor x = without_ties({2, 2, 7, 6});
  check_gradients([](const Inputs& in) { return loom::max_pool2d(in[0], 2); }, {x});
  check_gradients([](const Inputs& in) { return loom::max_pool2d(in[0], 3, 2, 1); }, {x});
  check_gradients([](const Inputs& in) { return loom::max_pool2d(in[0], {3, 2}, {1, 2}, {1, 0}); },
                  {x});
  const Tensor y = input({2, 2, 7, 6}, 200);
  check_gradients([](const Inputs& in) { return loom::avg_pool2d(in[0], 2); }, {y});
  check_gradients([](const Inputs& in) { return loom::avg_pool2d(in[0], 3, 2, 1); }, {y});
  check_gradients([](const Inputs& in) { return loom::avg_pool2d(in[0], 3, 2, 1, false); }, {y});
  check_gradients([](const Inputs& in) { return loom::adaptive_avg_pool2d(in[0], {3, 4}); }, {y});
  check_gradients([](const Inputs& in) { return loom::adaptive_avg_pool2d(in[0], 1); }, {y});
}

TEST_CASE("conv2d and max_pool2d split between 2 threads equal 1 thread") {
  // Batch 16 of 20x20 maps, 16 filters: enough work per image, filter and plane for two threads.
  // Float64, compared to 1e-12: OpenBLAS's own split of the GEMM between threads may change the
  // last bits, but a lost or doubled share of Loom's loops changes far more.
  const Tensor x = input({16, 3, 20, 20}, 31), weight = input({16, 3, 3, 3}, 32), bias = input({16}, 33);
  const int threads_before = loom::get_num_threads();
  std::map<int, std::vector<Tensor>> results;  // threads -> outputs, then gradients
  for (int threads : {1, 2}) {
    loom::set_num_threads(threads);
    const Tensor xi = x.detach().requires_grad_(), wi = weight.detach().requires_grad_(), bi = bias.detach().requires_grad_();
    const Tensor features = loom::relu(loom::conv2d(xi, wi, bi, loom::Conv2dArgs{1, 1}));
    const Tensor pooled = loom::max_pool2d(features, 2), overlapping = loom::max_pool2d(features, 3, 2, 1);
    (loom::sum(pooled * pooled) + loom::sum(overlapping)).backward();
    results[threads] = {pooled, overlapping, xi.grad(), wi.grad(), bi.grad()};
  }
  loom::set_num_threads(threads_before);
  for (std::size_t i = 0; i < results[1].size(); ++i) {
    CAPTURE(i);
    CHECK(max_abs_diff(results[1][i], results[2][i]) < 1e-12 * (1 + loom::max(loom::abs(results[1][i].flatten()), 0).item()));
  }
}

TEST_CASE("max_pool2d sends the gradient to the first maximum of each window") {
  // One window over [[1, 3], [3, 2]]: the tie goes to the first 3 in row-major order.
  const Tensor x = loom::from_vector(std::vector<double>{1, 3, 3, 2}, {1, 1, 2, 2}).requires_grad_();
  loom::max_pool2d(x, 2).sum().backward();
  CHECK(loom_test::values(x.grad()) == std::vector<double>{0, 1, 0, 0});
}

TEST_CASE("max_pool2d propagates NaN through the 2x2 fast path and the general windows alike") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  // (1, 1, 2, 4): the left window holds a NaN, the right one does not.
  const Tensor x = loom::from_vector(std::vector<double>{1, nan, 5, 6, 3, 2, 8, 7}, {1, 1, 2, 4});
  const auto fast = loom_test::values(loom::max_pool2d(x, 2));                   // 2x2, stride 2
  const auto general = loom_test::values(loom::max_pool2d(x, {2, 2}, {2, 2}, {0, 1}));  // padded
  CHECK(std::isnan(fast[0]));
  CHECK(fast[1] == 8);
  REQUIRE(general.size() == 3);  // windows over columns {0}, {1, 2}, {3}
  CHECK(general[0] == 3);
  CHECK(std::isnan(general[1]));
  CHECK(general[2] == 7);
}

TEST_CASE("BatchNorm1d and BatchNorm2d gradients in training mode") {
  loom::BatchNorm2d norm2d(loom::BatchNormOptions(3));
  norm2d.to(Dtype::Float64);
  check_gradients([&](const Inputs& in) { return norm2d(in[0]); },
                  {input({3, 3, 4, 2}, 300, 2.0, 1.0), norm2d.weight, norm2d.bias});
  loom::BatchNorm1d norm1d(loom::BatchNormOptions(4));
  norm1d.to(Dtype::Float64);
  check_gradients([&](const Inputs& in) { return norm1d(in[0]); },
                  {input({5, 4}, 301), norm1d.weight, norm1d.bias});
  check_gradients([&](const Inputs& in) { return norm1d(in[0]); },
                  {input({3, 4, 3}, 302), norm1d.weight, norm1d.bias});
}

TEST_CASE("CNNEncoder gradients for every parameter") {
  loom::manual_seed(7);
  loom::CNNEncoder encoder(loom::CNNEncoderOptions(2, {3, 4}));
  encoder.to(Dtype::Float64);
  Inputs inputs{input({2, 2, 6, 6}, 400)};
  for (const auto& p : encoder.parameters()) inputs.push_back(p);
  check_gradients([&](const Inputs& in) { return encoder(in[0]); }, inputs);
}

// ---- agreement with PyTorch -----------------------------------------------------------------

TEST_CASE("Conv2d agrees with torch.nn.Conv2d") {
  loom::Conv2d conv0(loom::Conv2dOptions(3, 4, 3));
  check_against_torch(conv0, "conv0", true);
  loom::Conv2d conv1(loom::Conv2dOptions(3, 5, {3, 2}).stride(2).padding(1).bias(false));
  check_against_torch(conv1, "conv1", true);
  loom::Conv2d conv2(loom::Conv2dOptions(2, 3, 3).dilation(2).padding({2, 1}));
  check_against_torch(conv2, "conv2", true);
  loom::Conv2d conv3(loom::Conv2dOptions(4, 6, {2, 3}).stride({2, 1}).padding(1).groups(2));
  check_against_torch(conv3, "conv3", true);
}

TEST_CASE("pooling layers agree with PyTorch") {
  loom::MaxPool2d max0(loom::MaxPool2dOptions(2));
  check_against_torch(max0, "maxpool0", true);
  loom::MaxPool2d max1(loom::MaxPool2dOptions(3).stride(2).padding(1));
  check_against_torch(max1, "maxpool1", true);
  loom::AvgPool2d avg0(loom::AvgPool2dOptions(3).stride(2).padding(1));
  check_against_torch(avg0, "avgpool0", true);
  loom::AvgPool2d avg1(loom::AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false));
  check_against_torch(avg1, "avgpool1", true);
  loom::AvgPool2d avg2(loom::AvgPool2dOptions({2, 3}).stride({1, 2}));
  check_against_torch(avg2, "avgpool2", true);
  loom::AdaptiveAvgPool2d adaptive0(loom::AdaptiveAvgPool2dOptions({3, 4}));
  check_against_torch(adaptive0, "adaptive0", true);
  loom::AdaptiveAvgPool2d adaptive1(loom::AdaptiveAvgPool2dOptions(1));
  check_against_torch(adaptive1, "adaptive1", true);
}

TEST_CASE("BatchNorm agrees with PyTorch in train and eval, running statistics included") {
  loom::BatchNorm2d norm2d(loom::BatchNormOptions(3));
  check_against_torch(norm2d, "bn2d_train", true);
  check_against_torch(norm2d, "bn2d_eval", false);
  loom::BatchNorm1d norm1d(loom::BatchNormOptions(4));
  check_against_torch(norm1d, "bn1d_train", true);
  check_against_torch(norm1d, "bn1d_eval", false);
  check_against_torch(norm1d, "bn1d_seq_train", true);
  check_against_torch(norm1d, "bn1d_seq_eval", false);
}

TEST_CASE("CNNEncoder agrees with the same stack in PyTorch") {
  loom::CNNEncoder encoder(loom::CNNEncoderOptions(2, {4, 6}));
  check_against_torch(encoder, "encoder_train", true);
  check_against_torch(encoder, "encoder_eval", false);
  loom::CNNEncoder map(loom::CNNEncoderOptions(2, {3, 5})
                           .batch_norm(false)
                           .output(loom::CNNEncoderOutput::FeatureMap));
  check_against_torch(map, "encoder_map", true);
}

// ---- layers: names, shapes, initialisation ---------------------------------------------------

TEST_CASE("Conv2d initialisation and names follow PyTorch") {
  loom::Conv2d conv(loom::Conv2dOptions(4, 8, {3, 2}).groups(2));
  CHECK(conv.weight.shape() == Shape{8, 2, 3, 2});
  CHECK(conv.bias.shape() == Shape{8});
  const double bound = 1.0 / std::sqrt(2.0 * 3 * 2);
  for (const auto& [name, p] : conv.named_parameters()) {
    CAPTURE(name);
    for (double v : loom_test::values(p)) CHECK(std::abs(v) <= bound);
  }
  CHECK(conv.named_parameters()[0].first == "weight");
  CHECK(conv.named_parameters()[1].first == "bias");
  CHECK(conv(loom::randn({2, 4, 9, 9})).shape() == Shape{2, 8, 7, 8});
  CHECK(loom::Conv2d(loom::Conv2dOptions(4, 8, 3).bias(false)).named_parameters().size() == 1);
}

TEST_CASE("Flatten and CNNEncoder shapes and parameter names") {
  CHECK(loom::Flatten()(loom::zeros({2, 3, 4, 5})).shape() == Shape{2, 60});
  CHECK(loom::Flatten(loom::FlattenOptions().start_dim(0).end_dim(1))(loom::zeros({2, 3, 4})).shape() ==
        Shape{6, 4});

  loom::CNNEncoder features(loom::CNNEncoderOptions(1, {4, 8}));
  CHECK(features(loom::randn({3, 1, 12, 10})).shape() == Shape{3, 8});
  std::vector<std::string> names;
  for (const auto& entry : features.state_dict()) names.push_back(entry.first);
  CHECK(names == std::vector<std::string>{
                     "conv0.weight", "conv1.weight", "norm0.bias", "norm0.num_batches_tracked",
                     "norm0.running_mean", "norm0.running_var", "norm0.weight", "norm1.bias",
                     "norm1.num_batches_tracked", "norm1.running_mean", "norm1.running_var",
                     "norm1.weight"});
  loom::CNNEncoder map(loom::CNNEncoderOptions(3, {4}).kernel_size(5).batch_norm(false).output(
      loom::CNNEncoderOutput::FeatureMap));
  CHECK(map(loom::randn({2, 3, 12, 10})).shape() == Shape{2, 4, 6, 5});
  CHECK(map.named_parameters().size() == 2);  // conv0.weight, conv0.bias
  CHECK(map.out_channels() == 4);
}

TEST_CASE("BatchNorm counts batches and keeps its statistics in eval") {
  loom::BatchNorm2d norm(loom::BatchNormOptions(2));
  const Tensor x = loom::randn({4, 2, 3, 3});
  norm(x);
  norm(x);
  CHECK(norm.num_batches_tracked.item() == 2);
  norm.eval();
  const auto mean_before = loom_test::values(norm.running_mean);
  norm(x);
  CHECK(loom_test::values(norm.running_mean) == mean_before);
  CHECK(norm.num_batches_tracked.item() == 2);
}

TEST_CASE("BatchNorm without affine parameters or running statistics") {
  loom::BatchNorm1d plain(loom::BatchNormOptions(3).affine(false).track_running_stats(false));
  CHECK(plain.named_parameters().empty());
  CHECK(plain.named_buffers().empty());
  const Tensor x = loom::randn({5, 3}, Dtype::Float64) * 3.0 + 2.0;
  const Tensor y = plain(x);
  // Normalised per channel: mean 0 and biased variance 1 (up to eps).
  CHECK(max_abs_diff(loom::mean(y, {0}), loom::zeros({3}, Dtype::Float64)) < 1e-12);
  CHECK(max_abs_diff(loom::mean(y * y, {0}), loom::ones({3}, Dtype::Float64)) < 1e-4);
  plain.eval();  // without running statistics, eval also uses the batch's
  CHECK(max_abs_diff(plain(x), y) < 1e-15);
}

TEST_CASE("conv2d and pooling in float32 agree with float64") {
  const Tensor x = loom::randn({2, 4, 9, 8}, Dtype::Float64);
  const Tensor w = loom::randn({6, 2, 3, 3}, Dtype::Float64);
  const Tensor b = loom::randn({6}, Dtype::Float64);
  const loom::Conv2dArgs args{2, 1, 1, 2};
  const Tensor y64 = loom::conv2d(x, w, b, args);
  const Tensor y32 = loom::conv2d(x.to(Dtype::Float32), w.to(Dtype::Float32),
                                  b.to(Dtype::Float32), args);
  CHECK(y32.dtype() == Dtype::Float32);
  CHECK(max_abs_diff(y32.to(Dtype::Float64), y64) < 1e-4);
  CHECK(max_abs_diff(loom::max_pool2d(x.to(Dtype::Float32), 3, 2, 1).to(Dtype::Float64),
                     loom::max_pool2d(x, 3, 2, 1)) < 1e-6);
  CHECK(max_abs_diff(loom::avg_pool2d(x.to(Dtype::Float32), 2).to(Dtype::Float64),
                     loom::avg_pool2d(x, 2)) < 1e-5);
}

// ---- errors -----------------------------------------------------------------------------------

TEST_CASE("conv2d and pooling errors are typed and name the op and shapes") {
  const Tensor w = loom::zeros({16, 3, 3, 3});
  CHECK(message_of<loom::ShapeError>([&] { loom::conv2d(loom::zeros({8, 4, 28, 28}), w); }) ==
        "conv2d: expected input with 3 channels (weight (16, 3, 3, 3)), got (8, 4, 28, 28)");
  CHECK(message_of<loom::ShapeError>([&] { loom::conv2d(loom::zeros({3, 28, 28}), w); }) ==
        "conv2d: expected a 4-D input (N, C, H, W), got (3, 28, 28)");
  CHECK(message_of<loom::ShapeError>([] { loom::max_pool2d(loom::zeros({1, 1, 2, 2}), 3); }) ==
        "max_pool2d: kernel (3, 3) (dilation (1, 1)) does not fit input (1, 1, 2, 2) with "
        "padding (0, 0): output size would be empty");
  CHECK(message_of<loom::ValueError>([] {
          loom::conv2d(loom::zeros({1, 4, 5, 5}), loom::zeros({6, 2, 3, 3}), Tensor(), {1, 0, 1, 4});
        }) == "conv2d: out_channels 6 (weight (6, 2, 3, 3)) must be divisible by groups 4");
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 4, 5, 5}), loom::zeros({6, 2, 3, 3}), Tensor(),
                               {1, 0, 1, 3}),
                  loom::ShapeError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), w, loom::zeros({15})), loom::ShapeError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), loom::zeros({16, 3, 3})), loom::ShapeError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), w, Tensor(), {0}), loom::ValueError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), w, Tensor(), {1, -1}), loom::ValueError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), w, Tensor(), {1, 0, 0}), loom::ValueError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), w, Tensor(), {1, 0, 1, 0}), loom::ValueError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 2, 2}), w), loom::ShapeError);
  CHECK_THROWS_AS(loom::conv2d(loom::zeros({1, 3, 5, 5}), w.to(Dtype::Float64)), loom::DtypeError);
  CHECK(message_of<loom::ValueError>([] { loom::max_pool2d(loom::zeros({1, 1, 4, 4}), 0); }) ==
        "max_pool2d: kernel size must be positive, got (0, 0)");
  CHECK_THROWS_AS(loom::max_pool2d(loom::zeros({1, 1, 4, 4}), 2, {0, 1}), loom::ValueError);
  CHECK_THROWS_AS(loom::avg_pool2d(loom::zeros({1, 1, 4, 4}), 2, 2, 2), loom::ValueError);
  CHECK_THROWS_AS(loom::avg_pool2d(loom::zeros({4, 4}), 2), loom::ShapeError);
  CHECK_THROWS_AS(loom::adaptive_avg_pool2d(loom::zeros({1, 1, 4, 4}), {0, 2}), loom::ValueError);
  CHECK_THROWS_AS(loom::adaptive_avg_pool2d(loom::zeros({1, 4, 4}), 2), loom::ShapeError);
}

TEST_CASE("layer errors: channels, groups, ranks, batch statistics") {
  CHECK_THROWS_AS(loom::Conv2d(loom::Conv2dOptions(3, 4, 3).groups(2)), loom::ValueError);
  CHECK_THROWS_AS(loom::Conv2d(loom::Conv2dOptions(3, 4, 0)), loom::ValueError);
  CHECK_THROWS_AS(loom::CNNEncoder(loom::CNNEncoderOptions(3, {})), loom::ValueError);
  loom::BatchNorm2d norm2d(loom::BatchNormOptions(16));
  CHECK(message_of<loom::ShapeError>([&] { norm2d(loom::zeros({8, 4, 28, 28})); }) ==
        "BatchNorm2d: expected input of shape (N, C, H, W) with 16 channels, got (8, 4, 28, 28)");
  CHECK_THROWS_AS(norm2d(loom::zeros({8, 16})), loom::ShapeError);
  loom::BatchNorm1d norm1d(loom::BatchNormOptions(4));
  CHECK_THROWS_AS(norm1d(loom::zeros({2, 4, 3, 3})), loom::ShapeError);
  CHECK(message_of<loom::ValueError>([&] { norm1d(loom::zeros({1, 4})); }) ==
        "BatchNorm1d: expected more than 1 value per channel when training, got input (1, 4)");
  norm1d.eval();
  CHECK(norm1d(loom::zeros({1, 4})).shape() == Shape{1, 4});
}
