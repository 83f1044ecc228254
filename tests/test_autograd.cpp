// The autograd engine: accumulation, detach, no-grad, explicit gradients, freeing the graph,
// nodes of several outputs.
#include <loom/optim/optimizers.h>

#include <cmath>
#include <memory>

#include "test_util.h"
#include "torch_reference.h"

using loom::Dtype;
using loom::Tensor;
using loom_test::values;

TEST_CASE("gradients accumulate when a value is used twice") {
  Tensor x = loom::from_vector(std::vector<double>{1, 2, 3}).requires_grad_();
  Tensor y = (x * x + x * 3.0).sum();  // dy/dx = 2x + 3
  y.backward();
  CHECK(values(x.grad()) == std::vector<double>{5, 7, 9});
  // A second graph adds into the same .grad until it is zeroed.
  (x * 2.0).sum().backward();
  CHECK(values(x.grad()) == std::vector<double>{7, 9, 11});
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a pass-through gradient is not shared between two inputs") {
  Tensor a = loom::ones({2}, Dtype::Float64).requires_grad_();
  Tensor b = loom::ones({2}, Dtype::Float64).requires_grad_();
  (a + b).sum().backward();
  a.grad().data<double>()[0] = 100;  // e.g. gradient clipping in place
  CHECK(b.grad().data<double>()[0] == 1);
}

TEST_CASE("detach and no-grad stop the graph") {
  Tensor x = loom::ones({2}).requires_grad_();
  Tensor d = (x * 2.0).detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  {
    loom::NoGradGuard no_grad;
    CHECK_FALSE(loom::is_grad_enabled());
    Tensor y = x * 3.0;
    CHECK_FALSE(y.requires_grad());
  }
  CHECK(loom::is_grad_enabled());
  Tensor z = x * 3.0;
  CHECK(z.requires_grad());
  CHECK_FALSE(z.is_leaf());
}

TEST_CASE("non-scalar outputs need an explicit gradient") {
  Tensor x = loom::from_vector(std::vector<double>{1, 2}).requires_grad_();
  Tensor y = x * x;
  CHECK_THROWS_AS(y.backward(), loom::AutogradError);
  y.backward(loom::from_vector(std::vector<double>{1, 10}));
  CHECK(values(x.grad()) == std::vector<double>{2, 40});
  CHECK_THROWS_AS(loom::ones({2}).backward(), loom::AutogradError);  // no graph at all
}

TEST_CASE("the graph is freed after backward") {
  Tensor x = loom::ones({3}).requires_grad_();
  Tensor hidden = loom::tanh(x * 2.0);
  std::weak_ptr<loom::TensorImpl> saved = hidden.impl_ptr();
  Tensor loss = loom::sum(hidden * hidden);
  hidden = Tensor();  // only the graph holds it now
  CHECK_FALSE(saved.expired());
  loss.backward();
  CHECK(saved.expired());  // the saved activation went with the graph
  CHECK_THROWS_AS(loss.backward(), loom::AutogradError);
}

TEST_CASE("retain_grad keeps an intermediate gradient") {
  Tensor x = loom::from_vector(std::vector<double>{1, 2}).requires_grad_();
  Tensor h = x * 3.0;
  h.retain_grad();
  Tensor other = x * 4.0;
  (h * h + other).sum().backward();
  CHECK(values(h.grad()) == std::vector<double>{6, 12});
  CHECK_FALSE(other.grad().defined());
}

TEST_CASE("long chains do not overflow the stack") {
  Tensor x = loom::ones({4}).requires_grad_();
  Tensor h = x;
  for (int i = 0; i < 20000; ++i) h = h * 1.0;
  h.sum().backward();
  CHECK(values(x.grad()) == std::vector<double>(4, 1.0));
}

TEST_CASE("backward through several roots at once") {
  Tensor x = loom::from_vector(std::vector<double>{2}).requires_grad_();
  loom::backward({x * 3.0, x * x});
  CHECK(x.grad().item() == 7.0);
}

