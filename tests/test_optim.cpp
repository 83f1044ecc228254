// Optimizers, clipping and schedulers against torch.optim, plus state round trips and errors.
#include <loom/optim/clip.h>
#include <loom/optim/optimizers.h>
#include <loom/optim/scheduler.h>

#include <cmath>
#include <memory>
#include <string>

#include "test_util.h"
#include "torch_reference.h"

using loom::Tensor;
namespace optim = loom::optim;

namespace {

const std::vector<std::string> kOptimizerConfigs = {
    "sgd lr=0.1",
    "sgd lr=0.1 momentum=0.9 dampening=0.1 weight_decay=0.01",
    "sgd lr=0.05 momentum=0.9 nesterov=true weight_decay=0.1",
    "adam lr=0.01",
    "adam lr=0.01 beta1=0.8 beta2=0.99 eps=1e-6 weight_decay=0.1 amsgrad=true",
    "adamw lr=0.01",
    "adamw lr=0.02 weight_decay=0.3 amsgrad=true",
    "rmsprop lr=0.01",
    "rmsprop lr=0.01 alpha=0.9 momentum=0.5 centered=true weight_decay=0.05",
    "adagrad lr=0.1",
    "adagrad lr=0.1 lr_decay=0.01 weight_decay=0.1 initial_accumulator_value=0.5",
};

double value_of(const std::string& config, const std::string& key, double fallback) {
  const auto at = config.find(" " + key + "=");
  if (at == std::string::npos) return fallback;
  const std::string rest = config.substr(at + key.size() + 2);
  if (rest.rfind("true", 0) == 0) return 1.0;
  if (rest.rfind("false", 0) == 0) return 0.0;
  return std::stod(rest);
}

// The optimizer a config line names, over two groups as optim.py builds them.
std::unique_ptr<optim::Optimizer> make_optimizer(const std::string& config, const Tensor& a, const Tensor& b) {
  const std::string name = config.substr(0, config.find(' '));
  const double lr = value_of(config, "lr", 0.0);
  const double default_wd = name == "adamw" ? 0.01 : 0.0;
  std::vector<optim::ParamGroup> groups = {{{{"a", a}}, lr, value_of(config, "weight_decay", default_wd)},
                                           {{{"b", b}}, lr / 2, 0.0}};
  if (name == "sgd")
    return std::make_unique<optim::SGD>(groups, optim::SGDOptions(lr)
                                                    .momentum(value_of(config, "momentum", 0))
                                                    .dampening(value_of(config, "dampening", 0))
                                                    .nesterov(value_of(config, "nesterov", 0) != 0));
  if (name == "adam" || name == "adamw") {
    auto options = optim::AdamOptions(lr)
                       .beta1(value_of(config, "beta1", 0.9))
                       .beta2(value_of(config, "beta2", 0.999))
                       .eps(value_of(config, "eps", 1e-8))
                       .amsgrad(value_of(config, "amsgrad", 0) != 0);
    if (name == "adam") return std::make_unique<optim::Adam>(groups, options);
    return std::make_unique<optim::AdamW>(groups, options);
  }
  if (name == "rmsprop")
    return std::make_unique<optim::RMSprop>(groups, optim::RMSpropOptions(lr)
                                                        .alpha(value_of(config, "alpha", 0.99))
                                                        .momentum(value_of(config, "momentum", 0))
                                                        .centered(value_of(config, "centered", 0) != 0));
  return std::make_unique<optim::Adagrad>(groups, optim::AdagradOptions(lr)
                                                      .lr_decay(value_of(config, "lr_decay", 0))
                                                      .initial_accumulator_value(value_of(config, "initial_accumulator_value", 0)));
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ";") + item;
  return out;
}

}  // namespace

TEST_CASE("every optimizer matches torch.optim for 20 steps with two parameter groups (float64, 1e-10)") {
  auto ref = loom_test::torch_reference("optim.py", "--steps 20 --optimizers '" + joined(kOptimizerConfigs) + "'");
  if (ref.empty()) return;
  for (std::size_t k = 0; k < kOptimizerConfigs.size(); ++k) {
    const std::string prefix = std::to_string(k) + ".";
    CAPTURE(kOptimizerConfigs[k]);
    Tensor a = ref.at(prefix + "a").clone().requires_grad_();
    Tensor b = ref.at(prefix + "b").clone().requires_grad_();
    auto optimizer = make_optimizer(kOptimizerConfigs[k], a, b);
    for (int step = 0; step < 20; ++step) {
      a.set_grad(ref.at(prefix + "g" + std::to_string(step) + ".a"));
      b.set_grad(ref.at(prefix + "g" + std::to_string(step) + ".b"));
      optimizer->step();
    }
    CHECK(loom_test::max_abs_diff(a, ref.at(prefix + "final.a")) < 1e-10);
    CHECK(loom_test::max_abs_diff(b, ref.at(prefix + "final.b")) < 1e-10);
  }
}

