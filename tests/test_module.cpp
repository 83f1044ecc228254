// Module: registration, dotted names, state dicts, modes, zero_grad, dtype conversion.
#include <memory>

#include "test_util.h"

using loom::Dtype;
using loom::Tensor;

namespace {
struct Affine : loom::Module {
  Tensor weight, bias, running;
  Affine(std::int64_t in, std::int64_t out) {
    weight = register_parameter("weight", loom::randn({in, out}));
    bias = register_parameter("bias", loom::zeros({out}));
    running = register_buffer("running_mean", loom::zeros({out}));
  }
  Tensor forward(const Tensor& x) const { return loom::matmul(x, weight) + bias; }
};

struct Net : loom::Module {
  std::shared_ptr<Affine> encoder, head;
  Net() {
    encoder = register_module("encoder", std::make_shared<Affine>(3, 4));
    head = register_module("head", std::make_shared<Affine>(4, 2));
  }
  Tensor forward(const Tensor& x) const { return head->forward(loom::tanh(encoder->forward(x))); }
};
}  // namespace

TEST_CASE("named_parameters walks children with dotted names") {
  Net net;
  std::vector<std::string> names;
  for (const auto& [name, p] : net.named_parameters()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"encoder.weight", "encoder.bias", "head.weight", "head.bias"});
  CHECK(net.parameters().size() == 4);
  CHECK(net.named_parameters(false).empty());
  CHECK(net.named_buffers().size() == 2);
  for (const auto& p : net.parameters()) CHECK(p.requires_grad());
  CHECK(net.state_dict().count("head.running_mean") == 1);
}

TEST_CASE("parameters are shared handles: backward fills them, zero_grad clears them") {
  Net net;
  net.forward(loom::randn({5, 3})).sum().backward();
  for (const auto& p : net.parameters()) CHECK(p.grad().defined());
  net.zero_grad();
  for (const auto& p : net.parameters()) CHECK_FALSE(p.grad().defined());
}

TEST_CASE("train and eval propagate to children") {
  Net net;
  CHECK(net.encoder->is_training());
  net.eval();
  CHECK_FALSE(net.is_training());
  CHECK_FALSE(net.head->is_training());
  net.train();
  CHECK(net.head->is_training());
}

TEST_CASE("load_state_dict copies values and is strict") {
  Net a, b;
  b.load_state_dict(a.state_dict());
  const Tensor x = loom::randn({2, 3});
  CHECK(loom_test::values(a.forward(x)) == loom_test::values(b.forward(x)));
  auto state = a.state_dict();
  state.erase("head.bias");
  state["extra"] = loom::zeros({1});
  state["encoder.weight"] = loom::zeros({9, 9});
  const Tensor before = b.encoder->bias.clone();
  try {
    b.load_state_dict(state);
    FAIL("expected a ValueError");
  } catch (const loom::ValueError& e) {
    const std::string message = e.what();
    CHECK(message.find("missing head.bias") != std::string::npos);
    CHECK(message.find("unexpected extra") != std::string::npos);
    CHECK(message.find("encoder.weight: expected float32 (3, 4), got float32 (9, 9)") != std::string::npos);
  }
  CHECK(loom_test::values(b.encoder->bias) == loom_test::values(before));  // nothing half-loaded
}

TEST_CASE("duplicate or dotted names are rejected") {
  struct Bad : loom::Module {
    void add(const std::string& name) { register_parameter(name, loom::zeros({1})); }
  } bad;
  bad.add("w");
  CHECK_THROWS_AS(bad.add("w"), loom::ValueError);
  CHECK_THROWS_AS(bad.add("a.b"), loom::ValueError);
}

TEST_CASE("to(float64) converts in place and keeps handles valid") {
  Net net;
  net.to(Dtype::Float64);
  CHECK(net.encoder->weight.dtype() == Dtype::Float64);
  CHECK(net.state_dict().at("encoder.weight").dtype() == Dtype::Float64);
  CHECK(net.forward(loom::randn({2, 3}, Dtype::Float64)).dtype() == Dtype::Float64);
}