TEST_CASE("integer tensors cannot require grad") {
  Tensor ids = loom::from_vector(std::vector<std::int64_t>{1});
  CHECK_THROWS_AS(ids.requires_grad_(), loom::DtypeError);
}

namespace {
// A small training run: the same seed must give the same parameters bit for bit.
std::vector<double> train_once(std::uint64_t seed) {
  loom::manual_seed(seed);
  Tensor w = (loom::randn({4, 8}) * 0.5).detach().requires_grad_();
  Tensor v = (loom::randn({8, 1}) * 0.5).detach().requires_grad_();
  Tensor x = loom::randn({32, 4});
  Tensor y = loom::sum(x, {1}, true);
  for (int step = 0; step < 20; ++step) {
    Tensor prediction = loom::matmul(loom::dropout(loom::tanh(loom::matmul(x, w)), 0.1, true), v);
    loom::mse_loss(prediction, y).backward();
    loom::NoGradGuard no_grad;
    w.copy_(w - w.grad() * 0.1);
    v.copy_(v - v.grad() * 0.1);
    w.zero_grad();
    v.zero_grad();
  }
  auto out = values(w);
  auto tail = values(v);
  out.insert(out.end(), tail.begin(), tail.end());
  return out;
}
}  // namespace

TEST_CASE("one seed makes a run repeat bit for bit") {
  CHECK(train_once(5) == train_once(5));
  CHECK(train_once(5) != train_once(6));
}

TEST_CASE("gradcheck catches a wrong gradient") {
  // x * detach(x) has the analytic gradient x but the true derivative 2x.
  Tensor x = loom_test::input({3}, 1);
  const auto result = loom::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0].detach(); }, {x});
  CHECK_FALSE(result.passed);
  CHECK(result.max_relative_error > 0.1);
  CHECK(loom::gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x}).passed);
}

TEST_CASE("record_op makes a custom op differentiable") {
  auto square = [](const Tensor& x) {
    Tensor out = x.detach() * x.detach();
    loom::record_op(out, "square", {x}, [x](const Tensor& g) { return std::vector<Tensor>{g * x * 2.0}; });
    return out;
  };
  loom_test::check_gradients([&](const std::vector<Tensor>& in) { return square(in[0]); },
                             {loom_test::input({3}, 2)});
  CHECK_FALSE(square(loom::ones({2})).requires_grad());  // no input needs a gradient: no graph
}

TEST_CASE("post-accumulate-grad hooks see each leaf's final gradient, in backward order") {
  Tensor w1 = loom::from_vector(std::vector<double>{1, 2}).requires_grad_();
  Tensor w2 = loom::from_vector(std::vector<double>{3, 4}).requires_grad_();
  Tensor unused = loom::ones({2}, Dtype::Float64).requires_grad_();
  std::vector<std::pair<std::string, std::vector<double>>> seen;  // (leaf, its gradient when the hook ran)
  loom::set_post_accumulate_grad_hook(w1, [&](const Tensor& t) { seen.emplace_back("w1", values(t.grad())); });
  loom::set_post_accumulate_grad_hook(w2, [&](const Tensor& t) { seen.emplace_back("w2", values(t.grad())); });
  loom::set_post_accumulate_grad_hook(unused, [&](const Tensor&) { seen.emplace_back("unused", std::vector<double>{}); });
  // w1 feeds the graph twice, at its start and its end: its hook must wait for both uses.
  Tensor h = loom::tanh(w1 * 0.5);
  Tensor y = ((h * w2).sum() + (w1 * w1).sum());
  y.backward();
  REQUIRE(seen.size() == 2);
  CHECK(seen[0].first == "w2");  // the leaf nearest the loss is final first
  CHECK(seen[1].first == "w1");
  CHECK(seen[1].second == values(w1.grad()));
  CHECK(seen[0].second == values(w2.grad()));

  loom::set_post_accumulate_grad_hook(w1, {});  // removed
  seen.clear();
  (w1 * w2).sum().backward();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].first == "w2");

  CHECK_THROWS_AS(loom::set_post_accumulate_grad_hook(h, [](const Tensor&) {}), loom::AutogradError);
  CHECK_THROWS_AS(loom::set_post_accumulate_grad_hook(loom::ones({2}), [](const Tensor&) {}), loom::AutogradError);
}

