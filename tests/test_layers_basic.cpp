// Linear, Embedding, Dropout, LayerNorm, Sequential and ModuleList: gradients against central
// differences, values against PyTorch, initialisation, typed errors.
#include <loom/layers.h>

#include <cmath>
#include <string>

#include "test_util.h"

using loom_test::message_of;
#include "torch_reference.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::check_gradients;
using loom_test::input;
using loom_test::max_abs_diff;

namespace {

using TensorMap = std::map<std::string, Tensor>;


// Converts `module` to float64 and loads the reference's "<prefix>.<name>" for each of its
// parameters.
void load_reference(loom::Module& module, const TensorMap& ref, const std::string& prefix) {
  module.to(Dtype::Float64);
  TensorMap state;
  for (const auto& entry : module.state_dict()) state[entry.first] = ref.at(prefix + "." + entry.first);
  module.load_state_dict(state);
}

// Runs `module` on the reference input, backpropagates loss = (output * gout).sum() and
// compares the output and every gradient (input and parameters) with PyTorch's at 1e-8.
void check_against_torch(loom::UnaryModule& module, const TensorMap& ref,
                         const std::string& prefix, bool integer_input = false) {
  load_reference(module, ref, prefix);
  Tensor x = ref.at(prefix + ".input");
  x = integer_input ? x.to(Dtype::Int64) : x.detach().requires_grad_();
  Tensor out = module(x);
  CHECK(max_abs_diff(out, ref.at(prefix + ".output")) < 1e-8);
  (out * ref.at(prefix + ".gout")).sum().backward();
  if (!integer_input) CHECK(max_abs_diff(x.grad(), ref.at(prefix + ".input.grad")) < 1e-8);
  for (const auto& [name, parameter] : module.named_parameters()) {
    INFO(prefix << "." << name);
    CHECK(max_abs_diff(parameter.grad(), ref.at(prefix + "." + name + ".grad")) < 1e-8);
  }
}

std::vector<std::string> names_of(const loom::Module& module) {
  std::vector<std::string> names;
  for (const auto& entry : module.named_parameters()) names.push_back(entry.first);
  return names;
}

double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

Tensor ids(const std::vector<std::int64_t>& values, const loom::Shape& shape) {
  return loom::from_vector(values, shape);
}

}  // namespace

// ---- Linear ------------------------------------------------------------------------------------

TEST_CASE("layers_basic: Linear parameters, PyTorch names and initialisation bound") {
  loom::Linear fc(loom::LinearOptions(64, 10));
  CHECK(names_of(fc) == std::vector<std::string>{"weight", "bias"});
  CHECK(fc.weight.shape() == loom::Shape{10, 64});
  CHECK(fc.bias.shape() == loom::Shape{10});
  const double bound = 1.0 / std::sqrt(64.0);  // kaiming_uniform(a = sqrt(5)) and the bias bound
  CHECK(max_abs(fc.weight) <= bound);
  CHECK(max_abs(fc.weight) > 0.9 * bound);
  CHECK(max_abs(fc.bias) <= bound);
  loom::Linear no_bias(loom::LinearOptions(3, 2).bias(false));
  CHECK(names_of(no_bias) == std::vector<std::string>{"weight"});
  CHECK_FALSE(no_bias.bias.defined());

  loom::Generator a(3), b(3);  // reset_parameters draws from the given generator
  loom::Linear other(64, 10);
  fc.reset_parameters(&a);
  other.reset_parameters(&b);
  CHECK(max_abs_diff(fc.weight, other.weight) == 0.0);
  CHECK(max_abs_diff(fc.bias, other.bias) == 0.0);
}

TEST_CASE("layers_basic: Linear gradcheck with and without bias, on 2-D and 3-D inputs") {
  for (bool bias : {true, false}) {
    loom::Linear fc(loom::LinearOptions(4, 3).bias(bias));
    fc.to(Dtype::Float64);
    std::vector<Tensor> inputs{input({5, 4}, 1)};
    for (auto& p : fc.parameters()) inputs.push_back(p);
    check_gradients([&](const std::vector<Tensor>& in) { return fc(in[0]); }, inputs);
    inputs[0] = input({2, 3, 4}, 2);
    check_gradients([&](const std::vector<Tensor>& in) { return fc(in[0]); }, inputs);
  }
}