TEST_CASE("schedulers match torch.optim.lr_scheduler") {
  const std::vector<std::string> configs = {"step step_size=7 gamma=0.5", "exponential gamma=0.9",
                                            "cosine t_max=10 eta_min=0.001", "linear start_factor=0.25 end_factor=1.0 total_iters=8",
                                            "plateau patience=2 factor=0.5 cooldown=1"};
  auto ref = loom_test::torch_reference("optim.py", "--epochs 30 --schedulers '" + joined(configs) + "'");
  if (ref.empty()) return;
  for (std::size_t k = 0; k < configs.size(); ++k) {
    CAPTURE(configs[k]);
    Tensor p = loom::zeros({1}).requires_grad_();
    optim::SGD sgd({{"p", p}}, optim::SGDOptions(0.1));
    std::unique_ptr<optim::LRScheduler> schedule;
    std::unique_ptr<optim::ReduceLROnPlateau> plateau;
    switch (k) {
      case 0: schedule = std::make_unique<optim::StepLR>(sgd, 7, 0.5); break;
      case 1: schedule = std::make_unique<optim::ExponentialLR>(sgd, 0.9); break;
      case 2: schedule = std::make_unique<optim::CosineAnnealingLR>(sgd, 10, 0.001); break;
      case 3: schedule = std::make_unique<optim::LinearLR>(sgd, 0.25, 1.0, 8); break;
      default: plateau = std::make_unique<optim::ReduceLROnPlateau>(sgd, optim::PlateauOptions().patience(2).factor(0.5).cooldown(1));
    }
    const auto expected = ref.at(std::to_string(k) + ".lr").to_vector<double>();
    const auto metrics = plateau ? ref.at(std::to_string(k) + ".metric").to_vector<double>() : std::vector<double>();
    for (std::size_t epoch = 0; epoch < expected.size(); ++epoch) {
      if (plateau) plateau->step(metrics[epoch]);
      else schedule->step();
      CAPTURE(epoch);
      CHECK(sgd.param_groups()[0].lr == doctest::Approx(expected[epoch]).epsilon(1e-9));
    }
  }
}

TEST_CASE("clip_grad_norm scales to the global norm and returns the norm before clipping") {
  Tensor a = loom::zeros({2}, loom::Dtype::Float64).requires_grad_();
  Tensor b = loom::zeros({1}, loom::Dtype::Float64).requires_grad_();
  Tensor unused = loom::zeros({3}, loom::Dtype::Float64).requires_grad_();
  a.set_grad(loom::from_vector(std::vector<double>{3, 0}));
  b.set_grad(loom::from_vector(std::vector<double>{4}));
  CHECK(optim::clip_grad_norm({a, b, unused}, 1.0) == doctest::Approx(5.0));
  CHECK(a.grad().data<double>()[0] == doctest::Approx(0.6).epsilon(1e-6));
  CHECK(b.grad().data<double>()[0] == doctest::Approx(0.8).epsilon(1e-6));
  CHECK(optim::clip_grad_norm({a, b}, 10.0) == doctest::Approx(1.0).epsilon(1e-5));  // below: unchanged
  CHECK(a.grad().data<double>()[0] == doctest::Approx(0.6).epsilon(1e-6));
  optim::clip_grad_value({a, b}, 0.7);
  CHECK(b.grad().data<double>()[0] == doctest::Approx(0.7));
  CHECK_THROWS_AS(optim::clip_grad_norm({a}, 0.0), loom::ValueError);
}

TEST_CASE("optimizer state round-trips, and a restored optimizer continues identically") {
  auto run = [](optim::Optimizer& optimizer, Tensor& w, int steps, std::uint64_t seed) {
    loom::Generator generator(seed);
    for (int i = 0; i < steps; ++i) {
      w.set_grad(loom::randn(w.shape(), loom::Dtype::Float64, &generator));
      optimizer.step();
    }
  };
  Tensor w1 = loom::ones({4}, loom::Dtype::Float64).requires_grad_();
  optim::Adam first({{"w", w1}}, optim::AdamOptions(0.1).amsgrad(true));
  run(first, w1, 5, 1);
  const auto saved_state = first.state_dict();
  CHECK(saved_state.count("w.exp_avg") == 1);
  CHECK(saved_state.at("w.step").item() == 5);
  Tensor w2 = w1.detach().clone().requires_grad_();
  optim::Adam second({{"w", w2}}, optim::AdamOptions(0.1).amsgrad(true));
  second.load_state_dict(saved_state);
  run(first, w1, 5, 2);
  run(second, w2, 5, 2);
  CHECK(loom_test::values(w1) == loom_test::values(w2));
  CHECK_THROWS_AS(second.load_state_dict({{"v.exp_avg", loom::zeros({4})}}), loom::ValueError);
  CHECK_THROWS_AS(second.load_state_dict({{"w.exp_avg", loom::zeros({5}, loom::Dtype::Float64)}}), loom::ValueError);
}

TEST_CASE("optimizers reject bad settings, and training with one lowers the loss") {
  Tensor w = loom::zeros({2}).requires_grad_();
  CHECK_THROWS_AS(optim::SGD({{"w", w}}, optim::SGDOptions(-1.0)), loom::ValueError);
  CHECK_THROWS_AS(optim::SGD({{"w", w}}, optim::SGDOptions(0.1).nesterov(true)), loom::ValueError);
  CHECK_THROWS_AS(optim::Adam({{"w", w}}, optim::AdamOptions(0.1).beta1(1.0)), loom::ValueError);
  CHECK_THROWS_AS(optim::Adam({{"w", w}, {"w", w}}, optim::AdamOptions(0.1)), loom::ValueError);
  CHECK_THROWS_AS(optim::StepLR(*std::make_unique<optim::SGD>(loom::NamedTensors{{"w", w}}, optim::SGDOptions(0.1)), 0), loom::ValueError);

  loom::manual_seed(0);
  Tensor x = loom::randn({64, 3});
  Tensor y = loom::matmul(x, loom::from_vector(std::vector<float>{1, -2, 3}, {3, 1}));
  Tensor weight = loom::zeros({3, 1}).requires_grad_();
  optim::Adam adam({{"weight", weight}}, optim::AdamOptions(0.1));
  double first_loss = 0, last_loss = 0;
  for (int step = 0; step < 200; ++step) {
    adam.zero_grad();
    Tensor loss = loom::mse_loss(loom::matmul(x, weight), y);
    loss.backward();
    adam.step();
    (step == 0 ? first_loss : last_loss) = loss.item();
  }
  CHECK(last_loss < first_loss * 1e-3);
}