namespace {
// y = tanh(x @ w) * x[:, :1] and loss = sum(y * y) + mean(y): the function of torch_ref/autograd.py.
struct SmallGraph {
  Tensor x = loom::from_vector(std::vector<double>{0.5, -1.0, 2.0, 1.5, 0.25, -0.75}, {2, 3})
                 .requires_grad_();  // (2, 3)
  Tensor w = loom::from_vector(std::vector<double>{0.1, -0.2, 0.3, 0.4, -0.5, 0.6}, {3, 2})
                 .requires_grad_();  // (3, 2)
  Tensor y = loom::tanh(loom::matmul(x, w)) * x.slice(1, 0, 1);  // (2, 2)
  Tensor loss = loom::sum(y * y) + loom::mean(y);
};
}  // namespace

TEST_CASE("grad returns gradients without touching .grad, as torch.autograd.grad") {
  SmallGraph graph;
  const auto gradients = loom::grad({graph.loss}, {graph.x, graph.w}, {}, /*retain_graph=*/true);
  REQUIRE(gradients.size() == 2);
  CHECK_FALSE(graph.x.grad().defined());
  CHECK_FALSE(graph.w.grad().defined());
  // a second pass through the retained graph, from y weighted by v
  Tensor v = loom::from_vector(std::vector<double>{1.0, -2.0, 0.5, 3.0}, {2, 2});
  const Tensor dy_x = loom::grad({graph.y}, {graph.x}, {v})[0];
  CHECK(dy_x.shape() == loom::Shape{2, 3});
  // ... which freed it
  CHECK_THROWS_AS(loom::grad({graph.y}, {graph.x}, {v}), loom::AutogradError);

  const auto ref = loom_test::torch_reference("autograd.py");
  if (ref.empty()) return;
  CHECK(loom_test::max_abs_diff(gradients[0], ref.at("dx")) < 1e-12);
  CHECK(loom_test::max_abs_diff(gradients[1], ref.at("dw")) < 1e-12);
  CHECK(loom_test::max_abs_diff(dy_x, ref.at("dy_x")) < 1e-12);
}

TEST_CASE("grad agrees with backward, gives nothing for an unused input, and checks its inputs") {
  SmallGraph graph;
  const Tensor unused = loom::ones({2}, Dtype::Float64).requires_grad_();
  const auto gradients = loom::grad({graph.loss}, {graph.w, unused, graph.y}, {}, true);
  CHECK_FALSE(gradients[1].defined());
  CHECK(gradients[2].shape() == loom::Shape{2, 2});  // of an intermediate tensor too
  graph.loss.backward();
  CHECK(values(gradients[0]) == values(graph.w.grad()));
  CHECK_FALSE(graph.y.grad().defined());  // grad() did not retain it

  const Tensor constant = loom::ones({2}, Dtype::Float64);
  CHECK(loom_test::message_of<loom::AutogradError>([&] { loom::grad({graph.loss}, {constant}); })
            .find("grad: input 0 does not require grad") != std::string::npos);
  CHECK_THROWS_AS(loom::grad({graph.y}, {graph.x}), loom::AutogradError);  // non-scalar, no weights
}

TEST_CASE("retain_graph lets backward run twice through one graph, accumulating") {
  Tensor x = loom::from_vector(std::vector<double>{1, -2}).requires_grad_();
  Tensor h = loom::tanh(x) * x;
  h.retain_grad();
  Tensor loss = loom::sum(h * h);
  loss.backward(Tensor(), /*retain_graph=*/true);
  const std::vector<double> once = values(x.grad());
  const std::vector<double> h_once = values(h.grad());
  loss.backward();
  for (std::size_t i = 0; i < once.size(); ++i) {
    CHECK(x.grad().to_vector<double>()[i] == doctest::Approx(2 * once[i]).epsilon(1e-14));
    CHECK(h.grad().to_vector<double>()[i] == doctest::Approx(2 * h_once[i]).epsilon(1e-14));
  }
  CHECK_THROWS_AS(loss.backward(), loom::AutogradError);  // the second pass freed it
}