TEST_CASE("layers_basic: Linear, Embedding and LayerNorm agree with PyTorch") {
  static const auto ref = loom_test::torch_reference("basic_layers.py");  // once, not per subcase
  if (ref.empty()) return;
  SUBCASE("Linear") {
    loom::Linear fc(5, 3);
    check_against_torch(fc, ref, "linear");
  }
  SUBCASE("Linear without bias") {
    loom::Linear fc(loom::LinearOptions(5, 3).bias(false));
    check_against_torch(fc, ref, "linear_nobias");
  }
  SUBCASE("Embedding with padding_idx") {
    loom::Embedding embed(loom::EmbeddingOptions(7, 4).padding_idx(2));
    check_against_torch(embed, ref, "embedding", true);
    CHECK(embed.weight.select(0, 2).to_vector<double>() == std::vector<double>(4, 0.0));
  }
  SUBCASE("Embedding with max_norm renormalises the looked-up rows in place") {
    loom::Embedding embed(loom::EmbeddingOptions(6, 3).max_norm(1.5));
    embed.to(Dtype::Float64);
    embed.load_state_dict({{"weight", ref.at("renorm.weight_before")}});
    Tensor out = embed(ref.at("renorm.input").to(Dtype::Int64));
    CHECK(max_abs_diff(out, ref.at("renorm.output")) < 1e-12);
    CHECK(max_abs_diff(embed.weight, ref.at("renorm.weight_after")) < 1e-12);
  }
  SUBCASE("LayerNorm over the last axis") {
    loom::LayerNorm norm(loom::LayerNormOptions({5}));
    check_against_torch(norm, ref, "layer_norm1");
  }
  SUBCASE("LayerNorm over the last two axes") {
    loom::LayerNorm norm(loom::LayerNormOptions({4, 5}));
    check_against_torch(norm, ref, "layer_norm2");
  }
}

// ---- Embedding ---------------------------------------------------------------------------------

TEST_CASE("layers_basic: Embedding lookup, initialisation and gradcheck") {
  loom::Embedding embed(10, 3);
  CHECK(names_of(embed) == std::vector<std::string>{"weight"});
  CHECK(embed.weight.shape() == loom::Shape{10, 3});
  Tensor out = embed(ids({1, 4, 1, 9, 0, 2}, {2, 3}));  // (2, 3) -> (2, 3, 3)
  CHECK(out.shape() == loom::Shape{2, 3, 3});
  CHECK(out.select(0, 1).select(0, 0).to_vector<double>() ==
        embed.weight.select(0, 9).to_vector<double>());

  embed.to(Dtype::Float64);
  check_gradients([&](const std::vector<Tensor>&) { return embed(ids({1, 4, 1, 9}, {2, 2})); },
                  {embed.weight});
}

TEST_CASE("layers_basic: Embedding padding_idx row starts at zero and gets a zero gradient") {
  loom::Embedding padded(loom::EmbeddingOptions(6, 4).padding_idx(-1));  // row 5
  CHECK(padded.options().padding_idx() == 5);
  CHECK(max_abs(padded.weight.select(0, 5)) == 0.0);
  CHECK(max_abs(padded.weight.select(0, 4)) > 0.0);

  // The same lookup without padding: every other row's gradient must be unchanged.
  padded.to(Dtype::Float64);
  loom::init::normal_(padded.weight);  // a nonzero padding row still gets no gradient
  loom::Embedding plain(6, 4);
  plain.to(Dtype::Float64);
  plain.weight.copy_(padded.weight);
  const Tensor indices = ids({5, 0, 5, 3, 0, 1}, {3, 2});
  const Tensor gout = input({3, 2, 4}, 7).detach();
  Tensor out = padded(indices);
  CHECK(max_abs_diff(out, plain(indices)) == 0.0);  // the forward is a plain lookup
  (out * gout).sum().backward();
  (plain(indices) * gout).sum().backward();
  const Tensor grad = padded.weight.grad(), expected = plain.weight.grad();
  CHECK(max_abs(grad.select(0, 5)) == 0.0);
  CHECK(max_abs(expected.select(0, 5)) > 0.0);
  for (std::int64_t row = 0; row < 5; ++row)
    CHECK(max_abs_diff(grad.select(0, row), expected.select(0, row)) == 0.0);
}