TEST_CASE("an in-place change to a tensor saved for backward is an error, not a wrong gradient") {
  Tensor w = loom::from_vector(std::vector<double>{1, 2, 3}).requires_grad_();
  Tensor x = loom::from_vector(std::vector<double>{4, 5, 6});
  Tensor product = loom::sum(w * x);  // mul saves x for dL/dw
  x.fill_(0.0);
  const std::string message = loom_test::message_of<loom::AutogradError>([&] { product.backward(); });
  CHECK(message.find("backward: a tensor that mul saved for its backward was changed in place") == 0);

  // a write through a view of the saved output (exp saves its output)
  Tensor e = loom::exp(w);
  Tensor loss = loom::sum(e);
  e.narrow(0, 1, 1).copy_(loom::zeros({1}, Dtype::Float64));
  CHECK_THROWS_AS(loss.backward(), loom::AutogradError);

  // an optimiser step between forward and backward changes the weight that linear saved
  Tensor input = loom::ones({2, 3}, Dtype::Float64).requires_grad_();
  Tensor weight = loom::ones({4, 3}, Dtype::Float64).requires_grad_();
  weight.set_grad(loom::ones({4, 3}, Dtype::Float64));
  loom::optim::SGD sgd({{"weight", weight}}, loom::optim::SGDOptions(0.1));
  Tensor out = loom::sum(loom::linear(input, weight));
  sgd.step();
  CHECK(loom_test::message_of<loom::AutogradError>([&] { out.backward(); }).find("linear saved") != std::string::npos);
}

TEST_CASE("in-place changes that backward does not read are allowed") {
  Tensor w = loom::from_vector(std::vector<double>{1, 2}).requires_grad_();
  Tensor x = loom::from_vector(std::vector<double>{3, 4});
  Tensor total = loom::sum(w + x);  // add saves nothing
  x.fill_(-1.0);
  total.backward();
  CHECK(values(w.grad()) == std::vector<double>{1, 1});
  // and a change made before the op ran is simply its input
  Tensor y = loom::from_vector(std::vector<double>{3, 4});
  y.fill_(2.0);
  Tensor scaled = loom::sum(w * y);
  scaled.backward();
  CHECK(values(w.grad()) == std::vector<double>{3, 3});
}

namespace {
// The multi-output example of autograd.h, counting its backward's runs and noting which outputs
// had a gradient in the last one.
struct SinCos {
  int runs = 0;
  std::vector<bool> had_gradient;
  std::vector<Tensor> operator()(const Tensor& x) {
    std::vector<Tensor> outputs{loom::sin(x.detach()), loom::cos(x.detach())};
    loom::record_op(outputs, "sin_cos", {x}, [this, x](const std::vector<Tensor>& g) {
      ++runs;
      had_gradient = {g[0].defined(), g[1].defined()};
      Tensor dx = g[0].defined() ? g[0] * loom::cos(x) : loom::zeros_like(x);
      if (g[1].defined()) dx = dx - g[1] * loom::sin(x);
      return std::vector<Tensor>{dx};
    }, /*saved=*/{x});
    return outputs;
  }
};

// The identity, whose backward passes no gradient on.
Tensor stop(const Tensor& x) {
  Tensor out = x.detach().clone();
  loom::record_op(out, "stop", {x}, [](const Tensor&) { return std::vector<Tensor>{Tensor()}; });
  return out;
}
}  // namespace

TEST_CASE("a node of several outputs runs once, after all of them, with none for the unused") {
  const std::vector<double> at{0.5, -1.0};
  SinCos sin_cos;
  loom_test::check_gradients([&](const std::vector<Tensor>& in) {
    const auto sc = sin_cos(in[0]);
    return sc[0] * sc[1] + loom::tanh(loom::tanh(sc[0])) * in[1];  // sin used early and late
  }, {loom_test::input({3}, 4), loom_test::input({3}, 5)});

  // both outputs used, sin through a long chain: one run, after both gradients arrived
  Tensor x = loom::from_vector(at).requires_grad_();
  auto sc = sin_cos(x);
  Tensor chain = sc[0];
  for (int i = 0; i < 20; ++i) chain = chain * 1.0;
  sin_cos.runs = 0;
  loom::sum(chain * sc[1]).backward();
  CHECK(sin_cos.runs == 1);
  CHECK(sin_cos.had_gradient == std::vector<bool>{true, true});
  for (std::size_t i = 0; i < at.size(); ++i)
    CHECK(values(x.grad())[i] == doctest::Approx(std::cos(2 * at[i])).epsilon(1e-14));  // d(sin cos)

  // only cos used: sin's gradient is undefined, not zeros
  x.zero_grad();
  sin_cos.runs = 0;
  loom::sum(sin_cos(x)[1]).backward();
  CHECK(sin_cos.runs == 1);
  CHECK(sin_cos.had_gradient == std::vector<bool>{false, true});
  CHECK(values(x.grad())[0] == doctest::Approx(-std::sin(at[0])).epsilon(1e-14));

  // sin reached but given no gradient by its user: the same
  x.zero_grad();
  sc = sin_cos(x);
  loom::sum(stop(sc[0]) + sc[1]).backward();
  CHECK(sin_cos.had_gradient == std::vector<bool>{false, true});
  // no gradient for any output: the backward does not run at all
  x.zero_grad();
  sin_cos.runs = 0;
  loom::sum(stop(sin_cos(x)[0])).backward();
  CHECK(sin_cos.runs == 0);
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("a node of several outputs: retain_graph, grad, version checks and misuse") {
  SinCos sin_cos;
  Tensor x = loom::from_vector(std::vector<double>{0.5, -1.0}).requires_grad_();
  auto sc = sin_cos(x);
  Tensor loss = loom::sum(sc[0] + sc[1]);
  loss.backward(Tensor(), /*retain_graph=*/true);
  const std::vector<double> once = values(x.grad());
  loss.backward();
  CHECK(sin_cos.runs == 2);
  CHECK(values(x.grad()) == std::vector<double>{2 * once[0], 2 * once[1]});
  CHECK(loom_test::message_of<loom::AutogradError>([&] { loss.backward(); }).find("already freed") !=
        std::string::npos);

  // grad with respect to an output of the node and to its input
  sc = sin_cos(x);
  const auto grads = loom::grad({loom::sum(sc[0] * 3.0 + sc[1])}, {sc[0], x});
  CHECK(values(grads[0]) == std::vector<double>{3, 3});
  CHECK(values(grads[1])[1] == doctest::Approx(3 * std::cos(-1.0) - std::sin(-1.0)).epsilon(1e-14));

  // the node saved x: changing it in place before backward is an error naming the node
  sc = sin_cos(x);
  loss = loom::sum(sc[1]);
  x.detach().fill_(2.0);
  CHECK(loom_test::message_of<loom::AutogradError>([&] { loss.backward(); }).find("sin_cos saved") !=
        std::string::npos);

  // an undefined output is allowed and gets no gradient; a tensor that already has a node is not
  std::vector<Tensor> outputs{x.detach() * 2.0, Tensor()};
  std::vector<bool> had_gradient;
  loom::record_op(outputs, "double", {x}, [&](const std::vector<Tensor>& g) {
    had_gradient = {g[0].defined(), g[1].defined()};
    return std::vector<Tensor>{g[0] * 2.0};
  });
  loom::sum(outputs[0]).backward();
  CHECK(had_gradient == std::vector<bool>{true, false});
  std::vector<Tensor> reused{sin_cos(x)[0]};
  CHECK(loom_test::message_of<loom::AutogradError>([&] {
          loom::record_op(reused, "again", {x}, [](const std::vector<Tensor>& g) { return g; });
        }) == "record_op: output 0 of again already belongs to sin_cos; pass a fresh tensor for each output");
}