TEST_CASE("layers_basic: Embedding::from_pretrained copies, freezes and keeps the padding row") {
  const Tensor table = input({4, 2}, 5).detach();  // float64
  auto frozen = loom::Embedding::from_pretrained(table);
  CHECK(frozen->weight.dtype() == Dtype::Float64);
  CHECK(max_abs_diff(frozen->weight, table) == 0.0);
  CHECK_FALSE(frozen->weight.requires_grad());
  CHECK(frozen->weight.data<double>() != table.data<double>());  // a copy

  loom::manual_seed(9);  // and draws no random numbers
  const auto expected = loom::randn({3}).to_vector<float>();
  loom::manual_seed(9);
  loom::Embedding::from_pretrained(table);
  CHECK(loom::randn({3}).to_vector<float>() == expected);
  CHECK(max_abs_diff((*frozen)(ids({3}, {1})).squeeze(0), table.select(0, 3)) == 0.0);

  auto trainable = loom::Embedding::from_pretrained(table, false, 1);
  CHECK(trainable->weight.requires_grad());
  CHECK(max_abs_diff(trainable->weight.select(0, 1), table.select(0, 1)) == 0.0);
  (*trainable)(ids({1, 2}, {2})).sum().backward();
  CHECK(max_abs(trainable->weight.grad().select(0, 1)) == 0.0);
  CHECK(trainable->weight.grad().select(0, 2).to_vector<double>() == std::vector<double>{1, 1});
}

// ---- Dropout -----------------------------------------------------------------------------------

TEST_CASE("layers_basic: Dropout is random in training mode and the identity in eval mode") {
  loom::Generator generator(11);
  loom::Dropout drop(loom::DropoutOptions().p(0.25), &generator);
  const Tensor x = loom::ones({200, 100}, Dtype::Float64);
  Tensor y = drop(x);
  std::int64_t zeros = 0;
  for (double v : y.to_vector<double>()) {
    if (v == 0.0) ++zeros;
    else CHECK(v == doctest::Approx(1.0 / 0.75));  // inverted dropout keeps the mean
  }
  CHECK(zeros / 20000.0 == doctest::Approx(0.25).epsilon(0.05));
  CHECK(max_abs_diff(drop(x), y) > 0.0);  // a fresh mask per call
  drop.eval();
  CHECK(drop(x).impl() == x.impl());
  drop.train();
  CHECK(max_abs_diff(drop(x), x) > 0.0);

  loom::Dropout none(loom::DropoutOptions().p(0.0));
  CHECK(max_abs_diff(none(x), x) == 0.0);
  loom::Dropout all(loom::DropoutOptions().p(1.0));
  CHECK(max_abs(all(x)) == 0.0);
}

TEST_CASE("layers_basic: Dropout gradcheck in eval mode and in training with a fixed seed") {
  loom::Generator generator(5);
  loom::Dropout drop(loom::DropoutOptions().p(0.4), &generator);
  auto with_fixed_mask = [&](const std::vector<Tensor>& in) {
    generator.seed(42);  // the same mask on every evaluation
    return drop(in[0]);
  };
  check_gradients(with_fixed_mask, {input({6, 5}, 3)});
  drop.eval();
  check_gradients(with_fixed_mask, {input({6, 5}, 4)});
}

// ---- LayerNorm ---------------------------------------------------------------------------------

TEST_CASE("layers_basic: LayerNorm normalises the trailing axes; gradcheck over 1 and 2 axes") {
  loom::LayerNorm norm(loom::LayerNormOptions({4}));
  CHECK(names_of(norm) == std::vector<std::string>{"weight", "bias"});
  CHECK(norm.weight.to_vector<double>() == std::vector<double>(4, 1.0));
  CHECK(norm.bias.to_vector<double>() == std::vector<double>(4, 0.0));
  norm.to(Dtype::Float64);
  Tensor y = norm(input({3, 4}, 1, 3.0, 2.0));  // (3, 4)
  for (double m : loom::mean(y, {-1}).to_vector<double>()) CHECK(std::abs(m) < 1e-12);
  for (double v : loom::mean(y * y, {-1}).to_vector<double>())
    CHECK(v == doctest::Approx(1.0).epsilon(1e-4));  // eps makes it slightly less than 1
  loom::LayerNorm single(loom::LayerNormOptions({4}));  // float32 agrees with float64
  const Tensor x = input({3, 4}, 9).detach();
  CHECK(max_abs_diff(single(x.to(Dtype::Float32)), norm(x)) < 1e-5);

  for (const loom::Shape& shape : {loom::Shape{5}, loom::Shape{3, 5}}) {
    for (bool affine : {true, false}) {
      loom::LayerNorm layer(loom::LayerNormOptions(shape).elementwise_affine(affine).eps(1e-3));
      layer.to(Dtype::Float64);
      std::vector<Tensor> inputs{input({2, 3, 5}, 8)};
      for (auto& p : layer.parameters()) {
        loom::init::normal_(p);  // away from ones/zeros, so each term matters
        inputs.push_back(p);
      }
      check_gradients([&](const std::vector<Tensor>& in) { return layer(in[0]); }, inputs);
    }
  }
  loom::LayerNorm plain(loom::LayerNormOptions({2}).elementwise_affine(false));
  CHECK(plain.parameters().empty());
}

// ---- Sequential and ModuleList -----------------------------------------------------------------

TEST_CASE("layers_basic: Sequential chains modules, names children 0, 1, ... and gradchecks") {
  auto first = std::make_shared<loom::Linear>(3, 4);
  loom::Sequential net({first, std::make_shared<loom::Dropout>(),
                        std::make_shared<loom::LayerNorm>(loom::LayerNormOptions({4}))});
  net.push_back(std::make_shared<loom::Linear>(loom::LinearOptions(4, 2).bias(false)));
  CHECK(net.size() == 4);
  CHECK(net[0] == first);
  CHECK(names_of(net) ==
        std::vector<std::string>{"0.weight", "0.bias", "2.weight", "2.bias", "3.weight"});
  CHECK_THROWS_AS(net[4], loom::IndexError);

  net.to(Dtype::Float64);
  net.eval();  // dropout off
  std::vector<Tensor> inputs{input({5, 3}, 2)};
  for (auto& p : net.parameters()) inputs.push_back(p);
  check_gradients([&](const std::vector<Tensor>& in) { return net(in[0]); }, inputs);

  Tensor x = input({5, 3}, 3);
  Tensor by_hand = (*net[3])((*net[2])((*net[1])((*net[0])(x))));
  CHECK(max_abs_diff(net(x), by_hand) == 0.0);
  CHECK(loom::Sequential()(x).impl() == x.impl());  // empty: the identity
}

TEST_CASE("layers_basic: ModuleList holds any modules and iterates in order") {
  loom::ModuleList list;
  for (std::int64_t i = 1; i <= 3; ++i) list.push_back(std::make_shared<loom::Linear>(i, 2));
  list.push_back(std::make_shared<loom::Embedding>(5, 2));
  CHECK(list.size() == 4);
  CHECK(names_of(list) == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias",
                                                   "2.weight", "2.bias", "3.weight"});
  std::int64_t index = 0;
  for (const auto& module : list) CHECK(module == list[index++]);
  CHECK(index == 4);
  CHECK(std::dynamic_pointer_cast<loom::Linear>(list[2])->options().in_features() == 3);
  CHECK_THROWS_AS(list[4], loom::IndexError);
  CHECK_THROWS_AS(list.push_back(nullptr), loom::ValueError);
}

// ---- errors ------------------------------------------------------------------------------------

TEST_CASE("layers_basic: typed errors name the layer, what it expected and what it got") {
  loom::Linear fc(64, 10);
  CHECK(message_of<loom::ShapeError>([&] { fc(loom::zeros({2, 32})); }) ==
        "Linear: input.size(-1) must be equal to in_features. Expected 64, got 32");
  CHECK_THROWS_AS(fc(loom::scalar_tensor(1.0)), loom::ShapeError);
  CHECK(message_of<loom::ValueError>([] { loom::Linear(0, 3); }) ==
        "Linear: in_features and out_features must be positive, got 0 and 3");

  CHECK(message_of<loom::IndexError>([] { loom::Embedding(loom::EmbeddingOptions(10, 3).padding_idx(10)); }) ==
        "Embedding: padding_idx must be within num_embeddings. Expected a value in [-10, 10), got 10");
  loom::Embedding embed(loom::EmbeddingOptions(5, 2).max_norm(1.0));
  CHECK(message_of<loom::DtypeError>([&] { embed(loom::zeros({2})); }) ==
        "Embedding: expected int64 indices, got float32");
  CHECK(message_of<loom::IndexError>([&] { embed(ids({1, 5}, {2})); }) ==
        "Embedding: index 5 is out of range for 5 rows");
  CHECK(message_of<loom::ShapeError>([] { loom::Embedding::from_pretrained(loom::zeros({5})); }) ==
        "Embedding::from_pretrained: embeddings must be 2-dimensional (num_embeddings, "
        "embedding_dim), got (5,)");

  CHECK(message_of<loom::ValueError>([] { loom::Dropout(loom::DropoutOptions().p(1.5)); }) ==
        "Dropout: dropout probability has to be between 0 and 1, but got 1.5");

  loom::LayerNorm norm(loom::LayerNormOptions({4, 5}));
  CHECK(message_of<loom::ShapeError>([&] { norm(loom::zeros({2, 3, 5})); }) ==
        "layer_norm: expected input of shape (*, 4, 5), got (2, 3, 5)");
  CHECK_THROWS_AS(norm(loom::zeros({5})), loom::ShapeError);
  CHECK_THROWS_AS(loom::LayerNorm(loom::LayerNormOptions({})), loom::ValueError);
}
